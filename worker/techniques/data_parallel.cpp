// `single` (one device) and `ddp` (one process per device, gradients averaged over ranks with
// c10d: NCCL on CUDA, Gloo on the CPU). Both train with the Trainer; their one knob is the
// number of micro-steps per optimizer step (gradient accumulation): search tries the largest
// micro-batch first and halves it until a step fits in memory. `single` also takes
// {"cuda_graph": true} (whole steps replayed as a CUDA graph; not searched).
#include <fmt/format.h>

#include "techniques/trainer_technique.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

class DataParallel final : public TrainerTechnique {
 public:
  DataParallel(std::string name, bool single) : name_(std::move(name)), single_(single) {}

  std::string name() const override { return name_; }
  int processes(int devices) const override { return single_ ? 1 : devices; }

  std::vector<json> candidates(const JobSpec& job, int devices) const override {
    return accumulation_candidates(job, single_ ? 1 : devices);
  }

 private:
  Status configure(const RunContext& ctx, const json& params,
                   TrainerSetup* setup) const override {
    if (single_ && ctx.devices.size() != 1) {
      return Error{"", 0, "devices",
                   fmt::format("single trains on one device; {} given", ctx.devices.size())};
    }
    setup->grad_accum = params.value("grad_accum", 0);
    setup->cuda_graph = params.value("cuda_graph", false);
    return Status::Ok();
  }

  std::string name_;
  bool single_;
};

}  // namespace

const Technique& single_technique() {
  static const DataParallel single("single", true);
  return single;
}

const Technique& ddp_technique() {
  static const DataParallel ddp("ddp", false);
  return ddp;
}

}  // namespace saturn::worker
