// The planner's MILP: a resource-flow formulation of SPASE solved by CBC.
//
// Variables: x[j,m,n] (job j runs in mode m on node n), s[j] (start), C (makespan); for every
// ordered pair of jobs that can share a node, z[i,j] (i ends before j starts) and f[i,j,n]
// (GPUs that go from i straight to j on node n); src/snk[j,n] (GPUs j takes from / gives back
// to node n's pool). Flow conservation makes every job receive exactly its GPU count from the
// pool or from jobs that ended before it, which holds for a schedule exactly when GPU counts are
// respected at every instant (docs/planner.md#milp). Unlike per-GPU occupancy it has no GPU
// symmetry, and the per-node area rows put the LP bound at the area bound from the start.
#pragma once

#include "solver/instance.h"
#include "solver/schedule.h"

namespace saturn::solver {

struct MilpResult {
  Schedule schedule;  // best plan found, left-shifted; empty if none
  double bound = 0;   // CBC's lower bound on the makespan (certified by the model)
  bool optimal = false;
  bool stopped_on_time = false;
  std::string failure;  // CBC crashed or hung (MipModel::Outcome::failure)
  int variables = 0;
  int rows = 0;
};

// Solves within `seconds`. `warm` (a feasible schedule; may be empty) seeds CBC and fixes the
// big-M; `lower_bound_s` is a proven bound added as a cut.
MilpResult solve_flow_milp(const Instance& instance, const Schedule& warm, double lower_bound_s,
                           double seconds, bool log);

// Number of ordered job pairs the formulation would create (the size that decides whether the
// MILP is worth running).
long flow_milp_pairs(const Instance& instance);

}  // namespace saturn::solver
