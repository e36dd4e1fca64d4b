// The Optimus greedy allocation; see optimus_allocation.h.
#include "sim/optimus_allocation.h"

#include "sim/policy_util.h"

namespace saturn::sim {

std::vector<Grant> optimus_allocate(const PolicyContext& context,
                                    const std::vector<int>& candidates,
                                    std::vector<int> free_count) {
  const ProfileTable& table = *context.table;
  std::vector<Grant> grants;
  for (int task : candidates) {
    Grant best;
    for (size_t n = 0; n < free_count.size(); ++n) {
      const std::vector<int> counts = gpu_counts(table, task, static_cast<int>(n));
      if (counts.empty() || counts.front() > free_count[n]) continue;
      if (best.node < 0 || free_count[n] > free_count[best.node]) {
        best = {task, static_cast<int>(n), best_config(table, task, counts.front(), n),
                counts.front()};
      }
    }
    if (best.node < 0) continue;
    free_count[best.node] -= best.gpus;
    grants.push_back(best);
  }
  while (true) {
    int chosen = -1;
    Grant step;
    double best_gain = 0;
    for (size_t i = 0; i < grants.size(); ++i) {
      const Grant& g = grants[i];
      const double now = remaining_s(context, g.task, g.config);
      for (int count : gpu_counts(table, g.task, g.node)) {
        if (count <= g.gpus || count - g.gpus > free_count[g.node]) continue;
        const int config = best_config(table, g.task, count, g.node);
        const double gain = (now - remaining_s(context, g.task, config)) / (count - g.gpus);
        if (gain > best_gain * (1 + 1e-12)) {
          best_gain = gain;
          chosen = static_cast<int>(i);
          step = {g.task, g.node, config, count};
        }
      }
    }
    if (chosen < 0) break;
    free_count[step.node] -= step.gpus - grants[chosen].gpus;
    grants[chosen] = step;
  }
  return grants;
}

}  // namespace saturn::sim
