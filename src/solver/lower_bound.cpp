// Certified makespan lower bounds. Each is a necessary condition for "every job fits in
// [0, T]"; a T that fails it is a bound, so no monotonicity is assumed anywhere.
//
// Energetic bound (docs/planner.md#lower-bounds). A job with duration p placed anywhere in
// [0, T] overlaps the middle interval [a, T - a] (0 <= a < T/2) by at least
// max(0, min(p - a, T - 2a)); the GPUs of a node set S can supply at most G_S (T - 2a) there.
// Each job picks its cheapest mode per interval, so the test is a relaxation. At a -> T/2 this
// becomes: jobs longer than T/2 all run at T/2; two of them that each need more than half of the
// largest node cannot share a node.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "solver/bounds.h"

namespace saturn::solver {
namespace {

using Membership = std::vector<char>;  // membership per node (not instance.h's shared lists)

struct ClassView {
  Membership set;         // the nodes
  std::vector<int> jobs;  // jobs confined to the set
  int capacity = 0;       // GPUs of the set
  int nodes = 0;
  int max_node = 0;  // largest node in the set, GPUs
};

bool subset(const Membership& a, const Membership& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] && !b[i]) return false;
  }
  return true;
}

// The node sets over which bounds are taken: all nodes, and each set some job is confined to (the
// union of its modes' nodes). Modes share interned node lists (instance.h), so the distinct sets
// are few; each is built and compared once, not once per job.
std::vector<ClassView> node_classes(const Instance& instance) {
  const size_t nodes = instance.node_gpus.size();
  std::map<std::vector<const void*>, size_t> by_lists;  // the modes' lists -> distinct set
  std::map<Membership, size_t> distinct_of;             // set -> its index in `distinct`
  std::vector<Membership> distinct;
  std::vector<size_t> job_set;
  for (const Job& job : instance.jobs) {
    std::vector<const void*> lists;
    for (const Mode& mode : job.modes) lists.push_back(mode.nodes.id());
    std::sort(lists.begin(), lists.end());
    lists.erase(std::unique(lists.begin(), lists.end()), lists.end());
    auto it = by_lists.find(lists);
    if (it == by_lists.end()) {
      Membership set(nodes, 0);
      for (const Mode& mode : job.modes) {
        for (int n : mode.nodes) set[static_cast<size_t>(n)] = 1;
      }
      auto [d, inserted] = distinct_of.emplace(set, distinct.size());
      if (inserted) distinct.push_back(std::move(set));
      it = by_lists.emplace(std::move(lists), d->second).first;
    }
    job_set.push_back(it->second);
  }
  std::set<Membership> sets(distinct.begin(), distinct.end());
  sets.insert(Membership(nodes, 1));
  std::vector<ClassView> classes;
  for (const Membership& set : sets) {
    ClassView view;
    view.set = set;
    for (size_t n = 0; n < set.size(); ++n) {
      if (!set[n]) continue;
      view.capacity += instance.node_gpus[n];
      view.nodes += 1;
      view.max_node = std::max(view.max_node, instance.node_gpus[n]);
    }
    std::vector<char> within(distinct.size());
    for (size_t d = 0; d < distinct.size(); ++d) within[d] = subset(distinct[d], set);
    for (size_t j = 0; j < job_set.size(); ++j) {
      if (within[job_set[j]]) view.jobs.push_back(static_cast<int>(j));
    }
    if (view.capacity > 0 && !view.jobs.empty()) classes.push_back(std::move(view));
  }
  return classes;
}

// Least GPU-seconds a block on `set` occupies inside [a, T - a].
double block_energy(const Instance& instance, const std::vector<char>* set, double a,
                    double horizon) {
  double energy = 0;
  for (const Block& block : instance.blocks) {
    if (set && !(*set)[block.node]) continue;
    const double overlap = std::min(block.until_s, horizon - a) - a;
    if (overlap > 0) energy += overlap * static_cast<double>(block.gpus.size());
  }
  return energy;
}

