// The discrete-event loop of simulate(): true runtimes, progress, policy calls, plan-order
// dispatch, checkpoints and restarts. See include/saturn/simulator.h for the model.
#include "saturn/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "saturn/lower_bound.h"
#include "saturn/plan_order.h"
#include "saturn/policy.h"

namespace saturn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Times within this many seconds are one instant; far below any runtime we simulate.
constexpr double kEps = 1e-6;

Error sim_error(const std::string& field, const std::string& message) {
  return Error{"", 0, field, message};
}

struct TaskState {
  JobState state = JobState::kPending;
  double remaining = 1;  // fraction of the work
  bool started_once = false;
  double slowdown = 1;  // last observed true/profile runtime ratio
  bool observed = false;
  // Current segment (kRunning).
  int config = -1;
  int node = -1;
  std::vector<int> gpus;
  double segment_start = 0;
  double restart_until = 0;  // no progress before this time
  double progress_from = 0;  // time of the last progress update
  double remaining_at_segment = 1;
  double segment_restart = 0;
};

struct Queued {
  int task;
  int config;
  int node;
  std::vector<int> gpus;
  double start_s;
};

class Simulation {
 public:
  Simulation(const ProfileTable& table, Policy& policy, const SimulationOptions& options)
      : table_(table), policy_(policy), options_(options) {
    factors_ = true_runtime_factors(table, options);
    tasks_.resize(table.tasks.size());
    busy_.resize(table.cluster.nodes.size());
    for (size_t n = 0; n < table.cluster.nodes.size(); ++n) {
      busy_[n].assign(table.cluster.nodes[n].gpus, -1);
    }
    result_.policy = policy.name();
    result_.finish_s.assign(table.tasks.size(), 0);
    for (size_t i = 0; i < table.tasks.size(); ++i) {
      task_of_[table.tasks[i].name] = static_cast<int>(i);
    }
  }

  Result<SimulationResult> run() {
    if (auto s = call_policy(PolicyEvent::kStart); !s.ok()) return s.error();
    double next_tick = policy_.introspects() ? options_.introspection_interval_s : kInf;
    long events = 0;
    while (done_count_ < tasks_.size()) {
      if (++events > options_.max_events) {
        return sim_error("simulate", fmt::format("policy {} did not finish the jobs within {} "
                                                 "events",
                                                 policy_.name(), options_.max_events));
      }
      const double next_finish = next_completion();
      if (!std::isfinite(next_finish)) {
        return sim_error(
            "simulate",
            fmt::format("policy {} left {} job(s) unscheduled at t = {:.0f} s with every GPU "
                        "idle (first: {})",
                        policy_.name(), tasks_.size() - done_count_, now_, first_unfinished()));
      }
      const double t = std::min(next_finish, next_tick);
      advance_to(t);
      const bool finished = finish_jobs();
      const bool tick = t >= next_tick - kEps;
      if (tick) next_tick += options_.introspection_interval_s;
      if (done_count_ == tasks_.size()) break;
      if (tick) {
        if (auto s = call_policy(PolicyEvent::kIntrospection); !s.ok()) return s.error();
      } else if (finished) {
        if (auto s = call_policy(PolicyEvent::kJobFinished); !s.ok()) return s.error();
      }
    }
    finish_result();
    return std::move(result_);
  }

 private:
  double true_runtime(int task, int config) const {
    return table_.tasks[task].configs[config].runtime_s * factors_[task][config];
  }

  double restart_cost(int task) const {
    const double r = table_.tasks[task].restart_s;
    return r > 0 ? r : options_.default_restart_s;
  }

  double completion(const TaskState& s, int task) const {
    return std::max(s.progress_from, s.restart_until) + s.remaining * true_runtime(task, s.config);
  }

