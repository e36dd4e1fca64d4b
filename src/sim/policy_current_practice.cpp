// current-practice: what people do by hand. Each job gets all GPUs of one node (the best
// technique at that width; if the job has no configuration that wide, its widest one, the rest
// of the node idling), jobs run one after another in workload order, and the next job goes to
// whichever node is entirely free first.
#include <memory>

#include "saturn/policy.h"
#include "sim/policy_util.h"

namespace saturn::sim {
namespace {

class CurrentPracticePolicy : public Policy {
 public:
  std::string name() const override { return "current-practice"; }

  Result<std::optional<Plan>> decide(const PolicyContext& context) override {
    const ProfileTable& table = *context.table;
    std::vector<std::vector<int>> free = free_gpus(context);
    std::vector<Assignment> assignments;
    size_t next = 0;  // next waiting job in workload order
    for (size_t n = 0; n < table.cluster.nodes.size(); ++n) {
      if (static_cast<int>(free[n].size()) != table.cluster.nodes[n].gpus) continue;
      // The next waiting job this node can run at all.
      for (; next < table.tasks.size(); ++next) {
        if (context.jobs[next].state != JobState::kPending) continue;
        const std::vector<int> counts =
            gpu_counts(table, static_cast<int>(next), static_cast<int>(n));
        if (counts.empty()) continue;  // fits only other nodes; another node will take it
        const int width = counts.back();
        const int config = best_config(table, static_cast<int>(next), width, static_cast<int>(n));
        std::vector<int> gpus(free[n].begin(), free[n].begin() + width);
        assignments.push_back(make_assignment(context, static_cast<int>(next), config,
                                              static_cast<int>(n), gpus, context.now_s));
        ++next;
        break;
      }
    }
    if (assignments.empty()) return std::optional<Plan>{};
    return std::optional<Plan>{make_plan(std::move(assignments))};
  }
};

}  // namespace

std::unique_ptr<Policy> make_current_practice_policy() {
  return std::make_unique<CurrentPracticePolicy>();
}

}  // namespace saturn::sim
