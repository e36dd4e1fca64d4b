// Plan-order dispatch; see saturn/plan_order.h.
#include "saturn/plan_order.h"

#include <algorithm>

namespace saturn {

std::vector<Assignment> in_plan_order(std::vector<Assignment> assignments) {
  std::stable_sort(assignments.begin(), assignments.end(),
                   [](const Assignment& a, const Assignment& b) {
                     if (a.start_s != b.start_s) return a.start_s < b.start_s;
                     return a.task < b.task;
                   });
  return assignments;
}

std::vector<std::size_t> startable(const std::vector<QueuedStart>& queue,
                                   const std::vector<std::vector<char>>& held) {
  std::vector<std::vector<char>> claimed;
  for (const auto& node : held) claimed.emplace_back(node.size(), 0);
  std::vector<std::size_t> start;
  for (std::size_t i = 0; i < queue.size(); ++i) {
    const QueuedStart& q = queue[i];
    if (q.node < 0 || q.node >= static_cast<int>(held.size())) continue;
    const auto& node_held = held[static_cast<std::size_t>(q.node)];
    auto& node_claimed = claimed[static_cast<std::size_t>(q.node)];
    bool free = true;
    for (int g : q.gpus) {
      if (g < 0 || g >= static_cast<int>(node_held.size())) {
        free = false;
        continue;
      }
      free = free && !node_held[static_cast<std::size_t>(g)] &&
             !node_claimed[static_cast<std::size_t>(g)];
    }
    for (int g : q.gpus) {
      if (g >= 0 && g < static_cast<int>(node_claimed.size())) {
        node_claimed[static_cast<std::size_t>(g)] = 1;
      }
    }
    if (free) start.push_back(i);
  }
  return start;
}

}  // namespace saturn
