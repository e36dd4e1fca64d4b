// Checkpoints of a training run, in a directory the orchestrator owns:
//
//   DIR/LATEST                       the name of the newest complete checkpoint ("step-00000120")
//   DIR/step-00000120/model.safetensors      fp32 weights by parameter name, then the model's
//                                            buffers (BatchNorm statistics), same names as the
//                                            model's own; metadata: job, model, step
//   DIR/step-00000120/optimizer.safetensors  "<state>.<parameter>" (exp_avg, exp_avg_sq or
//                                            momentum) and "rng.cpu" (the CPU generator)
//   DIR/step-00000120/trainer.json           {"step", "optimizer_steps", "job", "model",
//                                             "world_size", "grad_accum"}
//
// A checkpoint is written into a temporary directory, synced, renamed into place, and only then
// named by LATEST (written atomically), so a crash at any moment leaves the previous checkpoint
// usable. The two newest are kept. The data position is step x batch (saturn/dataset.h), so the
// step is all the data needs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/model.h"
#include "saturn/error.h"
#include "saturn/safetensors.h"
#include "train/parameters.h"

namespace saturn::worker {

// Removes `dir` and everything under it, or the file `dir` (a checkpoint, a retired one, the
// probe's; missing is fine). POSIX calls, not std::filesystem::remove_all: its directory
// iteration crashed (SIGSEGV) in the worker built against PyTorch 2.11 on the GPU machine, which
// is what killed `measure`'s checkpoint probe.
void remove_directory_tree(const std::string& dir);

struct CheckpointState {
  std::int64_t step = 0;  // optimizer steps done
  std::int64_t optimizer_steps = 0;
  std::string job;
  std::string model;
  int world_size = 1;
  int grad_accum = 1;
};

// A checkpoint written one file at a time, so that a writer that assembles the model from parts
// (an FSDP or GPipe rank 0) holds one file's tensors at a time, not all of them: begin() makes
// the temporary directory, write_weights() and write_optimizer() its two files, commit()
// trainer.json, the move into place and LATEST (the guarantees above), then keeps the two
// newest checkpoints. Tensors are in the full flat layout of `layout`, fp32, on any device,
// each given as FlatPieces.
//
// FlatPieces: consecutive 1-D pieces that together make up the full flat layout, each starting
// at a parameter's first element: one piece for most techniques; offloading with blocks kept on
// the device gives its host part and its device part, so that neither is copied into a whole.
using FlatPieces = std::vector<torch::Tensor>;

class CheckpointWriter {
 public:
  static Result<CheckpointWriter> begin(const std::string& dir, const CheckpointState& state);
  // model.safetensors: `master` by parameter name, then `model`'s buffers.
  Status write_weights(Model& model, const FlatParameters& layout, const FlatPieces& master);
  // optimizer.safetensors: each state as "<name>.<parameter>", then the CPU generator's state.
  Status write_optimizer(const FlatParameters& layout,
                         const std::vector<std::pair<std::string, FlatPieces>>& states);
  // Returns the checkpoint's directory.
  Result<std::string> commit();

 private:
  CheckpointWriter(std::string dir, std::string name, std::string tmp_dir, CheckpointState state)
      : dir_(std::move(dir)),
        name_(std::move(name)),
        tmp_dir_(std::move(tmp_dir)),
        state_(std::move(state)) {}
  std::map<std::string, std::string> metadata() const;

  std::string dir_, name_, tmp_dir_;
  CheckpointState state_;
};

// DIR/LATEST opened for reading any part of it: ranges of the flat layout of the weights or of
// an optimizer state straight from the memory-mapped files, so that a rank holding part of the
// model (an FSDP shard, a GPipe stage) reads that part and never the whole. open() checks that
// every tensor the layout and the optimizer's state names call for is there, fp32, with its
// shape.
class CheckpointReader {
 public:
  // std::nullopt when DIR has no checkpoint. `layout` gives the parameters' names, shapes and
  // offsets (FlatParameters, layout only or not); `states` the optimizer's state names
  // (FlatOptimizer::state()); `expect` the job and model the checkpoint must be of.
  static Result<std::optional<CheckpointReader>> open(const std::string& dir,
                                                      const FlatParameters& layout,
                                                      const std::vector<std::string>& states,
                                                      const CheckpointState& expect);

  const CheckpointState& state() const { return state_; }
  // The weights (`state` ""), or an optimizer state by name, as an InitialValues over the full
  // flat layout. Valid while this reader lives.
  InitialValues values(const std::string& state) const;
  // The model's buffers (BatchNorm statistics) into `model`, wherever they live.
  Status restore_buffers(Model& model) const;
  // The CPU random generator's state, when the checkpoint has one.
  void restore_rng() const;

 private:
  CheckpointReader(std::string at, const FlatParameters& layout, SafetensorsFile weights,
                   SafetensorsFile optimizer, CheckpointState state);

  std::string at_;  // the checkpoint's directory
  const FlatParameters* layout_;
  SafetensorsFile weights_, optimizer_;
  CheckpointState state_;
};

}  // namespace saturn::worker
