// longest-first: current practice as careful users run it. Each job gets all GPUs of one node (as
// current-practice), but the jobs go in order of decreasing estimated runtime, so that the
// longest job does not start last and stretch the makespan (the LPT rule). A job's runtime for
// the order is its best technique at the widest width it has on the largest node it fits,
// scaled by what is left of it and by its observed slowdown; ties keep workload order.
#include <algorithm>
#include <memory>

#include "saturn/policy.h"
#include "sim/policy_util.h"

namespace saturn::sim {
namespace {

class LongestFirstPolicy : public Policy {
 public:
  std::string name() const override { return "longest-first"; }

  Result<std::optional<Plan>> decide(const PolicyContext& context) override {
    const size_t count = context.jobs.size();
    std::vector<double> runtime(count, 0);
    for (size_t t = 0; t < count; ++t)
      runtime[t] = whole_node_runtime(context, static_cast<int>(t));
    std::vector<int> order(count);
    for (size_t t = 0; t < count; ++t) order[t] = static_cast<int>(t);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return runtime[a] > runtime[b]; });
    return whole_nodes_in_order(context, order);
  }

 private:
  // Estimated seconds left at a whole node's width, on the largest node the job fits; 0 when it
  // fits none.
  static double whole_node_runtime(const PolicyContext& context, int task) {
    const ProfileTable& table = *context.table;
    int best_node = -1;
    for (size_t n = 0; n < table.cluster.nodes.size(); ++n) {
      if (gpu_counts(table, task, static_cast<int>(n)).empty()) continue;
      if (best_node < 0 || table.cluster.nodes[n].gpus > table.cluster.nodes[best_node].gpus) {
        best_node = static_cast<int>(n);
      }
    }
    if (best_node < 0) return 0;
    const int width = gpu_counts(table, task, best_node).back();
    return remaining_s(context, task, best_config(table, task, width, best_node));
  }
};

}  // namespace

std::unique_ptr<Policy> make_longest_first_policy() {
  return std::make_unique<LongestFirstPolicy>();
}

}  // namespace saturn::sim
