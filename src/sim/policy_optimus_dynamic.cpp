// optimus-dynamic: Optimus plus Saturn's introspection. Between intervals it behaves as optimus
// (waiting jobs share GPUs as they free up). At every interval it re-runs the greedy allocation
// over all unfinished jobs and all GPUs; a running job whose allocation would change is moved
// only when its estimated remaining time drops by more than its restart cost plus the switch
// threshold; the moved and waiting jobs then share the GPUs that are free.
#include <memory>

#include "saturn/policy.h"
#include "saturn/simulator.h"
#include "sim/optimus_allocation.h"
#include "sim/policy_util.h"

namespace saturn::sim {

std::vector<Assignment> place_grants(const PolicyContext& context, const std::vector<Grant>& grants,
                                     std::vector<std::vector<int>>& free);

namespace {

class OptimusDynamicPolicy : public Policy {
 public:
  std::string name() const override { return "optimus-dynamic"; }
  bool introspects() const override { return true; }

  Result<std::optional<Plan>> decide(const PolicyContext& context) override {
    const ProfileTable& table = *context.table;
    std::vector<int> running, waiting;
    for (size_t t = 0; t < context.jobs.size(); ++t) {
      if (context.jobs[t].state == JobState::kRunning) running.push_back(static_cast<int>(t));
      if (context.jobs[t].state == JobState::kPending) waiting.push_back(static_cast<int>(t));
    }
    std::vector<std::vector<int>> free = free_gpus(context);
    std::vector<int> moved;
    if (context.event == PolicyEvent::kIntrospection) {
      // The allocation Optimus would make from scratch, running jobs first.
      std::vector<int> all = running;
      all.insert(all.end(), waiting.begin(), waiting.end());
      std::vector<int> capacity;
      for (const Node& node : table.cluster.nodes) capacity.push_back(node.gpus);
      for (const Grant& g : optimus_allocate(context, all, capacity)) {
        const JobView& job = context.jobs[g.task];
        if (job.state != JobState::kRunning) continue;
        const int node = table.cluster.find_node(job.node);
        if (g.node == node && g.gpus == static_cast<int>(job.gpus.size())) continue;
        const double keep = remaining_s(context, g.task, job.config);
        const double move = remaining_s(context, g.task, g.config) + job.restart_s;
        if (keep - move > context.options->switch_threshold * keep) {
          moved.push_back(g.task);
          for (int gpu : job.gpus) free[node].push_back(gpu);
          std::sort(free[node].begin(), free[node].end());
        }
      }
    }
    // Moved jobs first (they gave their GPUs back), then the waiting ones.
    std::vector<int> candidates = moved;
    candidates.insert(candidates.end(), waiting.begin(), waiting.end());
    std::vector<int> free_count;
    for (const auto& pool : free) free_count.push_back(static_cast<int>(pool.size()));
    const std::vector<Grant> grants = optimus_allocate(context, candidates, free_count);
    if (grants.empty()) return std::optional<Plan>{};
    return std::optional<Plan>{make_plan(place_grants(context, grants, free))};
  }
};

}  // namespace

std::unique_ptr<Policy> make_optimus_dynamic_policy() {
  return std::make_unique<OptimusDynamicPolicy>();
}

}  // namespace saturn::sim
