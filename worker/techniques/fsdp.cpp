// `fsdp`: fully sharded data parallelism (ZeRO-3), one process per device. Each rank keeps one
// shard of every block's parameters, gradients and optimizer state
// (train/sharded_parameters.h). A block's full parameters are all-gathered just before its
// forward pass; with activation checkpointing they are dropped and gathered again for its
// backward pass, which recomputes its activations, without it they stay gathered in between.
// Its gradient is reduce-scattered into the shards as soon as the block is done
// (train/block_streamer.h). The first and last blocks stay gathered for the whole step. Search
// tries gradient accumulation like `ddp` and, for each micro-batch, blocks kept gathered from
// forward to backward before activation checkpointing.
#include <fmt/format.h>

#include "techniques/trainer_technique.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

class Fsdp final : public TrainerTechnique {
 public:
  std::string name() const override { return "fsdp"; }
  int processes(int devices) const override { return devices; }
  // For each micro-batch size (largest first): blocks kept gathered from forward to backward,
  // then activation checkpointing (less memory, one more forward pass per block).
  std::vector<json> candidates(const JobSpec& job, int devices) const override {
    std::vector<json> out;
    for (json c : accumulation_candidates(job, devices)) {
      for (const bool checkpointing : {false, true}) {
        c["activation_checkpointing"] = checkpointing;
        out.push_back(c);
      }
    }
    return out;
  }

 private:
  Status configure(const RunContext&, const json& params, TrainerSetup* setup) const override {
    setup->grad_accum = params.value("grad_accum", 0);
    setup->fsdp = true;
    setup->activation_checkpointing = params.value("activation_checkpointing", true);
    return Status::Ok();
  }
};

}  // namespace

const Technique& fsdp_technique() {
  static const Fsdp fsdp;
  return fsdp;
}

}  // namespace saturn::worker
