// The independent plan checker; see plan_checker.h.
#include "support/plan_checker.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

namespace saturn::testing {

std::string check_plan(const ProfileTable& table, const Plan& plan,
                       const std::vector<std::string>& tasks, double origin_s,
                       const DurationRule& durations) {
  std::vector<std::string> expected = tasks;
  if (expected.empty()) {
    for (const Task& t : table.tasks) expected.push_back(t.name);
  }
  std::multiset<std::string> seen;
  for (const Assignment& a : plan.assignments) seen.insert(a.task);
  for (const std::string& name : expected) {
    if (seen.count(name) != 1)
      return fmt::format("task {} appears {} times", name, seen.count(name));
  }
  if (seen.size() != expected.size()) return "plan has assignments for unexpected tasks";

  // (node, gpu) -> intervals
  std::map<std::pair<std::string, int>, std::vector<std::pair<double, double>>> busy;
  double latest = origin_s;
  for (const Assignment& a : plan.assignments) {
    const Task* task = nullptr;
    for (const Task& t : table.tasks) {
      if (t.name == a.task) task = &t;
    }
    if (!task) return "unknown task " + a.task;
    if (a.config < 0 || a.config >= static_cast<int>(task->configs.size())) {
      return fmt::format("{}: bad config index {}", a.task, a.config);
    }
    const Config& c = task->configs[a.config];
    if (c.technique != a.technique) return a.task + ": technique differs from its config";
    const Node* node = nullptr;
    for (const Node& n : table.cluster.nodes) {
      if (n.name == a.node) node = &n;
    }
    if (!node) return a.task + ": unknown node " + a.node;
    if (c.gpus > node->gpus) return a.task + ": config needs more GPUs than the node has";
    if (!c.gpu_type.empty() && c.gpu_type != node->gpu_type) return a.task + ": wrong GPU type";
    if (c.peak_memory_bytes > 0 && node->gpu_memory_bytes > 0 &&
        c.peak_memory_bytes > node->gpu_memory_bytes) {
      return a.task + ": config does not fit the node's GPU memory";
    }
    if (static_cast<int>(a.gpus.size()) != c.gpus) {
      return fmt::format("{}: holds {} GPUs, config needs {}", a.task, a.gpus.size(), c.gpus);
    }
    std::set<int> unique(a.gpus.begin(), a.gpus.end());
    if (unique.size() != a.gpus.size()) return a.task + ": a GPU listed twice";
    for (int g : a.gpus) {
      if (g < 0 || g >= node->gpus) return fmt::format("{}: GPU {} outside node", a.task, g);
    }
    if (!(a.start_s >= origin_s - 1e-6)) return fmt::format("{}: starts before the origin", a.task);
    const std::vector<double> allowed =
        durations ? durations(*task, a.config) : std::vector<double>{c.runtime_s};
    const double d = a.end_s - a.start_s;
    const bool matches = std::any_of(allowed.begin(), allowed.end(), [&](double x) {
      return std::abs(x - d) <= 1e-6 * std::max(1.0, x);
    });
    if (!matches) return fmt::format("{}: duration {} is not the profile's", a.task, d);
    for (int g : a.gpus) busy[{a.node, g}].emplace_back(a.start_s, a.end_s);
    latest = std::max(latest, a.end_s);
  }
  for (auto& [gpu, intervals] : busy) {
    std::sort(intervals.begin(), intervals.end());
    for (size_t i = 1; i < intervals.size(); ++i) {
      const double overlap = intervals[i - 1].second - intervals[i].first;
      if (overlap > 1e-6 * std::max(1.0, intervals[i].first)) {
        return fmt::format("{} GPU {}: two tasks overlap by {} s", gpu.first, gpu.second, overlap);
      }
    }
  }
  if (!plan.assignments.empty() &&
      std::abs(latest - plan.makespan_s) > 1e-6 * std::max(1.0, latest)) {
    return fmt::format("makespan {} but the last task ends at {}", plan.makespan_s, latest);
  }
  if (plan.lower_bound_s > plan.makespan_s * (1 + 1e-9) + 1e-9) {
    return fmt::format("lower bound {} above makespan {}", plan.lower_bound_s, plan.makespan_s);
  }
  return "";
}

}  // namespace saturn::testing
