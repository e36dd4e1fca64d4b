// Helpers shared by the simulator's policies; see policy_util.h.
#include "sim/policy_util.h"

#include <algorithm>

namespace saturn::sim {

int best_config(const ProfileTable& table, int task, int gpus, int node) {
  const Task& t = table.tasks[task];
  int best = -1;
  for (int c = 0; c < static_cast<int>(t.configs.size()); ++c) {
    const Config& config = t.configs[c];
    if (config.gpus != gpus || !config_fits(config, table.cluster.nodes[node])) continue;
    if (best < 0 || config.runtime_s < t.configs[best].runtime_s) best = c;
  }
  return best;
}

std::vector<int> gpu_counts(const ProfileTable& table, int task, int node) {
  std::vector<int> counts;
  for (const Config& config : table.tasks[task].configs) {
    if (config_fits(config, table.cluster.nodes[node])) counts.push_back(config.gpus);
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  return counts;
}

std::vector<std::vector<int>> free_gpus(const PolicyContext& context) {
  const Cluster& cluster = context.table->cluster;
  std::vector<std::vector<char>> held;
  for (const Node& node : cluster.nodes) held.emplace_back(node.gpus, 0);
  for (const JobView& job : context.jobs) {
    if (job.state != JobState::kRunning) continue;
    const int n = cluster.find_node(job.node);
    for (int g : job.gpus) held[n][g] = 1;
  }
  std::vector<std::vector<int>> free;
  for (const auto& node : held) {
    free.emplace_back();
    for (int g = 0; g < static_cast<int>(node.size()); ++g) {
      if (!node[g]) free.back().push_back(g);
    }
  }
  return free;
}

double remaining_s(const PolicyContext& context, int task, int config) {
  const JobView& job = context.jobs[task];
  return context.table->tasks[task].configs[config].runtime_s * job.remaining_fraction *
         job.observed_slowdown;
}

Assignment make_assignment(const PolicyContext& context, int task, int config, int node,
                           std::vector<int> gpus, double start_s) {
  const ProfileTable& table = *context.table;
  Assignment a;
  a.task = table.tasks[task].name;
  a.config = config;
  a.technique = table.tasks[task].configs[config].technique;
  a.node = table.cluster.nodes[node].name;
  std::sort(gpus.begin(), gpus.end());
  a.gpus = std::move(gpus);
  a.start_s = start_s;
  a.end_s = start_s + remaining_s(context, task, config);
  return a;
}

Plan make_plan(std::vector<Assignment> assignments) {
  Plan plan;
  for (const Assignment& a : assignments) plan.makespan_s = std::max(plan.makespan_s, a.end_s);
  plan.assignments = std::move(assignments);
  return plan;
}

std::optional<Plan> whole_nodes_in_order(const PolicyContext& context,
                                         const std::vector<int>& order) {
  const ProfileTable& table = *context.table;
  std::vector<std::vector<int>> free = free_gpus(context);
  std::vector<Assignment> assignments;
  std::vector<char> placed(context.jobs.size(), 0);
  for (size_t n = 0; n < table.cluster.nodes.size(); ++n) {
    if (static_cast<int>(free[n].size()) != table.cluster.nodes[n].gpus) continue;
    // The first waiting job in `order` that this node can run (one that fits only other nodes
    // stays first in line for them).
    for (const int task : order) {
      if (context.jobs[task].state != JobState::kPending || placed[task]) continue;
      const std::vector<int> counts = gpu_counts(table, task, static_cast<int>(n));
      if (counts.empty()) continue;
      const int width = counts.back();
      const int config = best_config(table, task, width, static_cast<int>(n));
      std::vector<int> gpus(free[n].begin(), free[n].begin() + width);
      assignments.push_back(
          make_assignment(context, task, config, static_cast<int>(n), gpus, context.now_s));
      placed[task] = 1;
      break;
    }
  }
  if (assignments.empty()) return std::nullopt;
  return make_plan(std::move(assignments));
}

}  // namespace saturn::sim