  double next_completion() const {
    double best = kInf;
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (tasks_[i].state == JobState::kRunning) {
        best = std::min(best, completion(tasks_[i], static_cast<int>(i)));
      }
    }
    return best;
  }

  std::string first_unfinished() const {
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (tasks_[i].state != JobState::kDone) return table_.tasks[i].name;
    }
    return "";
  }

  // Moves progress of every running job forward to `t`.
  void advance_to(double t) {
    for (size_t i = 0; i < tasks_.size(); ++i) {
      TaskState& s = tasks_[i];
      if (s.state != JobState::kRunning) continue;
      const double from = std::max(s.progress_from, s.restart_until);
      if (t > from) {
        s.remaining = std::max(0.0, s.remaining - (t - from) / true_runtime(i, s.config));
      }
      s.progress_from = std::max(s.progress_from, t);
      // What a policy can observe: progress over time spent computing in this segment.
      const double computing = t - (s.segment_start + s.segment_restart);
      const double done = s.remaining_at_segment - s.remaining;
      if (computing > kEps && done > 0) {
        s.slowdown = computing / (done * table_.tasks[i].configs[s.config].runtime_s);
        s.observed = true;
      }
    }
    now_ = t;
  }

  bool finish_jobs() {
    bool any = false;
    for (size_t i = 0; i < tasks_.size(); ++i) {
      TaskState& s = tasks_[i];
      if (s.state != JobState::kRunning) continue;
      if (completion(s, static_cast<int>(i)) > now_ + kEps) continue;
      close_segment(static_cast<int>(i), true);
      s.state = JobState::kDone;
      s.remaining = 0;
      result_.finish_s[i] = now_;
      ++done_count_;
      any = true;
    }
    if (any) dispatch();
    return any;
  }

  void close_segment(int task, bool finished) {
    TaskState& s = tasks_[task];
    Segment seg;
    seg.task = table_.tasks[task].name;
    seg.config = s.config;
    seg.technique = table_.tasks[task].configs[s.config].technique;
    seg.node = table_.cluster.nodes[s.node].name;
    seg.gpus = s.gpus;
    seg.start_s = s.segment_start;
    seg.end_s = now_;
    seg.restart_s = std::min(s.segment_restart, now_ - s.segment_start);
    seg.finished = finished;
    result_.segments.push_back(std::move(seg));
    if (!finished) ++result_.reconfigurations;
    for (int g : s.gpus) busy_[s.node][g] = -1;
  }

  PolicyContext context(PolicyEvent event) const {
    PolicyContext c;
    c.now_s = now_;
    c.event = event;
    c.table = &table_;
    c.options = &options_;
    for (size_t i = 0; i < tasks_.size(); ++i) {
      const TaskState& s = tasks_[i];
      JobView v;
      v.state = s.state;
      v.remaining_fraction = s.remaining;
      v.restart_s = restart_cost(static_cast<int>(i));
      v.observed_slowdown = s.slowdown;
      v.observed = s.observed;
      v.finished_s = result_.finish_s[i];
      if (s.state == JobState::kRunning) {
        v.config = s.config;
        v.node = table_.cluster.nodes[s.node].name;
        v.gpus = s.gpus;
        v.segment_start_s = s.segment_start;
      }
      c.jobs.push_back(std::move(v));
    }
    return c;
  }

  Status call_policy(PolicyEvent event) {
    ++result_.policy_calls;
    Result<std::optional<Plan>> decision = policy_.decide(context(event));
    if (!decision.ok()) return decision.error();
    if (!decision->has_value()) return {};
    if (auto s = apply(**decision); !s.ok()) return s;
    dispatch();
    return {};
  }

  Result<Queued> check_assignment(const Assignment& a) const {
    auto c = saturn::check_assignment(
        a, table_, task_of_, [&](int task) { return tasks_[task].state == JobState::kDone; },
        policy_.name());
    if (!c) return c.error();
    return Queued{c->task, c->config, c->node, std::move(c->gpus), c->start_s};
  }

  Status apply(const Plan& plan) {
    std::vector<Queued> queue;
    std::set<int> listed;
    for (const Assignment& a : in_plan_order(plan.assignments)) {
      Result<Queued> q = check_assignment(a);
      if (!q.ok()) return q.error();
      if (!listed.insert(q->task).second) {
        return sim_error(fmt::format("policy {}", policy_.name()),
                         fmt::format("task '{}' assigned twice", a.task));
      }
      TaskState& s = tasks_[q->task];
      if (s.state == JobState::kRunning) {
        if (s.config == q->config && s.node == q->node && s.gpus == q->gpus) continue;
        close_segment(q->task, false);  // checkpoint: progress is kept
        s.state = JobState::kPending;
      }
      queue.push_back(std::move(*q));
    }
    queue_ = std::move(queue);
    return {};
  }

  // Starts the queued jobs plan order allows (saturn/plan_order.h).
  void dispatch() {
    std::vector<QueuedStart> starts;
    for (const Queued& q : queue_) starts.push_back({q.node, q.gpus});
    std::vector<std::vector<char>> held;
    for (const auto& gpus : busy_) {
      held.emplace_back();
      for (int task : gpus) held.back().push_back(task >= 0);
    }
    const std::vector<std::size_t> now = startable(starts, held);
    std::vector<Queued> waiting;
    std::size_t next = 0;
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      if (next < now.size() && now[next] == i) {
        start(queue_[i]);
        ++next;
      } else {
        waiting.push_back(std::move(queue_[i]));
      }
    }
    queue_ = std::move(waiting);
  }

  void start(const Queued& q) {
    TaskState& s = tasks_[q.task];
    s.state = JobState::kRunning;
    s.config = q.config;
    s.node = q.node;
    s.gpus = q.gpus;
    s.segment_start = now_;
    s.segment_restart = s.started_once ? restart_cost(q.task) : 0;
    s.restart_until = now_ + s.segment_restart;
    s.progress_from = now_;
    s.remaining_at_segment = s.remaining;
    s.started_once = true;
    for (int g : q.gpus) busy_[q.node][g] = q.task;
  }

  void finish_result() {
    result_.makespan_s = 0;
    double held = 0;
    for (const Segment& seg : result_.segments) {
      result_.makespan_s = std::max(result_.makespan_s, seg.end_s);
      held += (seg.end_s - seg.start_s) * static_cast<double>(seg.gpus.size());
    }
    const double capacity = table_.cluster.total_gpus() * result_.makespan_s;
    result_.gpu_utilisation = capacity > 0 ? held / capacity : 0;
    std::stable_sort(result_.segments.begin(), result_.segments.end(),
                     [](const Segment& a, const Segment& b) { return a.start_s < b.start_s; });
    result_.lower_bound_s = compute_lower_bound(table_).best_s;
    ProfileTable truth = table_;
    for (size_t i = 0; i < truth.tasks.size(); ++i) {
      for (size_t c = 0; c < truth.tasks[i].configs.size(); ++c) {
        truth.tasks[i].configs[c].runtime_s *= factors_[i][c];
      }
    }
    result_.true_lower_bound_s = compute_lower_bound(truth).best_s;
  }

  const ProfileTable& table_;
  Policy& policy_;
  const SimulationOptions& options_;
  std::vector<std::vector<double>> factors_;
  std::vector<TaskState> tasks_;
  std::vector<std::vector<int>> busy_;  // [node][gpu] -> running task or -1
  std::vector<Queued> queue_;
  std::map<std::string, int> task_of_;  // task name -> index
  size_t done_count_ = 0;
  double now_ = 0;
  SimulationResult result_;
};

}  // namespace

