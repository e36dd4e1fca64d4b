// The constructive + improvement heuristic: serial list scheduling over a (job order, mode per
// job) genome, started from several priority rules and mode rules, then improved by simulated
// annealing (move a job in the order, swap two, change a job's mode), biased towards the jobs
// that end last. Fast enough to serve hundreds of jobs alone and to warm-start the MILP.
// Annealing runs vary a lot from seed to seed, so several independent searches run on the
// machine's cores and the best one wins.
#pragma once

#include <chrono>
#include <cstdint>

#include "solver/instance.h"
#include "solver/schedule.h"

namespace saturn::solver {

struct HeuristicOptions {
  std::uint64_t seed = 1;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Schedules decoded at most, per search; 0: default_evaluations(instance). The search is
  // deterministic for a seed as long as the deadline does not cut it.
  long max_evaluations = 0;
  // A lower bound on the makespan, if known (0: computed here). Starting rules use it, and the
  // search stops as soon as it finds a schedule this short.
  double target_s = 0;
  // false: search the whole budget even after reaching target_s (to collect alternatives).
  bool stop_at_target = true;
  // Also return up to this many of the best distinct schedules seen (by makespan, then total
  // completion), per search; for choosing among near-equal plans afterwards (robust.h).
  int alternatives = 0;
  // Independent searches run side by side, one thread each, with seeds derived from `seed`;
  // the best schedule wins (ties: the lowest search index). All stop once one reaches
  // `target_s` (then the makespan is the target whichever search got there; the mean
  // completion may depend on timing). 0: one per hardware thread, at most kMaxSearches.
  int searches = 0;
};

inline constexpr int kMaxSearches = 4;

struct HeuristicResult {
  Schedule best;
  std::vector<Schedule> alternatives;  // HeuristicOptions::alternatives of every search, best first
  long evaluations = 0;                // over all searches
  bool hit_deadline = false;           // some search was cut by the deadline
};

HeuristicResult run_heuristic(const Instance& instance, const HeuristicOptions& options,
                              const Schedule* warm_start = nullptr);

// The default evaluation budget (per search) for `instance`.
long default_evaluations(const Instance& instance);

}  // namespace saturn::solver
