// The template of the techniques that train with the Trainer (train/trainer.h): `measure` (the
// inner loop of search: warm-up, timed steps, one evaluation and one checkpoint) and `execute`
// (the training loop: resume, evaluation every eval_every steps, checkpoints, a graceful stop
// on SIGTERM, the protocol's events) are shared; a technique says how many processes it runs,
// which settings search tries, and how a setting configures the Trainer. Ranks (world > 1)
// get a process group for their device before configure() is called.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "techniques/technique.h"
#include "train/trainer.h"

namespace saturn::worker {

class TrainerTechnique : public Technique {
 public:
  Result<Measurement> measure(RunContext& ctx, const nlohmann::json& params, int warmup,
                              int steps) const final;
  int execute(RunContext& ctx, const ExecuteOptions& options) const final;

 protected:
  // Checks the context's devices and fills `setup` (job, data directory, device and
  // communicator already set) from `params`, the setting search chose. Errors name the field.
  virtual Status configure(const RunContext& ctx, const nlohmann::json& params,
                           TrainerSetup* setup) const = 0;

 private:
  // configure(), with settings of the wrong type an error naming `params`.
  Status configure_from(const RunContext& ctx, const nlohmann::json& params,
                        TrainerSetup* setup) const;
};

// Gradient-accumulation settings for a job split over `world` ranks, largest micro-batch first
// ({"grad_accum": a, "micro_batch": m}); those that do not divide the batch are left out.
std::vector<nlohmann::json> accumulation_candidates(const JobSpec& job, int world);

}  // namespace saturn::worker
