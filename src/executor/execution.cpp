// Execution: setup, the main loop and its rounds; see execution.h. execute_workload() is here.
#include "executor/execution.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "saturn/plan.h"
#include "saturn/run_layout.h"
#include "saturn/worker_protocol.h"

namespace saturn {
namespace exec {

namespace fs = std::filesystem;

// Seconds between looks at the processes while nothing arrives, and so between looks at the stop
// flag.
constexpr double kPollS = 0.2;
// Run-clock times this close are one instant (introspection ticks against event times), as in
// the simulator.
constexpr double kEps = 1e-6;

Execution::Execution(const Workload& workload, const ProfileTable& table, const Library& library,
                     RunStore& store, Backend& backend, const std::vector<DeviceSlots>& nodes,
                     const ExecutorOptions& options, Policy& policy)
    : workload_(workload),
      library_(library),
      store_(store),
      backend_(backend),
      nodes_(nodes),
      options_(options),
      policy_(policy),
      profiles_(table) {
  profiles_.cluster = cluster_of(nodes);
  summary_.policy = policy.name();
}

void Execution::log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

bool Execution::unfinished(const Live& l) const {
  return l.rec.state != JobStatus::kDone && l.rec.state != JobStatus::kFailed;
}

// When a job that is not marked done finished all the same (its worker reported `done` after
// checkpointing its last step, and the orchestrator died before it saw the exit): the run clock
// of that `done`; -1 otherwise.
Result<double> Execution::finished_before(const JobRecord& rec) {
  if (rec.state == JobStatus::kDone || rec.total_steps <= 0 ||
      rec.checkpoint_step < rec.total_steps) {
    return -1.0;
  }
  auto done = store_.events(rec.name, std::string(protocol::kDone));
  if (!done) return done.error();
  return done->empty() ? -1.0 : done->back().first;
}

// Jobs, with what an earlier invocation left: a job that was running or failed before goes on
// from its newest checkpoint.
Status Execution::load_jobs() {
  std::map<std::string, JobRecord> previous;
  auto stored = store_.jobs();
  if (!stored) return stored.error();
  for (JobRecord& j : *stored) previous[j.name] = std::move(j);
  std::map<std::string, std::size_t> task_of;
  for (std::size_t i = 0; i < profiles_.tasks.size(); ++i) {
    task_of.emplace(profiles_.tasks[i].name, i);
  }
  for (const JobSpec& job : workload_.jobs) {
    Live l;
    const auto it = task_of.find(job.name);
    if (it == task_of.end()) {
      return Error{workload_.source, job.origin.line, job.origin.field,
                   fmt::format("job {} has no profile", job.name)};
    }
    l.task = it->second;
    if (auto p = previous.find(job.name); p != previous.end()) {
      l.rec = p->second;
      auto finished = finished_before(l.rec);
      if (!finished) return finished.error();
      if (*finished >= 0) {  // done, but its orchestrator died before it saw the exit
        l.rec.state = JobStatus::kDone;
        l.rec.finished_s = *finished;
        l.rec.step = l.rec.total_steps;
      } else if (l.rec.state != JobStatus::kDone) {
        l.rec.state = JobStatus::kPending;
        l.rec.attempts = 0;
        l.rec.step = l.rec.checkpoint_step;  // the newest checkpoint its events reported
      }
    } else {
      l.rec.name = job.name;
    }
    if (l.rec.total_steps <= 0) l.rec.total_steps = job.steps;
    if (auto s = store_.put_job(l.rec); !s) return s.error();
    task_of_[job.name] = static_cast<int>(jobs_.size());
    jobs_.push_back(std::move(l));
  }
  // The policy sees one job per task: task i of the table it plans from is job i. Each must fit
  // some node, or no policy could place it.
  ProfileTable kept = profiles_;
  kept.tasks.clear();
  for (Live& l : jobs_) {
    const Task& task = profiles_.tasks[l.task];
    const bool fits = std::any_of(task.configs.begin(), task.configs.end(), [&](const Config& c) {
      return std::any_of(profiles_.cluster.nodes.begin(), profiles_.cluster.nodes.end(),
                         [&](const Node& n) { return config_fits(c, n); });
    });
    if (unfinished(l) && !fits) {
      return Error{"", 0, fmt::format("job {}", task.name),
                   "no configuration of its profile fits any node of this cluster"};
    }
    kept.tasks.push_back(task);
    l.task = kept.tasks.size() - 1;
  }
  profiles_ = std::move(kept);
  return Status::Ok();
}

// Nothing left to run: what the run did before.
ExecutionSummary Execution::earlier_summary() {
  ExecutionSummary summary = summary_;
  summary.done = static_cast<int>(jobs_.size());
  for (const Live& l : jobs_) summary.makespan_s = std::max(summary.makespan_s, l.rec.finished_s);
  if (auto stored = store_.meta(run_meta::kPlan); stored && *stored) {
    if (auto plan = parse_plan_json(**stored)) summary.planned_makespan_s = plan->makespan_s;
  }
  return summary;
}

Status Execution::first_decision() {
  if (auto s = store_.set_meta(run_meta::kPolicy, policy_.name()); !s) return s;
  auto decision = policy_.decide(context(PolicyEvent::kStart));
  if (!decision) return decision.error();
  if (!*decision) return Status::Ok();
  const Plan& plan = **decision;
  summary_.planned_makespan_s = plan.makespan_s;
  if (auto s = store_.set_meta(run_meta::kPlan, to_json(plan).dump()); !s) return s;
  if (!plan.solver.status.empty()) {
    log(fmt::format("plan ({}): makespan {:.0f} s (lower bound {:.0f} s, {})", policy_.name(),
                    plan.makespan_s, plan.lower_bound_s, plan.solver.status));
  } else {
    log(fmt::format("plan ({}): {} job(s) placed first", policy_.name(), plan.assignments.size()));
  }
  return apply(plan);
}

bool Execution::any_running() const {
  return std::any_of(jobs_.begin(), jobs_.end(),
                     [](const Live& l) { return l.process != nullptr; });
}

bool Execution::any_pending() const {
  return std::any_of(jobs_.begin(), jobs_.end(),
                     [](const Live& l) { return l.rec.state == JobStatus::kPending; });
}

// SIGTERM to every worker (each checkpoints and stops); SIGKILL to those still running after
// stop_grace_s.
void Execution::stop_all() {
  if (!stopping_) {
    stopping_ = true;
    stop_deadline_ = now() + options_.stop_grace_s;
    log("stopping: every running job checkpoints");
    for (Live& l : jobs_) {
      if (l.process) l.process->signal(SIGTERM);
    }
    return;
  }
  if (now() <= stop_deadline_) return;
  for (Live& l : jobs_) {
    if (!l.process) continue;
    log(fmt::format("{} did not stop within {:.0f} s: killed (it resumes from its last checkpoint)",
                    l.rec.name, options_.stop_grace_s));
    l.process->signal(SIGKILL);
  }
  stop_deadline_ = now() + 3600;  // once
}

// A moved job that has not stopped stop_grace_s after its SIGTERM is killed: it resumes from its
// last periodic checkpoint, and the jobs queued behind its devices need not wait for its end.
void Execution::kill_overdue_moves() {
  for (Live& l : jobs_) {
    if (!l.process || !l.switching || l.stop_sent_s < 0) continue;
    if (now() - l.stop_sent_s <= options_.stop_grace_s) continue;
    log(
        fmt::format("{} did not stop within {:.0f} s of its move: killed (it resumes from its last "
                    "checkpoint)",
                    l.rec.name, options_.stop_grace_s));
    l.process->signal(SIGKILL);
    l.stop_sent_s = -1;  // once
  }
}

// Nothing runs but jobs wait: their assignments are gone or can never start. The policy places
// them again; if still nothing can start, no node can run them.
Status Execution::when_idle() {
  if (auto s = decide(PolicyEvent::kReplan); !s) return s;
  if (auto s = dispatch(); !s) return s;
  if (any_running() || !any_pending()) return Status::Ok();
  std::string waiting;
  for (const Live& l : jobs_) {
    if (l.rec.state == JobStatus::kPending) waiting += (waiting.empty() ? "" : ", ") + l.rec.name;
  }
  return Error{"", 0, "",
               fmt::format("policy {} placed none of the waiting jobs on these devices ({})",
                           policy_.name(), waiting)};
}

// Waits for the workers, takes in what they reported, then lets the policy react: as the
// simulator does, jobs that left their devices make room first (dispatch), then one policy call
// for the instant — introspection when it is due, else a completion.
Status Execution::round() {
  double timeout = kPollS;
  if (policy_.introspects() && !stopping_) {
    timeout = std::min(timeout, std::max(0.0, next_tick_ - now()));
  }
  std::vector<Live*> watched;
  std::vector<Process*> running;
  for (Live& l : jobs_) {
    if (!l.process) continue;
    watched.push_back(&l);
    running.push_back(l.process.get());
  }
  // This round's writes as one transaction, rolled back if the round ends in an error (a
  // deferred transaction: nothing is locked while the processes are waited for).
  struct Transaction {
    RunStore& store;
    bool open = false;
    ~Transaction() {
      if (open) (void)store.rollback();
    }
  } transaction{store_};
  if (auto s = store_.begin(); !s) return s;
  transaction.open = true;
  bool exited = false;
  auto line = [&](std::size_t i, const std::string& text) { return on_line(*watched[i], text); };
  auto exit = [&](std::size_t i, int code) {
    exited = true;
    return on_exit(*watched[i], code);
  };
  if (auto s = watch_processes(backend_, running, timeout, line, exit); !s) return s;
  if (auto s = clock_->save(store_); !s) return s;
  transaction.open = false;
  if (auto s = store_.commit(); !s) return s;
  if (stopping_ || stop_requested()) return Status::Ok();  // nothing new starts now
  if (exited) {
    if (auto s = dispatch(); !s) return s;
  }
  const bool tick = policy_.introspects() && now() >= next_tick_ - kEps;
  while (policy_.introspects() && next_tick_ <= now() + kEps) {
    next_tick_ += options_.introspection_interval_s;
  }
  const bool finished = finished_now_;
  finished_now_ = false;
  if (tick || finished) {
    if (auto s = decide(tick ? PolicyEvent::kIntrospection : PolicyEvent::kJobFinished); !s) {
      return s;
    }
  }
  if (replan_needed_) {
    replan_needed_ = false;
    if (auto s = decide(PolicyEvent::kReplan); !s) return s;
  }
  return Status::Ok();
}

Result<ExecutionSummary> Execution::run() {
  auto clock = RunClock::resume(store_, [this] { return backend_.now_s(); });
  if (!clock) return clock.error();
  clock_ = std::move(*clock);
  std::error_code ec;
  fs::create_directories(RunDir(options_.run_dir).subdir(RunDir::kCheckpointsDir), ec);
  fs::create_directories(RunDir(options_.run_dir).subdir(RunDir::kLogsDir), ec);
  if (auto s = load_jobs(); !s) return s.error();
  if (std::none_of(jobs_.begin(), jobs_.end(), [this](const Live& l) { return unfinished(l); })) {
    return earlier_summary();
  }
  if (auto s = first_decision(); !s) return s.error();
  next_tick_ = now() + options_.introspection_interval_s;
  for (;;) {
    if (stop_requested()) stop_all();
    kill_overdue_moves();
    if (!stopping_) {
      if (auto s = dispatch(); !s) return s.error();
    }
    if (!any_running()) {
      if (stopping_ || !any_pending()) break;
      if (auto s = when_idle(); !s) return s.error();
      continue;
    }
    if (auto s = round(); !s) return s.error();
  }
  if (failed_) return *failed_;  // the policy failed: every worker has checkpointed and stopped
  if (auto s = clock_->save(store_, /*force=*/true); !s) return s.error();  // as the run leaves it
  for (const Live& l : jobs_) {
    summary_.done += l.rec.state == JobStatus::kDone;
    summary_.failed += l.rec.state == JobStatus::kFailed;
    summary_.pending += l.rec.state == JobStatus::kPending || l.rec.state == JobStatus::kRunning;
    if (l.rec.finished_s > 0) summary_.makespan_s = std::max(summary_.makespan_s, l.rec.finished_s);
  }
  summary_.stopped = stopping_;
  return summary_;
}

}  // namespace exec

Result<ExecutionSummary> execute_workload(const Workload& workload, const ProfileTable& table,
                                          const Library& library, RunStore& store, Backend& backend,
                                          const std::vector<DeviceSlots>& nodes,
                                          const ExecutorOptions& options) {
  if (nodes.empty()) return Error{"", 0, "nodes", "a run needs at least one node"};
  std::set<std::string> names;
  for (const DeviceSlots& n : nodes) {
    if (n.count <= 0 || !names.insert(n.node).second) {
      return Error{"", 0, "nodes",
                   fmt::format("node '{}' is named twice or has no device slots", n.node)};
    }
  }
  if (!(options.introspection_interval_s > 0)) {
    return Error{"", 0, "interval", "must be a positive number of seconds"};
  }
  auto policy = make_policy(options.policy, options.seed);
  if (!policy) return policy.error();
  return exec::Execution(workload, table, library, store, backend, nodes, options, **policy).run();
}

}  // namespace saturn
