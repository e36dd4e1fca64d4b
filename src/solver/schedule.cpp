// Node usage profiles, the serial schedule-generation decoder, and GPU index assignment.
#include "solver/schedule.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace saturn::solver {
namespace {

// Times closer than this are the same instant (seconds). Far below any runtime we plan.
constexpr double kTimeEps = 1e-7;

void finish(Schedule& schedule) {
  schedule.makespan_s = 0;
  schedule.total_completion_s = 0;
  for (const Placement& p : schedule.jobs) {
    schedule.makespan_s = std::max(schedule.makespan_s, p.end_s);
    schedule.total_completion_s += p.end_s;
  }
}

}  // namespace

bool better(const Schedule& a, const Schedule& b) {
  const double tol = 1e-9 * std::max(1.0, std::max(a.makespan_s, b.makespan_s));
  if (a.makespan_s < b.makespan_s - tol) return true;
  if (a.makespan_s > b.makespan_s + tol) return false;
  return a.total_completion_s < b.total_completion_s - tol;
}

NodeUsage::NodeUsage(int capacity) : capacity_(capacity), steps_{{0.0, 0}} {}

int NodeUsage::used_at(double t_s) const {
  auto it = std::upper_bound(steps_.begin(), steps_.end(), t_s,
                             [](double t, const Step& s) { return t < s.t; });
  if (it == steps_.begin()) return 0;
  return std::prev(it)->used;
}

std::size_t NodeUsage::step_at(double t_s) const {
  const auto it = std::upper_bound(steps_.begin(), steps_.end(), t_s + kTimeEps,
                                   [](double t, const Step& s) { return t < s.t; });
  return it == steps_.begin() ? 0 : static_cast<std::size_t>(it - steps_.begin() - 1);
}

double NodeUsage::earliest_start(int gpus, double duration_s, double from_s) const {
  const int limit = capacity_ - gpus;
  const size_t n = steps_.size();
  size_t i = step_at(from_s);
  while (i < n) {
    const double start = std::max(from_s, steps_[i].t);
    const double end = start + duration_s;
    size_t j = i;
    bool fits = true;
    while (j < n && steps_[j].t < end - kTimeEps) {
      if (steps_[j].used > limit) {
        fits = false;
        break;
      }
      ++j;
    }
    if (fits) return start;
    i = j + 1;  // the earliest feasible start is after the step that does not fit
  }
  return std::numeric_limits<double>::infinity();  // only if gpus > capacity
}

NodeUsage::FreeProfile NodeUsage::free_profile(int gpus, double from_s) const {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const int limit = capacity_ - gpus;
  FreeProfile p{kInf, kInf, 0};
  if (limit < 0) return p;
  double hole_start = -1;  // start of the free stretch being scanned; -1: in a busy one
  for (size_t i = step_at(from_s); i < steps_.size(); ++i) {
    const double t = std::max(from_s, steps_[i].t);
    if (steps_[i].used <= limit) {
      if (hole_start < 0) hole_start = t;
      if (p.first == kInf) p.first = t;
    } else if (hole_start >= 0) {
      p.longest_hole = std::max(p.longest_hole, t - hole_start);
      hole_start = -1;
    }
  }
  p.tail = hole_start;  // the last step holds for good and is free (usage ends at 0)
  return p;
}

void NodeUsage::add(double start_s, double end_s, int gpus) {
  auto split = [this](double t) {
    auto it = std::lower_bound(steps_.begin(), steps_.end(), t,
                               [](const Step& s, double v) { return s.t < v - kTimeEps; });
    if (it != steps_.end() && std::abs(it->t - t) <= kTimeEps) return it - steps_.begin();
    const int used = (it == steps_.begin()) ? 0 : std::prev(it)->used;
    const auto inserted = steps_.insert(it, Step{t, used});  // may reallocate
    return inserted - steps_.begin();
  };
  const auto first = split(start_s);
  const auto last = split(end_s);
  for (auto k = first; k < last; ++k) steps_[k].used += gpus;
}

std::vector<NodeUsage> initial_usage(const Instance& instance) {
  std::vector<NodeUsage> usage;
  for (int capacity : instance.node_gpus) usage.emplace_back(capacity);
  for (const Block& block : instance.blocks) {
    usage[block.node].add(0, block.until_s, static_cast<int>(block.gpus.size()));
  }
  return usage;
}

