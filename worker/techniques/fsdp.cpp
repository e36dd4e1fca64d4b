// `fsdp`: fully sharded data parallelism (ZeRO-3), one process per device. Each rank keeps one
// shard of every block's parameters, gradients and optimizer state
// (train/sharded_parameters.h). A block's full parameters are all-gathered just before its
// forward pass; with activation checkpointing they are dropped and gathered again for its
// backward pass, which recomputes its activations, without it they stay gathered in between.
// Its gradient is reduce-scattered into the shards as soon as the block is done
// (train/block_streamer.h). The first and last blocks stay gathered for the whole step. With
// prefetching the next block's all-gather runs while a block computes. With CPU offload the
// shards and their optimizer state live in host memory and the optimizer step runs there; on a
// GPU their copies to and from the device run on side streams.
//
// Params: grad_accum, activation_checkpointing (default true), prefetch (default true),
// cpu_offload (default false). Search tries, without CPU offload and then with it, each
// micro-batch size like `ddp` (largest first) with blocks kept gathered from forward to
// backward and prefetching, then activation checkpointing with prefetching, then without
// prefetching (one block gathered less); the first setting that fits wins.
#include <fmt/format.h>

#include "techniques/trainer_technique.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

class Fsdp final : public TrainerTechnique {
 public:
  std::string name() const override { return "fsdp"; }
  int processes(int devices) const override { return devices; }
  // Fastest first: each step of the order below saves device memory and usually costs time.
  std::vector<json> candidates(const JobSpec& job, int devices) const override {
    std::vector<json> out;
    for (const bool cpu_offload : {false, true}) {
      for (json c : accumulation_candidates(job, devices)) {
        c["cpu_offload"] = cpu_offload;
        for (const auto& [checkpointing, prefetch] :
             {std::pair{false, true}, std::pair{true, true}, std::pair{true, false}}) {
          c["activation_checkpointing"] = checkpointing;
          c["prefetch"] = prefetch;
          out.push_back(c);
        }
      }
    }
    return out;
  }

 private:
  Status configure(const RunContext&, const json& params, TrainerSetup* setup) const override {
    setup->grad_accum = params.value("grad_accum", 0);
    setup->fsdp = true;
    setup->activation_checkpointing = params.value("activation_checkpointing", true);
    setup->blocks_in_flight = params.value("prefetch", true) ? 2 : 1;
    setup->offload_shards = params.value("cpu_offload", false);
    return Status::Ok();
  }
};

}  // namespace

const Technique& fsdp_technique() {
  static const Fsdp fsdp;
  return fsdp;
}

}  // namespace saturn::worker
