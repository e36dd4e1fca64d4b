// One solve of an Instance with a chosen solver: the shared core of plan() and replan().
#pragma once

#include <string>
#include <vector>

#include "saturn/planner.h"
#include "solver/instance.h"
#include "solver/schedule.h"

namespace saturn::solver {

struct Solved {
  Schedule schedule;                   // empty when no plan was found
  std::vector<std::vector<int>> gpus;  // GPU indices per job when the solver chose them
  double lower_bound_s = 0;            // certified, from the instance's origin
  std::string name;                    // solver name for the report
  std::string status;                  // "optimal" | "feasible" | "time-limit" | "no-plan"
  std::string warning;                 // a MILP that failed; the plan is the heuristic's
};

// Auto runs the MILP after the heuristic when it has at most this many ordered job pairs.
inline constexpr long kAutoMilpMaxPairs = 40 * 39;

Solved solve_instance(const Instance& instance, const PlannerOptions& options, double seconds,
                      const Schedule* warm_start = nullptr);

// The Plan for a solved instance; times shifted by `origin_s`.
Plan make_plan(const Instance& instance, const ProfileTable& table, const Solved& solved,
               double origin_s, double solve_s);

}  // namespace saturn::solver
