// `fsdp`: fully sharded data parallelism (ZeRO-3), one process per device. Each rank keeps one
// shard of every block's parameters, gradients and optimizer state
// (train/sharded_parameters.h); a block's full parameters are all-gathered just before its
// forward pass and again for its backward pass, which recomputes its activations (activation
// checkpointing), and its gradient is reduce-scattered into the shards as soon as the block is
// done (train/block_streamer.h). The first and last blocks stay gathered for the whole step.
// Search tries gradient accumulation like `ddp`.
#include <fmt/format.h>

#include "techniques/trainer_technique.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

class Fsdp final : public TrainerTechnique {
 public:
  std::string name() const override { return "fsdp"; }
  int processes(int devices) const override { return devices; }
  std::vector<json> candidates(const JobSpec& job, int devices) const override {
    return accumulation_candidates(job, devices);
  }

 private:
  Status configure(const RunContext&, const json& params, TrainerSetup* setup) const override {
    setup->grad_accum = params.value("grad_accum", 0);
    setup->fsdp = true;
    return Status::Ok();
  }
};

}  // namespace

const Technique& fsdp_technique() {
  static const Fsdp fsdp;
  return fsdp;
}

}  // namespace saturn::worker