namespace {

// Where every node is free (NodeUsage::free_profile) for each GPU count a decode places, and
// per count a tree of each subtree's least first free instant over the nodes, so that a job
// visits only the nodes that could still finish it first. First free instants only rise as jobs
// are added: a node that got a job keeps its old profile, a lower bound, until a visit refreshes
// it. No allocation after construction.
class Frontiers {
 public:
  Frontiers(const std::vector<NodeUsage>& usage, std::vector<int> counts)
      : usage_(usage),
        counts_(std::move(counts)),
        nodes_(usage.size()),
        leaves_(std::bit_ceil(std::max<size_t>(1, nodes_))),
        at_(counts_.size() * nodes_),
        stale_(counts_.size() * nodes_, 0),
        tree_(counts_.size() * 2 * leaves_, std::numeric_limits<double>::infinity()) {
    for (size_t c = 0; c < counts_.size(); ++c) {
      double* tree = &tree_[c * 2 * leaves_];
      for (size_t n = 0; n < nodes_; ++n) {
        at_[c * nodes_ + n] = usage[n].free_profile(counts_[c]);
        tree[leaves_ + n] = at_[c * nodes_ + n].first;
      }
      for (size_t i = leaves_ - 1; i >= 1; --i) tree[i] = std::min(tree[2 * i], tree[2 * i + 1]);
    }
  }
  // Index of GPU count `gpus`, which must be one of the counts given.
  size_t count_index(int gpus) const {
    const auto it = std::find(counts_.begin(), counts_.end(), gpus);
    assert(it != counts_.end());
    return static_cast<size_t>(it - counts_.begin());
  }
  // After jobs were added on `node`.
  void touched(int node) {
    for (size_t c = 0; c < counts_.size(); ++c) stale_[c * nodes_ + static_cast<size_t>(node)] = 1;
  }
  // Earliest start of `duration_s` on `gpus` of `node`: at the tail when no hole is long
  // enough, else found by scanning from the first free instant.
  double earliest_start(size_t c, int node, int gpus, double duration_s) {
    const NodeUsage::FreeProfile& p = profile(c, node);
    if (p.longest_hole < duration_s - kTimeEps) return p.tail;
    return usage_[static_cast<size_t>(node)].earliest_start(gpus, duration_s, p.first);
  }
  // Calls visit(node) for every node, in index order, whose first free instant is at most
  // limit(), which visits may lower.
  template <typename Limit, typename Visit>
  void visit(size_t c, const Limit& limit, const Visit& visit) {
    const double* tree = &tree_[c * 2 * leaves_];
    size_t stack[64];
    size_t top = 0;
    stack[top++] = 1;
    while (top > 0) {
      const size_t i = stack[--top];
      if (tree[i] > limit()) continue;
      if (i < leaves_) {
        stack[top++] = 2 * i + 1;  // the left child first: lower node indices first
        stack[top++] = 2 * i;
        continue;
      }
      const int node = static_cast<int>(i - leaves_);
      if (profile(c, node).first <= limit()) visit(node);
    }
  }

 private:
  const NodeUsage::FreeProfile& profile(size_t c, int node) {
    const size_t k = c * nodes_ + static_cast<size_t>(node);
    if (stale_[k]) {
      stale_[k] = 0;
      at_[k] = usage_[static_cast<size_t>(node)].free_profile(counts_[c], at_[k].first);
      double* tree = &tree_[c * 2 * leaves_];
      size_t i = leaves_ + static_cast<size_t>(node);
      tree[i] = at_[k].first;
      for (i /= 2; i >= 1; i /= 2) tree[i] = std::min(tree[2 * i], tree[2 * i + 1]);
    }
    return at_[k];
  }

  const std::vector<NodeUsage>& usage_;
  std::vector<int> counts_;
  size_t nodes_, leaves_;
  std::vector<NodeUsage::FreeProfile> at_;  // [count * nodes + node]
  std::vector<char> stale_;                 // [count * nodes + node]
  std::vector<double> tree_;                // [count * 2 * leaves + heap index]: least first
};

}  // namespace