bool class_feasible(const Instance& instance, const ClassView& view, const Membership& set,
                    double horizon) {
  const double T = horizon * (1 + 1e-12);
  // Interval start points a in [0, T/2): breakpoints of every job's overlap, plus a grid.
  std::vector<double> points = {0.0};
  for (int j : view.jobs) {
    for (const Mode& mode : instance.jobs[j].modes) {
      if (mode.duration_s < T / 2) points.push_back(mode.duration_s);
      if (T - mode.duration_s > 0 && T - mode.duration_s < T / 2) {
        points.push_back(T - mode.duration_s);
      }
    }
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  // Every a gives a valid test, so on large instances an even subsample of the breakpoints
  // keeps the cost at O(kMaxPoints x modes) per horizon and only weakens the bound slightly.
  constexpr size_t kMaxPoints = 192;
  if (points.size() > kMaxPoints) {
    std::vector<double> sample;
    for (size_t k = 0; k < kMaxPoints; ++k)
      sample.push_back(points[k * points.size() / kMaxPoints]);
    points = std::move(sample);
  }
  for (int k = 1; k < 16; ++k) points.push_back(T / 2 * k / 16.0);

  for (double a : points) {
    const double length = T - 2 * a;
    if (length <= 0) continue;
    double energy = block_energy(instance, &set, a, T);
    for (int j : view.jobs) {
      double least = std::numeric_limits<double>::infinity();
      for (const Mode& mode : instance.jobs[j].modes) {
        if (mode.duration_s > T) continue;
        least = std::min(least, mode.gpus * std::max(0.0, std::min(mode.duration_s - a, length)));
      }
      if (!std::isfinite(least)) return false;  // no mode fits in the horizon at all
      energy += least;
    }
    if (energy > view.capacity * length * (1 + 1e-12)) return false;
  }

  // The midpoint: jobs longer than T/2 in every mode all run at T/2.
  int at_mid = 0;
  int big = 0;  // of those, jobs needing more than half of the largest node in every mode
  for (int j : view.jobs) {
    int least = std::numeric_limits<int>::max();
    bool all_big = true;
    for (const Mode& mode : instance.jobs[j].modes) {
      if (mode.duration_s > T) continue;
      const bool long_mode = mode.duration_s > T / 2;
      least = std::min(least, long_mode ? mode.gpus : 0);
      if (!long_mode || 2 * mode.gpus <= view.max_node) all_big = false;
    }
    at_mid += least;
    if (all_big) ++big;
  }
  for (const Block& block : instance.blocks) {
    if (set[block.node] && block.until_s > T / 2) at_mid += static_cast<int>(block.gpus.size());
  }
  return at_mid <= view.capacity && big <= view.nodes;
}

bool feasible_on_classes(const Instance& instance, const std::vector<ClassView>& classes,
                         double horizon_s) {
  for (const ClassView& view : classes) {
    if (!class_feasible(instance, view, view.set, horizon_s)) return false;
  }
  return true;
}

}  // namespace

bool energetic_feasible(const Instance& instance, double horizon_s) {
  return feasible_on_classes(instance, node_classes(instance), horizon_s);
}

LowerBound bound_instance(const Instance& instance, double upper_s,
                          std::chrono::steady_clock::time_point deadline) {
  LowerBound lb;
  const double total = instance.total_gpus();
  double area = 0;
  for (const Block& block : instance.blocks) area += block.until_s * block.gpus.size();
  for (const Block& block : instance.blocks)
    lb.longest_task_s = std::max(lb.longest_task_s, block.until_s);
  for (const Job& job : instance.jobs) {
    double fastest = std::numeric_limits<double>::infinity();
    double least_area = std::numeric_limits<double>::infinity();
    for (const Mode& mode : job.modes) {
      fastest = std::min(fastest, mode.duration_s);
      least_area = std::min(least_area, mode.area());
    }
    lb.longest_task_s = std::max(lb.longest_task_s, fastest);
    area += least_area;
  }
  lb.area_s = total > 0 ? area / total : 0;

  const std::vector<ClassView> classes = node_classes(instance);
  for (const ClassView& view : classes) {
    double class_area = 0;
    for (int j : view.jobs) {
      double least_area = std::numeric_limits<double>::infinity();
      for (const Mode& mode : instance.jobs[j].modes)
        least_area = std::min(least_area, mode.area());
      class_area += least_area;
    }
    lb.node_class_s = std::max(lb.node_class_s, class_area / view.capacity);
  }

  // Bisection for the largest horizon the energetic test refutes. lo is always refuted or
  // already proven (so it is a bound whenever the deadline stops the search); hi passes, except
  // when the deadline stopped the doubling before it found a horizon that passes.
  double lo = std::max({lb.longest_task_s, lb.area_s, lb.node_class_s});
  double hi = upper_s > lo ? upper_s : 2 * lo + 1;
  const auto out_of_time = [&] { return std::chrono::steady_clock::now() >= deadline; };
  while (!out_of_time() && !feasible_on_classes(instance, classes, hi)) {
    lo = hi;
    hi *= 2;
  }
  for (int it = 0; it < 60 && hi - lo > 1e-6 * hi && !out_of_time(); ++it) {
    const double mid = 0.5 * (lo + hi);
    if (feasible_on_classes(instance, classes, mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  lb.energetic_s = lo;

  lb.best_s = lb.longest_task_s;
  lb.best_name = "longest-task";
  auto take = [&lb](double value, const char* name) {
    if (value > lb.best_s * (1 + 1e-12)) {
      lb.best_s = value;
      lb.best_name = name;
    }
  };
  take(lb.area_s, "area");
  take(lb.node_class_s, "node-class");
  take(lb.energetic_s, "energetic");
  return lb;
}

}  // namespace saturn::solver

namespace saturn {
LowerBound compute_lower_bound(const ProfileTable& table) {
  return solver::bound_instance(solver::make_instance(table));
}
}  // namespace saturn
