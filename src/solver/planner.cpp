// plan(): dispatch to the chosen solver, combine its plan with the certified lower bound.
#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "saturn/planner.h"
#include "solver/bounds.h"
#include "solver/flow_milp.h"
#include "solver/heuristic.h"
#include "solver/reference_milp.h"
#include "solver/robust.h"
#include "solver/solve.h"

namespace saturn {
namespace {
using Clock = std::chrono::steady_clock;

// Best distinct schedules each heuristic search keeps for the robust choice.
constexpr int kRobustAlternatives = 8;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

Result<SolverKind> parse_solver_kind(std::string_view name) {
  if (name == "auto") return SolverKind::kAuto;
  if (name == "milp") return SolverKind::kMilp;
  if (name == "heuristic") return SolverKind::kHeuristic;
  if (name == "reference") return SolverKind::kReference;
  return Error{
      "", 0, "solver",
      fmt::format("unknown solver '{}' (expected auto, milp, heuristic or reference)", name)};
}

std::string to_string(SolverKind kind) {
  switch (kind) {
    case SolverKind::kAuto:
      return "auto";
    case SolverKind::kMilp:
      return "milp";
    case SolverKind::kHeuristic:
      return "heuristic";
    case SolverKind::kReference:
      return "reference";
  }
  return "auto";
}

namespace solver {

Solved solve_instance(const Instance& instance, const PlannerOptions& options, double seconds,
                      const Schedule* warm_start) {
  const SolverKind kind = options.solver;
  const bool verbose = options.verbose;
  const Clock::time_point t0 = Clock::now();
  const auto deadline_after = [&](double s) {
    return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  Solved solved;
  solved.name = to_string(kind);
  // The bound's bisection gets a fifth of the time (on large instances it is cut short and
  // weaker, never wrong); the rest goes to the plan.
  solved.lower_bound_s = bound_instance(instance, 0, deadline_after(0.2 * seconds)).best_s;
  bool cut_by_time = false;

  if (kind == SolverKind::kReference) {
    ReferenceResult ref =
        solve_reference_milp(instance, std::max(0.05, 0.85 * seconds - 0.05), verbose);
    solved.lower_bound_s = std::max(solved.lower_bound_s, ref.bound * (1 - 1e-9));
    cut_by_time = ref.stopped_on_time;
    solved.warning = ref.failure;
    solved.schedule = ref.schedule;
    solved.gpus = ref.gpus;
  } else {
    const bool milp = kind == SolverKind::kMilp ||
                      (kind == SolverKind::kAuto && flow_milp_pairs(instance) <= kAutoMilpMaxPairs);
    HeuristicOptions h;
    h.seed = options.seed;
    h.max_evaluations = options.heuristic_evaluations;
    h.searches = options.searches;
    h.deadline = deadline_after(milp ? 0.6 * seconds : seconds);
    h.target_s = solved.lower_bound_s;
    const bool robust = options.runtime_uncertainty > 0;
    // Stopping at the bound would leave no alternatives to weigh.
    if (robust) {
      h.alternatives = kRobustAlternatives;
      h.stop_at_target = false;
    }
    HeuristicResult heur = run_heuristic(instance, h, warm_start);
    solved.schedule = heur.best;
    cut_by_time = heur.hit_deadline;
    const bool proven = solved.schedule.makespan_s <= solved.lower_bound_s * (1 + 1e-9);
    if (milp && !proven) {
      // CBC checks its clock between nodes and overshoots by a few percent; keep a margin.
      const double left = std::max(0.05, 0.85 * (seconds - seconds_since(t0)) - 0.05);
      MilpResult m =
          solve_flow_milp(instance, solved.schedule, solved.lower_bound_s, left, verbose);
      solved.lower_bound_s = std::max(solved.lower_bound_s, m.bound * (1 - 1e-9));
      if (!m.schedule.empty() && better(m.schedule, solved.schedule)) solved.schedule = m.schedule;
      cut_by_time = cut_by_time || m.stopped_on_time;
      if (!m.failure.empty()) solved.warning = m.failure + "; the plan is the heuristic's";
      if (m.optimal) {
        solved.lower_bound_s = std::max(solved.lower_bound_s,
                                        std::min(m.bound, solved.schedule.makespan_s) * (1 - 1e-9));
      }
      if (kind == SolverKind::kAuto) solved.name = "auto(heuristic+milp)";
    } else if (kind == SolverKind::kAuto) {
      solved.name = "auto(heuristic)";
    }
    if (robust) {
      std::vector<Schedule> candidates = {solved.schedule};
      for (Schedule& s : heur.alternatives) candidates.push_back(std::move(s));
      solved.schedule =
          most_robust(instance, candidates, options.runtime_uncertainty, options.seed);
    }
  }
  if (solved.schedule.empty() && !instance.jobs.empty()) {
    solved.status = "no-plan";
  } else if (solved.schedule.makespan_s <= solved.lower_bound_s * (1 + 1e-6)) {
    solved.status = "optimal";
  } else {
    solved.status = cut_by_time ? "time-limit" : "feasible";
  }
  return solved;
}

Plan make_plan(const Instance& instance, const ProfileTable& table, const Solved& solved,
               double origin_s, double solve_s) {
  Plan plan = to_plan(instance, table, solved.schedule, origin_s,
                      solved.gpus.empty() ? nullptr : &solved.gpus);
  plan.lower_bound_s = origin_s + std::min(solved.lower_bound_s, solved.schedule.makespan_s);
  const double span = plan.makespan_s - origin_s;
  const double bound = plan.lower_bound_s - origin_s;
  plan.gap = bound > 0 ? std::max(0.0, span / bound - 1) : 0.0;
  if (plan.gap < 1e-6) plan.gap = 0;
  plan.solver = {solved.name, solved.status, solve_s, solved.warning};
  return plan;
}

}  // namespace solver

Result<Plan> plan(const ProfileTable& table, const PlannerOptions& options) {
  if (!(options.time_limit_s > 0) || !std::isfinite(options.time_limit_s)) {
    return Error{"", 0, "time-limit", "must be a positive number of seconds"};
  }
  if (!(options.runtime_uncertainty >= 0 && options.runtime_uncertainty < 1)) {
    return Error{"", 0, "runtime-uncertainty", "must be a share in [0, 1)"};
  }
  const Clock::time_point t0 = Clock::now();
  const solver::Instance instance = solver::make_instance(table);
  for (const solver::Job& job : instance.jobs) {
    if (job.modes.empty()) {
      return Error{"", 0, "tasks." + job.name, "no configuration fits any node of the cluster"};
    }
  }
  const solver::Solved solved = solver::solve_instance(instance, options, options.time_limit_s);
  if (solved.status == "no-plan") {
    return Error{"", 0, "solver",
                 fmt::format("{} found no plan within {} s (try --solver auto or a longer "
                             "--time-limit)",
                             solved.name, options.time_limit_s)};
  }
  return solver::make_plan(instance, table, solved, 0.0, seconds_since(t0));
}

}  // namespace saturn