Schedule decode(const Instance& instance, const std::vector<int>& order,
                const std::vector<int>& modes, const std::vector<int>& fixed_nodes) {
  std::vector<NodeUsage> usage = initial_usage(instance);
  Schedule schedule;
  schedule.jobs.resize(instance.jobs.size());
  std::vector<int> counts;
  // Kept (running) jobs hold their GPUs from time 0 whatever the order.
  for (size_t j = 0; j < instance.jobs.size(); ++j) {
    const Mode& mode = instance.jobs[j].modes[modes[j]];
    if (!mode.keep) {
      if (std::find(counts.begin(), counts.end(), mode.gpus) == counts.end()) {
        counts.push_back(mode.gpus);
      }
      continue;
    }
    usage[mode.nodes[0]].add(0, mode.duration_s, mode.gpus);
    schedule.jobs[j] = {modes[j], mode.nodes[0], 0.0, mode.duration_s};
  }
  Frontiers frontiers(usage, std::move(counts));
  const auto all_nodes = static_cast<size_t>(instance.num_nodes());
  for (int j : order) {
    const Mode& mode = instance.jobs[j].modes[modes[j]];
    if (mode.keep) continue;
    const size_t c = frontiers.count_index(mode.gpus);
    Placement best{modes[j], -1, 0, std::numeric_limits<double>::infinity()};
    int best_used = -1;
    auto consider = [&](int node) {
      const double start = frontiers.earliest_start(c, node, mode.gpus, mode.duration_s);
      const double end = start + mode.duration_s;
      if (end > best.end_s + kTimeEps) return;
      const int used = usage[node].used_at(start) + mode.gpus - usage[node].capacity();
      const bool earlier = end < best.end_s - kTimeEps;
      const bool tie = !earlier && end <= best.end_s + kTimeEps;
      if (earlier || (tie && (used > best_used || (used == best_used && node < best.node)))) {
        best = {modes[j], node, start, end};
        best_used = used;
      }
    };
    if (!fixed_nodes.empty() && fixed_nodes[j] >= 0) {
      consider(fixed_nodes[j]);
    } else {
      const bool anywhere = mode.nodes.size() == all_nodes;
      // A node whose first free instant is later than this cannot end the job first.
      const auto limit = [&] { return best.end_s + kTimeEps - mode.duration_s; };
      frontiers.visit(c, limit, [&](int node) {
        if (anywhere || mode.nodes.contains(node)) consider(node);
      });
    }
    usage[best.node].add(best.start_s, best.end_s, mode.gpus);
    frontiers.touched(best.node);
    schedule.jobs[j] = best;
  }
  finish(schedule);
  return schedule;
}

Schedule left_shift(const Instance& instance, const Schedule& schedule) {
  std::vector<int> order(schedule.jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return schedule.jobs[a].start_s < schedule.jobs[b].start_s;
  });
  std::vector<int> modes, nodes;
  for (const Placement& p : schedule.jobs) {
    modes.push_back(p.mode);
    nodes.push_back(p.node);
  }
  return decode(instance, order, modes, nodes);
}

Schedule justify(const Instance& instance, const Schedule& schedule) {
  const size_t n = schedule.jobs.size();
  if (n == 0) return schedule;
  // Backward pass in mirrored time: real time t is mirrored time `horizon - t`, so "as late as
  // possible" becomes "as early as possible". Blocks and kept jobs sit at the mirrored end.
  double horizon = schedule.makespan_s;
  for (const Block& block : instance.blocks) horizon = std::max(horizon, block.until_s);
  std::vector<NodeUsage> mirrored;
  for (int capacity : instance.node_gpus) mirrored.emplace_back(capacity);
  for (const Block& block : instance.blocks) {
    mirrored[block.node].add(horizon - block.until_s, horizon, static_cast<int>(block.gpus.size()));
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return schedule.jobs[a].end_s > schedule.jobs[b].end_s; });
  Schedule late = schedule;
  std::vector<int> counts;
  for (int j : order) {
    const Placement& p = schedule.jobs[j];
    const Mode& mode = instance.jobs[j].modes[p.mode];
    if (!mode.keep) {
      if (std::find(counts.begin(), counts.end(), mode.gpus) == counts.end()) {
        counts.push_back(mode.gpus);
      }
      continue;
    }
    mirrored[p.node].add(horizon - p.end_s, horizon - p.start_s, mode.gpus);
  }
  Frontiers frontiers(mirrored, std::move(counts));
  for (int j : order) {
    const Placement& p = schedule.jobs[j];
    const Mode& mode = instance.jobs[j].modes[p.mode];
    if (mode.keep) continue;
    const double start = frontiers.earliest_start(frontiers.count_index(mode.gpus), p.node,
                                                  mode.gpus, mode.duration_s);
    const double end = start + mode.duration_s;
    if (horizon - end < -kTimeEps) return schedule;  // cannot happen for a feasible input
    mirrored[p.node].add(start, end, mode.gpus);
    frontiers.touched(p.node);
    late.jobs[j].start_s = std::max(0.0, horizon - end);
    late.jobs[j].end_s = late.jobs[j].start_s + mode.duration_s;
  }
  Schedule early = left_shift(instance, late);
  return better(early, schedule) ? early : schedule;
}

