// optimus: the Optimus baseline without introspection. Whenever GPUs free up (at the start and
// when a job finishes), the waiting jobs, in workload order, share the free GPUs by the greedy
// allocation of optimus_allocation.h; running jobs keep what they have.
#include <memory>

#include "saturn/policy.h"
#include "sim/optimus_allocation.h"
#include "sim/policy_util.h"

namespace saturn::sim {

// Assignments for `grants`, GPU indices taken from `free` (consumed), all starting now.
std::vector<Assignment> place_grants(const PolicyContext& context, const std::vector<Grant>& grants,
                                     std::vector<std::vector<int>>& free) {
  std::vector<Assignment> assignments;
  for (const Grant& g : grants) {
    std::vector<int>& pool = free[g.node];
    std::vector<int> gpus(pool.begin(), pool.begin() + g.gpus);
    pool.erase(pool.begin(), pool.begin() + g.gpus);
    assignments.push_back(
        make_assignment(context, g.task, g.config, g.node, std::move(gpus), context.now_s));
  }
  return assignments;
}

namespace {

class OptimusPolicy : public Policy {
 public:
  std::string name() const override { return "optimus"; }

  Result<std::optional<Plan>> decide(const PolicyContext& context) override {
    std::vector<int> waiting;
    for (size_t t = 0; t < context.jobs.size(); ++t) {
      if (context.jobs[t].state == JobState::kPending) waiting.push_back(static_cast<int>(t));
    }
    std::vector<std::vector<int>> free = free_gpus(context);
    std::vector<int> free_count;
    for (const auto& pool : free) free_count.push_back(static_cast<int>(pool.size()));
    const std::vector<Grant> grants = optimus_allocate(context, waiting, free_count);
    if (grants.empty()) return std::optional<Plan>{};
    return std::optional<Plan>{make_plan(place_grants(context, grants, free))};
  }
};

}  // namespace

std::unique_ptr<Policy> make_optimus_policy() {
  return std::make_unique<OptimusPolicy>();
}

}  // namespace saturn::sim
