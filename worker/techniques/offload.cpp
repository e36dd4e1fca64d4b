// `offload`: trains a model that need not fit on its device. Master weights, the bf16 compute
// copy, gradients and optimizer state live in host memory; the first and last blocks stay on
// the device for the step, every other block is copied to the device for its forward pass and
// again for its backward pass, which recomputes its activations (train/block_streamer.h); on a
// GPU the copies run on side streams, overlapped with compute. The optimizer step runs on the
// host. With `device_blocks` k > 0, the model's last k blocks instead live on the device for
// the whole run, state and optimizer step included (the step runs where the block lives: on the
// GPU it is many times faster than the host's, and those blocks need no copies). One device.
//
// Search, best first: gradient accumulation like `single`; within it, the most blocks kept on
// the device (all but block 0, then 7/8, 6/8, ... of them, then none), two streamed blocks on
// the device at once (one computing, the next copied in); last, none kept and one block. The
// first setting that fits wins, so the job keeps as much on the device as its memory allows
// (to within an eighth; each setting that does not fit costs a model build, as the tries with
// smaller micro-batches do).
#include <fmt/format.h>

#include "saturn/model_zoo.h"
#include "techniques/trainer_technique.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

class Offload final : public TrainerTechnique {
 public:
  std::string name() const override { return "offload"; }
  int processes(int) const override { return 1; }
  std::vector<json> candidates(const JobSpec& job, int) const override {
    // Blocks that can be kept: all but block 0 (none when the zoo does not know the model).
    auto shape = find_model(job.model);
    const int keepable = shape ? static_cast<int>(shape->blocks.size()) - 1 : 0;
    std::vector<int> kept_counts;
    for (int eighths = 8; eighths >= 0; --eighths) {
      const int k = keepable * eighths / 8;
      if (kept_counts.empty() || kept_counts.back() != k) kept_counts.push_back(k);
    }
    std::vector<json> out;
    for (json c : accumulation_candidates(job, 1)) {
      for (const int kept : kept_counts) {
        c["device_blocks"] = kept;
        // One block in flight frees one block's memory, as keeping one block fewer does; it
        // is the last resort, with none kept.
        for (const int blocks : {2, 1}) {
          if (blocks == 1 && kept > 0) continue;
          c["blocks_in_flight"] = blocks;
          out.push_back(c);
        }
      }
    }
    return out;
  }

 private:
  Status configure(const RunContext& ctx, const json& params,
                   TrainerSetup* setup) const override {
    if (ctx.devices.size() != 1) {
      return Error{"", 0, "devices",
                   fmt::format("offload trains on one device; {} given", ctx.devices.size())};
    }
    setup->grad_accum = params.value("grad_accum", 0);
    setup->offload = true;
    setup->blocks_in_flight = params.value("blocks_in_flight", 2);
    setup->device_blocks = params.value("device_blocks", 0);
    return Status::Ok();
  }
};

}  // namespace

const Technique& offload_technique() {
  static const Offload offload;
  return offload;
}

}  // namespace saturn::worker