std::vector<std::vector<int>> assign_gpus(const Instance& instance, const Schedule& schedule) {
  // free_at[node][gpu]: when the GPU is next free, seconds from the origin.
  std::vector<std::vector<double>> free_at;
  for (int capacity : instance.node_gpus) free_at.emplace_back(capacity, 0.0);
  for (const Block& block : instance.blocks) {
    for (int g : block.gpus)
      free_at[block.node][g] = std::max(free_at[block.node][g], block.until_s);
  }
  std::vector<int> order(schedule.jobs.size());
  std::iota(order.begin(), order.end(), 0);
  // Kept jobs first (their GPUs are given), then by start time.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const bool ka = instance.jobs[a].modes[schedule.jobs[a].mode].keep;
    const bool kb = instance.jobs[b].modes[schedule.jobs[b].mode].keep;
    if (ka != kb) return ka;
    return schedule.jobs[a].start_s < schedule.jobs[b].start_s;
  });
  std::vector<std::vector<int>> gpus(schedule.jobs.size());
  for (int j : order) {
    const Placement& p = schedule.jobs[j];
    const Mode& mode = instance.jobs[j].modes[p.mode];
    std::vector<double>& gpu_free = free_at[p.node];
    if (mode.keep) {
      gpus[j] = mode.keep_gpus;
    } else {
      for (int g = 0;
           g < static_cast<int>(gpu_free.size()) && static_cast<int>(gpus[j].size()) < mode.gpus;
           ++g) {
        if (gpu_free[g] <= p.start_s + kTimeEps) gpus[j].push_back(g);
      }
    }
    for (int g : gpus[j]) gpu_free[g] = p.end_s;
  }
  return gpus;
}

Plan to_plan(const Instance& instance, const ProfileTable& table, const Schedule& schedule,
             double origin_s, const std::vector<std::vector<int>>* given_gpus) {
  Plan plan;
  const std::vector<std::vector<int>> gpus =
      given_gpus ? *given_gpus : assign_gpus(instance, schedule);
  for (size_t j = 0; j < schedule.jobs.size(); ++j) {
    const Job& job = instance.jobs[j];
    const Placement& p = schedule.jobs[j];
    const Mode& mode = job.modes[p.mode];
    Assignment a;
    a.task = job.name;
    a.config = mode.config;
    a.technique = table.tasks[job.task].configs[mode.config].technique;
    a.node = table.cluster.nodes[p.node].name;
    a.gpus = gpus[j];
    a.start_s = origin_s + p.start_s;
    a.end_s = origin_s + p.end_s;
    plan.assignments.push_back(std::move(a));
  }
  std::stable_sort(plan.assignments.begin(), plan.assignments.end(),
                   [](const Assignment& a, const Assignment& b) {
                     if (a.start_s != b.start_s) return a.start_s < b.start_s;
                     return a.task < b.task;
                   });
  plan.makespan_s = origin_s + schedule.makespan_s;
  return plan;
}

Schedule from_plan(const Instance& instance, const ProfileTable& table, const Plan& plan) {
  Schedule schedule;
  schedule.jobs.resize(instance.jobs.size());
  for (const Assignment& a : plan.assignments) {
    for (size_t j = 0; j < instance.jobs.size(); ++j) {
      const Job& job = instance.jobs[j];
      if (job.name != a.task) continue;
      for (size_t m = 0; m < job.modes.size(); ++m) {
        if (job.modes[m].config != a.config || job.modes[m].keep) continue;
        const int node = table.cluster.find_node(a.node);
        schedule.jobs[j] = {static_cast<int>(m), node, a.start_s, a.end_s};
      }
    }
  }
  finish(schedule);
  return schedule;
}

}  // namespace saturn::solver
