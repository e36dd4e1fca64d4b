// `offload`: trains a model that need not fit on its device. Master weights, the bf16 compute
// copy, gradients and optimizer state live in host memory; the first and last blocks stay on
// the device for the step, every other block is copied to the device for its forward pass and
// again for its backward pass, which recomputes its activations (train/block_streamer.h); on a
// GPU the copies run on side streams, overlapped with compute. The optimizer step runs on the
// host. One device. Search tries gradient accumulation like `single` and, for each micro-batch,
// two streamed blocks on the device at once (one computing, the next copied in) before one.
#include <fmt/format.h>

#include "techniques/trainer_technique.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

class Offload final : public TrainerTechnique {
 public:
  std::string name() const override { return "offload"; }
  int processes(int) const override { return 1; }
  std::vector<json> candidates(const JobSpec& job, int) const override {
    std::vector<json> out;
    for (json c : accumulation_candidates(job, 1)) {
      for (const int blocks : {2, 1}) {
        c["blocks_in_flight"] = blocks;
        out.push_back(c);
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
    return Status::Ok();
  }
};

}  // namespace

const Technique& offload_technique() {
  static const Offload offload;
  return offload;
}

}  // namespace saturn::worker
