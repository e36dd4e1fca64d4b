// The constructive + improvement heuristic: serial list scheduling over a (job order, mode per
// job) genome, started from several priority rules and mode rules, then improved by simulated
// annealing (move a job in the order, swap two, change a job's mode), biased towards the jobs
// that end last. Fast enough to serve hundreds of jobs alone and to warm-start the MILP.
#pragma once

#include <chrono>
#include <cstdint>

#include "solver/instance.h"
#include "solver/schedule.h"

namespace saturn::solver {

struct HeuristicOptions {
  std::uint64_t seed = 1;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Schedules decoded at most; 0 picks a budget from the instance size. The search is
  // deterministic for a seed as long as the deadline does not cut it.
  long max_evaluations = 0;
  // A lower bound on the makespan, if known (0: computed here). Starting rules use it, and the
  // search stops as soon as it finds a schedule this short.
  double target_s = 0;
};

struct HeuristicResult {
  Schedule best;
  long evaluations = 0;
  bool hit_deadline = false;
};

HeuristicResult run_heuristic(const Instance& instance, const HeuristicOptions& options,
                              const Schedule* warm_start = nullptr);

// The default evaluation budget for `instance`.
long default_evaluations(const Instance& instance);

}  // namespace saturn::solver
