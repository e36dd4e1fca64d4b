// The SPASE planner: Select a parallelism (one configuration per task), Allocate GPUs (a node
// and concrete GPU indices) and SchedulE (start times), minimising the makespan, ties broken by
// lower mean completion time.
//
// Model: every task runs once, non-preemptively, on one node, on a fixed set of that node's GPUs;
// no GPU runs two tasks at once; nodes may differ in GPU count and type.
//
// Solvers (docs/planner.md):
//   heuristic — list scheduling over (order, configuration) with local search; any size.
//   milp      — resource-flow MILP on COIN-OR CBC, warm-started by the heuristic; exact given time.
//   reference — the reference implementation's MILP (per-GPU occupancy, big-M), for benchmarks.
//   auto      — heuristic, then the MILP where the instance is small enough for it to pay.
// Every plan carries a certified lower bound (lower_bound.h) and its gap.
//
// Determinism: for a given seed the result is the same unless the time limit cuts a search
// short (the solver status then says "time-limit").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "saturn/error.h"
#include "saturn/plan.h"
#include "saturn/profile.h"

namespace saturn {

enum class SolverKind { kAuto, kMilp, kHeuristic, kReference };

// "auto" | "milp" | "heuristic" | "reference".
Result<SolverKind> parse_solver_kind(std::string_view name);
std::string to_string(SolverKind kind);

struct PlannerOptions {
  SolverKind solver = SolverKind::kAuto;
  double time_limit_s = 10.0;  // wall-clock budget for the whole solve, seconds, > 0
  std::uint64_t seed = 1;
  bool verbose = false;  // let CBC print its log to stdout
  // Heuristic schedules decoded at most; 0 scales the budget to the instance. Mostly for
  // reproducible runs: a budget the time limit never cuts gives the same plan on any machine.
  long heuristic_evaluations = 0;
  // Independent heuristic searches run side by side (the best wins); 0: one per hardware
  // thread, at most 4. Fix it for results that are the same on every machine.
  int searches = 0;
  // How far off the runtimes may be, as a share (e.g. 0.1: ±10%), in [0, 1). 0 (the default)
  // takes them as exact: the plan minimises the makespan, ties by mean completion. Above 0, among
  // the best distinct plans found (within uncertainty / 4 of the shortest) the planner returns
  // the one with the least expected makespan when every runtime is off by up to that share and
  // the plan is followed in its order (src/solver/robust.h): e.g. short jobs last rather than
  // first, so the error of the long ones can be absorbed.
  double runtime_uncertainty = 0;
};

// Plans every task of `table` from time 0. Errors: an invalid table (see profile.h) or a solver
// that found no plan within the time limit (only `reference` can end that way).
Result<Plan> plan(const ProfileTable& table, const PlannerOptions& options);

// ---- Re-planning (introspection) ------------------------------------------------------------

// A task that is running now, on its current configuration and GPUs.
struct RunningTask {
  std::string task;  // name in the profile table
  int config = 0;    // index into the task's configs
  std::string node;
  std::vector<int> gpus;          // GPU indices it holds on `node`
  double remaining_fraction = 1;  // share of the task's work still to do, in (0, 1]
  double restart_cost_s = 0;      // checkpoint + relaunch + warm-up if it is moved, seconds
};

// GPUs that are not Saturn's to use until a time (another user's job, maintenance).
struct Reservation {
  std::string node;
  std::vector<int> gpus;
  double until_s = 0;  // absolute time, seconds
};

struct ReplanRequest {
  double now_s = 0;                       // absolute time; the new plan starts here
  std::vector<RunningTask> running;       // kept where they are, or restarted elsewhere
  std::vector<std::string> pending;       // tasks not started yet (full work each)
  std::vector<Reservation> reservations;  // GPUs unavailable until a time
  // false: only re-plan the pending tasks around the running ones (one solve, half the time);
  // the result's plan then equals its keep.
  bool allow_restarts = true;
};

struct Replan {
  Plan plan;  // assignments for running and pending tasks; times absolute (>= now_s)
  Plan keep;  // the best plan found that keeps every running task where it is
  // Tasks of `running` that `plan` moves (checkpoint and relaunch), by name.
  std::vector<std::string> restarted;
  // keep.makespan_s - plan.makespan_s, seconds, >= 0. Restart costs are already inside `plan`;
  // the caller decides whether the gain clears its threshold.
  double expected_gain_s = 0;
};

// Plans the remaining work at `now_s`. A running task either keeps its configuration and GPUs
// (ending at now + remaining_fraction * runtime) or restarts on any configuration, taking
// restart_cost_s + remaining_fraction * runtime there.
Result<Replan> replan(const ProfileTable& table, const ReplanRequest& request,
                      const PlannerOptions& options);

}  // namespace saturn
