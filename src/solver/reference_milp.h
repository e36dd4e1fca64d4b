// The reference implementation's SPASE MILP, kept so benchmarks can compare against it side by
// side: binary occupancy per GPU, per-job start times, and big-M ordering disjunctions for every
// pair of jobs on every GPU, with M = 1e10. No warm start, no extra cuts.
#pragma once

#include <vector>

#include "solver/instance.h"
#include "solver/schedule.h"

namespace saturn::solver {

struct ReferenceResult {
  Schedule schedule;                   // empty when CBC found no plan
  std::vector<std::vector<int>> gpus;  // GPU indices per job, as the MILP chose them
  double bound = 0;
  bool optimal = false;
  bool stopped_on_time = false;
  std::string failure;  // CBC crashed or hung (MipModel::Outcome::failure)
};

// Only for instances without running tasks or reservations (plain `saturn plan`).
ReferenceResult solve_reference_milp(const Instance& instance, double seconds, bool log);

}  // namespace saturn::solver