PlannerOptions SimulationOptions::default_planner_options() {
  PlannerOptions p;
  p.solver = SolverKind::kHeuristic;
  p.time_limit_s = 30;
  p.heuristic_evaluations = 20000;
  p.searches = 2;
  p.runtime_uncertainty = 0.1;
  return p;
}

std::vector<std::vector<double>> true_runtime_factors(const ProfileTable& table,
                                                      const SimulationOptions& options) {
  if (!options.true_factors.empty()) return options.true_factors;
  std::mt19937_64 rng(options.seed * 0x9E3779B97F4A7C15ULL + 17);
  std::uniform_real_distribution<double> draw(-1.0, 1.0);
  std::vector<std::vector<double>> factors;
  // Draws happen whatever the errors are, so a seed gives the same stream for every setting.
  for (const Task& task : table.tasks) {
    const double job = 1.0 + options.runtime_error * draw(rng);
    std::vector<double> f;
    for (size_t c = 0; c < task.configs.size(); ++c) {
      f.push_back(job * (1.0 + options.config_error * draw(rng)));
    }
    factors.push_back(std::move(f));
  }
  return factors;
}

Result<SimulationResult> simulate(const ProfileTable& table, Policy& policy,
                                  const SimulationOptions& options) {
  if (!(options.runtime_error >= 0 && options.runtime_error < 1)) {
    return sim_error("runtime-error", "must be in [0, 1)");
  }
  if (!(options.config_error >= 0 && options.config_error < 1)) {
    return sim_error("config-error", "must be in [0, 1)");
  }
  if (!(options.introspection_interval_s > 0) || !std::isfinite(options.introspection_interval_s)) {
    return sim_error("interval", "must be a positive number of seconds");
  }
  if (!(options.default_restart_s >= 0) || !std::isfinite(options.default_restart_s)) {
    return sim_error("restart-s", "must be a non-negative number of seconds");
  }
  if (!(options.switch_threshold >= 0) || !std::isfinite(options.switch_threshold)) {
    return sim_error("switch-threshold", "must be a non-negative fraction");
  }
  if (!options.true_factors.empty()) {
    bool shaped = options.true_factors.size() == table.tasks.size();
    for (size_t t = 0; shaped && t < table.tasks.size(); ++t) {
      shaped = options.true_factors[t].size() == table.tasks[t].configs.size() &&
               std::all_of(options.true_factors[t].begin(), options.true_factors[t].end(),
                           [](double f) { return f > 0 && std::isfinite(f); });
    }
    if (!shaped) return sim_error("true_factors", "need one factor > 0 per task and config");
  }
  if (table.tasks.empty()) {
    SimulationResult empty;
    empty.policy = policy.name();
    return empty;
  }
  return Simulation(table, policy, options).run();
}

}  // namespace saturn
