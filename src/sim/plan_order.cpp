// Plan-order dispatch; see saturn/plan_order.h.
#include "saturn/plan_order.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace saturn {

Result<CheckedAssignment> check_assignment(const Assignment& a, const ProfileTable& table,
                                           const std::map<std::string, int>& task_of,
                                           const std::function<bool(int)>& over,
                                           std::string_view policy) {
  const std::string field = fmt::format("policy {}: assignment of '{}'", policy, a.task);
  const auto bad = [&](const std::string& why) { return Error{"", 0, field, why}; };
  const auto found = task_of.find(a.task);
  if (found == task_of.end()) return bad("unknown task");
  const int task = found->second;
  if (over(task)) return bad("the task is done");
  const Task& t = table.tasks[static_cast<std::size_t>(task)];
  if (a.config < 0 || a.config >= static_cast<int>(t.configs.size())) {
    return bad(fmt::format("config index {} out of range", a.config));
  }
  const int node = table.cluster.find_node(a.node);
  if (node < 0) return bad(fmt::format("unknown node '{}'", a.node));
  const Node& n = table.cluster.nodes[static_cast<std::size_t>(node)];
  const Config& config = t.configs[static_cast<std::size_t>(a.config)];
  if (!config_fits(config, n)) {
    return bad(fmt::format("config {} ({} on {} GPUs) does not fit node {}", a.config,
                           config.technique, config.gpus, a.node));
  }
  const std::set<int> unique(a.gpus.begin(), a.gpus.end());
  if (static_cast<int>(unique.size()) != config.gpus || unique.size() != a.gpus.size() ||
      *unique.begin() < 0 || *unique.rbegin() >= n.gpus) {
    return bad(fmt::format("needs {} distinct GPU indices of node {}", config.gpus, a.node));
  }
  return CheckedAssignment{task, a.config, node, std::vector<int>(unique.begin(), unique.end()),
                           a.start_s, a.end_s};
}

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
