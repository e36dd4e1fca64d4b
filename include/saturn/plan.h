// A plan: for every task, one configuration, one node, concrete GPU indices on that node and a
// start time. The planner's output.
//
// JSON (docs/formats.md#plan):
//   {"makespan_s": 5400.0, "lower_bound_s": 5400.0, "gap": 0.0,
//    "solver": {"name": "heuristic", "status": "feasible", "solve_s": 0.01},
//    "assignments": [{"task": "t0", "technique": "fsdp", "node": "n0", "gpus": [0, 1],
//                     "start_s": 0.0, "end_s": 5400.0}]}
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/error.h"

namespace saturn {

struct Assignment {
  std::string task;
  std::string technique;
  int config = -1;  // index into the task's configs in the profile table
  std::string node;
  std::vector<int> gpus;  // GPU indices on `node`, ascending
  double start_s = 0;     // seconds from the plan's time origin
  double end_s = 0;       // start_s + the config's runtime
};

struct SolverReport {
  std::string name;     // "heuristic", "milp", "reference", "auto(...)"
  std::string status;   // "optimal", "feasible", "no-plan", ...
  double solve_s = 0;   // wall-clock seconds spent planning
  std::string warning;  // non-empty: something went wrong that the plan survived (a CBC crash)
};

struct Plan {
  double makespan_s = 0;     // latest end_s
  double lower_bound_s = 0;  // certified: no plan for this input finishes earlier
  double gap = 0;            // makespan_s / lower_bound_s - 1 (0 when proven optimal)
  SolverReport solver;
  std::vector<Assignment> assignments;  // one per task, sorted by start then task name

  double mean_completion_s() const;
};

nlohmann::json to_json(const Plan& plan);
Result<Plan> parse_plan_json(std::string_view text, std::string_view source = "<string>");
Result<Plan> load_plan_json(const std::string& path);

}  // namespace saturn
