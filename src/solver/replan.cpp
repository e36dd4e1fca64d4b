// replan(): the introspection entry point. Running tasks become jobs with a "keep" mode (stay on
// their GPUs for the remaining work) and restart modes (any configuration, remaining work plus
// the restart cost); pending tasks are planned afresh; reservations become blocks. Two solves:
// one with every running task kept (the baseline) and one free to restart, warm-started from it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "saturn/planner.h"
#include "solver/solve.h"

namespace saturn {
namespace {
using Clock = std::chrono::steady_clock;

Error request_error(const std::string& field, const std::string& message) {
  return Error{"", 0, field, message};
}

// Task indices by name.
class TaskIndex {
 public:
  explicit TaskIndex(const ProfileTable& table) {
    for (size_t t = 0; t < table.tasks.size(); ++t) {
      index_.emplace(table.tasks[t].name, static_cast<int>(t));
    }
  }
  int find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? -1 : it->second;
  }

 private:
  std::map<std::string, int> index_;
};

// Every configuration of task `t` that fits a node, with its duration scaled by `fraction` of
// the work plus `extra_s`.
std::vector<solver::Mode> scaled_modes(const ProfileTable& table, solver::NodeFits& fits, int t,
                                       double fraction, double extra_s) {
  std::vector<solver::Mode> modes;
  const Task& task = table.tasks[t];
  for (size_t c = 0; c < task.configs.size(); ++c) {
    solver::Mode mode;
    mode.config = static_cast<int>(c);
    mode.gpus = task.configs[c].gpus;
    mode.duration_s = extra_s + fraction * task.configs[c].runtime_s;
    mode.nodes = fits.of(task.configs[c]);
    if (!mode.nodes.empty()) modes.push_back(std::move(mode));
  }
  return modes;
}

Result<solver::Instance> build_instance(const ProfileTable& table, const ReplanRequest& request) {
  solver::Instance instance;
  for (const Node& node : table.cluster.nodes) instance.node_gpus.push_back(node.gpus);
  std::set<std::string> seen;
  const TaskIndex tasks(table);
  solver::NodeFits fits(table.cluster);
  // held[node] = GPUs already claimed by running tasks or reservations.
  std::vector<std::set<int>> held(table.cluster.nodes.size());
  for (size_t r = 0; r < request.running.size(); ++r) {
    const RunningTask& run = request.running[r];
    const std::string field = fmt::format("running[{}]", r);
    const int t = tasks.find(run.task);
    if (t < 0) return request_error(field + ".task", fmt::format("unknown task '{}'", run.task));
    if (!seen.insert(run.task).second) {
      return request_error(field + ".task", fmt::format("task '{}' listed twice", run.task));
    }
    const Task& task = table.tasks[t];
    if (run.config < 0 || run.config >= static_cast<int>(task.configs.size())) {
      return request_error(field + ".config",
                           fmt::format("no config {} in task '{}'", run.config, run.task));
    }
    const int node = table.cluster.find_node(run.node);
    if (node < 0) return request_error(field + ".node", fmt::format("unknown node '{}'", run.node));
    const Config& config = task.configs[run.config];
    if (static_cast<int>(run.gpus.size()) != config.gpus) {
      return request_error(field + ".gpus", fmt::format("holds {} GPUs but its config uses {}",
                                                        run.gpus.size(), config.gpus));
    }
    for (int g : run.gpus) {
      if (g < 0 || g >= table.cluster.nodes[node].gpus || !held[node].insert(g).second) {
        return request_error(field + ".gpus", fmt::format("GPU {} of node '{}' is invalid or "
                                                          "already held",
                                                          g, run.node));
      }
    }
    if (!(run.remaining_fraction > 0 && run.remaining_fraction <= 1)) {
      return request_error(field + ".remaining_fraction", "must be in (0, 1]");
    }
    if (!(run.restart_cost_s >= 0) || !std::isfinite(run.restart_cost_s)) {
      return request_error(field + ".restart_cost_s", "must be a finite number >= 0");
    }
    solver::Job job;
    job.name = run.task;
    job.task = t;
    job.running = true;
    solver::Mode keep;
    keep.config = run.config;
    keep.gpus = config.gpus;
    keep.duration_s = run.remaining_fraction * config.runtime_s;
    keep.nodes = {node};
    keep.keep = true;
    keep.keep_gpus = run.gpus;
    std::sort(keep.keep_gpus.begin(), keep.keep_gpus.end());
    job.modes.push_back(std::move(keep));
    for (solver::Mode& m :
         scaled_modes(table, fits, t, run.remaining_fraction, run.restart_cost_s)) {
      job.modes.push_back(std::move(m));
    }
    solver::drop_dominated_modes(job);
    instance.jobs.push_back(std::move(job));
  }
  for (size_t p = 0; p < request.pending.size(); ++p) {
    const std::string field = fmt::format("pending[{}]", p);
    const int t = tasks.find(request.pending[p]);
    if (t < 0) return request_error(field, fmt::format("unknown task '{}'", request.pending[p]));
    if (!seen.insert(request.pending[p]).second) {
      return request_error(field, fmt::format("task '{}' listed twice", request.pending[p]));
    }
    solver::Job job;
    job.name = request.pending[p];
    job.task = t;
    job.modes = scaled_modes(table, fits, t, 1.0, 0.0);
    solver::drop_dominated_modes(job);
    if (job.modes.empty()) return request_error(field, "no configuration fits any node");
    instance.jobs.push_back(std::move(job));
  }
  for (size_t r = 0; r < request.reservations.size(); ++r) {
    const Reservation& res = request.reservations[r];
    const std::string field = fmt::format("reservations[{}]", r);
    const int node = table.cluster.find_node(res.node);
    if (node < 0) return request_error(field + ".node", fmt::format("unknown node '{}'", res.node));
    for (int g : res.gpus) {
      if (g < 0 || g >= table.cluster.nodes[node].gpus || !held[node].insert(g).second) {
        return request_error(field + ".gpus", fmt::format("GPU {} of node '{}' is invalid or "
                                                          "already held",
                                                          g, res.node));
      }
    }
    if (res.until_s > request.now_s && !res.gpus.empty()) {
      instance.blocks.push_back({node, res.gpus, res.until_s - request.now_s});
    }
  }
  return instance;
}

}  // namespace

