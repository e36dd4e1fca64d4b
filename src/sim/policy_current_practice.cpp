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
    std::vector<int> order(context.jobs.size());
    for (size_t t = 0; t < order.size(); ++t) order[t] = static_cast<int>(t);
    return whole_nodes_in_order(context, order);
  }
};

}  // namespace

std::unique_ptr<Policy> make_current_practice_policy() {
  return std::make_unique<CurrentPracticePolicy>();
}

}  // namespace saturn::sim
