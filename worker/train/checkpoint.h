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
#include <string>

#include "models/model.h"
#include "saturn/error.h"
#include "train/parameters.h"

namespace saturn::worker {

struct CheckpointState {
  std::int64_t step = 0;  // optimizer steps done
  std::int64_t optimizer_steps = 0;
  std::string job;
  std::string model;
  int world_size = 1;
  int grad_accum = 1;
};

// Writes a checkpoint of `model` (weights from `params`' master, buffers from the model) and
// `optimizer`; returns its directory.
Result<std::string> write_checkpoint(const std::string& dir, Model& model, FlatParameters& params,
                                     FlatOptimizer& optimizer, const CheckpointState& state);

// Reads DIR/LATEST into `model`, `params` and `optimizer`; nullopt-like false when DIR has no
// checkpoint. `expect` gives the job and model the checkpoint must be of.
Result<bool> read_checkpoint(const std::string& dir, Model& model, FlatParameters& params,
                             FlatOptimizer& optimizer, const CheckpointState& expect,
                             CheckpointState* state);

}  // namespace saturn::worker
