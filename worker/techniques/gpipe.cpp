// `gpipe`: pipeline parallelism, one process (stage) per device. The model's blocks are split
// into contiguous stages balanced by the zoo's per-block forward FLOPs ("time") or by weight,
// optimizer and activation bytes ("memory"); each rank keeps only its stage's parameters and
// optimizer state (train/stage_parameters.h). Each step's batch is split into M micro-batches
// that run fill-drain (train/pipeline_schedule.h) with one synchronous update after, so
// training equals `single` on the same batch. Search tries, best first: without activation
// checkpointing, then with; time balance, then memory; M from the smallest power of two of at
// least 4 x stages (GPipe's rule for a small bubble: (stages - 1) / (M + stages - 1)) upwards,
// then the smaller ones.
#include <fmt/format.h>

#include "techniques/trainer_technique.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

class Gpipe final : public TrainerTechnique {
 public:
  std::string name() const override { return "gpipe"; }
  int processes(int devices) const override { return devices; }
  std::vector<json> candidates(const JobSpec& job, int devices) const override {
    std::vector<int> counts;  // micro-batch counts that divide the batch, in search order
    std::vector<int> smaller;
    for (int m = 1; m <= job.batch_size; m *= 2) {
      if (job.batch_size % m != 0) continue;
      (m >= 4 * devices ? counts : smaller).push_back(m);
    }
    counts.insert(counts.end(), smaller.rbegin(), smaller.rend());
    std::vector<json> out;
    for (const bool checkpointing : {false, true}) {
      for (const char* balance : {"time", "memory"}) {
        for (const int m : counts) {
          out.push_back({{"micro_batches", m},
                         {"micro_batch", job.batch_size / m},
                         {"balance", balance},
                         {"activation_checkpointing", checkpointing}});
        }
      }
    }
    return out;
  }

 private:
  Status configure(const RunContext&, const json& params, TrainerSetup* setup) const override {
    setup->pipeline = true;
    setup->grad_accum = params.value("micro_batches", 0);
    setup->balance = params.value("balance", std::string("time"));
    setup->activation_checkpointing = params.value("activation_checkpointing", false);
    return Status::Ok();
  }
};

}  // namespace

const Technique& gpipe_technique() {
  static const Gpipe gpipe;
  return gpipe;
}

}  // namespace saturn::worker