Result<Replan> replan(const ProfileTable& table, const ReplanRequest& request,
                      const PlannerOptions& options) {
  if (!(options.time_limit_s > 0) || !std::isfinite(options.time_limit_s)) {
    return Error{"", 0, "time-limit", "must be a positive number of seconds"};
  }
  if (!(options.runtime_uncertainty >= 0 && options.runtime_uncertainty < 1)) {
    return Error{"", 0, "runtime-uncertainty", "must be a share in [0, 1)"};
  }
  if (!std::isfinite(request.now_s) || request.now_s < 0) {
    return Error{"", 0, "now_s", "must be a finite time >= 0"};
  }
  const Clock::time_point t0 = Clock::now();
  Result<solver::Instance> built = build_instance(table, request);
  if (!built.ok()) return built.error();
  const solver::Instance& instance = *built;
  PlannerOptions solve_options = options;
  if (solve_options.solver == SolverKind::kReference) solve_options.solver = SolverKind::kAuto;

  // Baseline: every running task stays where it is (only its keep mode, index 0).
  solver::Instance kept = instance;
  for (solver::Job& job : kept.jobs) {
    if (job.running) job.modes.resize(1);
  }
  const double half = options.time_limit_s / (request.allow_restarts ? 2 : 1);
  const solver::Solved keep = solver::solve_instance(kept, solve_options, half);
  solver::Solved best = request.allow_restarts
                            ? solver::solve_instance(instance, solve_options, half, &keep.schedule)
                            : keep;
  if (best.schedule.empty() || solver::better(keep.schedule, best.schedule)) {
    const double bound = best.lower_bound_s;
    best = keep;
    best.lower_bound_s = std::min(bound, keep.schedule.makespan_s);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();

  Replan out;
  out.keep = solver::make_plan(kept, table, keep, request.now_s, elapsed);
  out.plan = solver::make_plan(instance, table, best, request.now_s, elapsed);
  for (size_t j = 0; j < instance.jobs.size(); ++j) {
    const solver::Job& job = instance.jobs[j];
    if (job.running && !job.modes[best.schedule.jobs[j].mode].keep)
      out.restarted.push_back(job.name);
  }
  out.expected_gain_s = std::max(0.0, out.keep.makespan_s - out.plan.makespan_s);
  return out;
}

}  // namespace saturn
