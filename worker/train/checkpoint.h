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
//   DIR/step-00000120/checksums.xxh128       the XXH3-128 digest of each of the three files
//                                            (saturn/checksum.h; `xxh128sum -c` verifies them)
//   DIR/step-00000100.rejected-<unix time>/  a checkpoint that failed its checks when a run
//                                            resumed, set aside: never read, never deleted
//
// A checkpoint is written into a temporary directory, synced, renamed into place, and only then
// named by LATEST (written atomically), so a crash at any moment leaves the previous checkpoint
// usable. The two newest are kept; nothing else in DIR is touched. A run resumes from the newest
// checkpoint that passes every check (its checksums, then its contents), and a damaged one never
// stops it while an older intact one is there. The data position is step x batch
// (saturn/dataset.h), so the step is all the data needs.
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

// A new directory under `parent` only this user can enter (mode 0700), named `prefix` and six
// random characters (mkdtemp): never one that exists, so never a link another user planted at a
// name they could guess. Errors name `parent`.
Result<std::string> make_private_directory(const std::string& parent, const std::string& prefix);

// A name in a checkpoint directory, as the writer makes them: "step-00000120" (complete),
// "step-00000120.tmp.4711" (being written, or left by a writer that died); anything else (LATEST,
// a rejected checkpoint, what is not ours) is kOther.
struct CheckpointName {
  enum Kind { kComplete, kPartial, kOther };
  Kind kind = kOther;
  std::int64_t step = -1;  // kComplete and kPartial
};
CheckpointName parse_checkpoint_name(const std::string& name);
// The name of the complete checkpoint of `step`: "step-00000120".
std::string checkpoint_name(std::int64_t step);

// The field of a checkpoint error that only echoes another rank's (rank 0 could not resume, so
// this one cannot): that rank reports the cause; the others exit without an `error` event.
inline constexpr const char* kPeerFailedField = "checkpoint.peer";

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
  std::map<std::string, std::string> digests_;  // file name -> XXH3-128, as written
};

// A checkpoint that failed its checks, and why.
struct RejectedCheckpoint {
  std::string path;
  std::string reason;
};

// One checkpoint of DIR opened for reading any part of it: ranges of the flat layout of the
// weights or of an optimizer state straight from the memory-mapped files, so that a rank holding
// part of the model (an FSDP shard, a GPipe stage) reads that part and never the whole. Opening
// checks it: the files' checksums, trainer.json, the job and model it is of, and every tensor the
// layout and the optimizer's state names call for, fp32, with its shape.
class CheckpointReader {
 public:
  // The newest checkpoint of DIR that passes the checks (`layout` gives the parameters' names,
  // shapes and offsets; `states` the optimizer's state names, FlatOptimizer::state(); `expect`
  // the job and model it must be of); each newer one that fails is in rejected(). std::nullopt
  // when DIR holds no checkpoint. Errors: DIR holds checkpoints (or a LATEST) and none passes,
  // each named with why.
  static Result<std::optional<CheckpointReader>> open_newest(const std::string& dir,
                                                             const FlatParameters& layout,
                                                             const std::vector<std::string>& states,
                                                             const CheckpointState& expect);
  // DIR/`name`, checked as above; without `verify` its checksums are not read (the rank that
  // chose it verified them).
  static Result<CheckpointReader> open(const std::string& dir, const std::string& name,
                                       const FlatParameters& layout,
                                       const std::vector<std::string>& states,
                                       const CheckpointState& expect, bool verify);

  const CheckpointState& state() const { return state_; }
  const std::string& path() const { return at_; }
  // False for a checkpoint written before checkpoints had checksums (accepted unverified).
  bool verified() const { return verified_; }
  const std::vector<RejectedCheckpoint>& rejected() const { return rejected_; }
  // Moves each rejected checkpoint aside (NAME.rejected-<unix time>; a rejected LATEST is
  // rewritten to name this one), so that retention keeps this one and a later resume does not
  // check them again. One rank only (rank 0).
  Status set_aside_rejected();
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
  bool verified_ = false;
  std::vector<RejectedCheckpoint> rejected_;
};

}  // namespace saturn::worker
