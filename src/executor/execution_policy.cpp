// Execution and its policy: what the policy sees of each job (observed progress), how its plan
// becomes the queue and moves running jobs, and plan-order dispatch; see execution.h.
#include <signal.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "executor/execution.h"
#include "saturn/plan_order.h"
#include "saturn/run_events.h"

namespace saturn::exec {

JobView Execution::view(const Live& l) const {
  JobView v;
  if (!unfinished(l)) {
    v.state = JobState::kDone;
    v.remaining_fraction = 0;
    v.finished_s = l.rec.finished_s;
  } else if (l.process && !l.switching) {
    v.state = JobState::kRunning;
    v.config = l.running_config;
    v.node = nodes_[static_cast<std::size_t>(l.running_node)].node;
    v.gpus = l.running_gpus;
    v.segment_start_s = l.launched_s;
  }
  if (v.state != JobState::kDone && l.rec.total_steps > 0) {
    v.remaining_fraction = std::clamp(static_cast<double>(l.rec.total_steps - l.rec.step) /
                                          static_cast<double>(l.rec.total_steps),
                                      1e-3, 1.0);
  }
  const double profiled = profiles_.tasks[l.task].restart_s;
  v.restart_s = l.measured_restart_s > 0 ? l.measured_restart_s
                : profiled > 0           ? profiled
                                         : options_.default_restart_s;
  v.observed_slowdown = l.slowdown;
  v.observed = l.observed;
  return v;
}

PolicyContext Execution::context(PolicyEvent event) const {
  PolicyContext c;
  c.now_s = now();
  c.event = event;
  c.table = &profiles_;
  c.options = &options_;
  for (const Live& l : jobs_) c.jobs.push_back(view(l));
  return c;
}

// A policy that fails (its planner, or an invalid plan) ends the run, but gracefully: every
// worker checkpoints and stops first (run() returns the error then), so no progress is lost.
Status Execution::decide(PolicyEvent event) {
  auto decision = policy_.decide(context(event));
  Status applied = !decision   ? Status(decision.error())
                   : *decision ? apply(**decision)
                               : Status::Ok();
  if (applied || applied.error().kind == ErrorKind::kWrite || failed_) return applied;
  log(fmt::format("policy {} failed: {}; stopping every job at its checkpoint", policy_.name(),
                  applied.error().to_string()));
  failed_ = applied.error();
  return Status::Ok();
}

// An assignment of the policy's plan, checked (saturn/plan_order.h) against the jobs, the
// table and the cluster (the nodes' slots are the cluster's nodes, so device indices are slots).
Result<Queued> Execution::check(const Assignment& a) const {
  auto c = check_assignment(
      a, profiles_, task_of_,
      [&](int task) { return !unfinished(jobs_[static_cast<std::size_t>(task)]); },
      policy_.name());
  if (!c) return c.error();
  return Queued{static_cast<std::size_t>(c->task), c->config, c->node, std::move(c->gpus),
                c->start_s, c->end_s};
}

// The plan replaces the queue (the simulator's rule): listed waiting jobs queue in plan order; a
// running job listed elsewhere is moved; a running job not listed, listed unchanged, or already
// finishing carries on; a waiting job not listed waits for a later call.
Status Execution::apply(const Plan& plan) {
  std::vector<Queued> checked;  // the whole plan is checked before anything moves
  std::set<std::size_t> listed;
  for (const Assignment& a : in_plan_order(plan.assignments)) {
    Result<Queued> q = check(a);
    if (!q) return q.error();
    if (!listed.insert(q->job).second) {
      return Error{"", 0, fmt::format("policy {}", policy_.name()),
                   fmt::format("job '{}' assigned twice", a.task)};
    }
    checked.push_back(std::move(*q));
  }
  std::vector<Queued> queue;
  for (Queued& entry : checked) {
    Queued* q = &entry;
    Live& l = jobs_[q->job];
    if (l.process && !l.switching) {
      const bool same =
          l.running_config == q->config && l.running_node == q->node && l.running_gpus == q->gpus;
      if (same || l.got_done) continue;
      if (auto s = move(l, *q); !s) return s;
    } else if (!l.process) {
      const Config& config = profiles_.tasks[l.task].configs[static_cast<std::size_t>(q->config)];
      l.rec.technique = config.technique;
      l.rec.node = nodes_[static_cast<std::size_t>(q->node)].node;
      l.rec.gpus = q->gpus;
      l.rec.planned_start_s = q->start_s;
      l.rec.planned_end_s = q->end_s;
    }
    queue.push_back(std::move(*q));
  }
  queue_ = std::move(queue);
  return Status::Ok();
}

// Asks a running job to stop (it checkpoints); it goes on where `to` says once it has.
Status Execution::move(Live& l, const Queued& to) {
  const Config& next = profiles_.tasks[l.task].configs[static_cast<std::size_t>(to.config)];
  const std::string& node = nodes_[static_cast<std::size_t>(to.node)].node;
  log(fmt::format("{:>7.1f} s  switch {} ({}): {} x{} on {} -> {} x{} on {}", now(), l.rec.name,
                  policy_.name(), l.rec.technique, l.running_gpus.size(), l.rec.node,
                  next.technique, next.gpus, node));
  l.switching = true;
  l.stop_sent_s = now();
  l.process->signal(SIGTERM);
  const run_event::Switch e{next.technique, node, to.gpus, policy_.name()};
  return store_.add_event(l.rec.name, now(), e.to_json());
}

std::vector<std::vector<char>> Execution::held() const {
  std::vector<std::vector<char>> held;
  for (const DeviceSlots& n : nodes_) held.emplace_back(static_cast<std::size_t>(n.count), 0);
  for (const Live& l : jobs_) {
    if (!l.process) continue;
    for (int g : l.running_gpus) {
      held[static_cast<std::size_t>(l.running_node)][static_cast<std::size_t>(g)] = 1;
    }
  }
  return held;
}

// Launches the queued jobs plan order allows (saturn/plan_order.h). A job still stopping for its
// move keeps its place and its devices' claim; entries of jobs that are over leave the queue.
Status Execution::dispatch() {
  std::erase_if(queue_, [&](const Queued& q) { return !unfinished(jobs_[q.job]); });
  std::vector<QueuedStart> starts;
  for (const Queued& q : queue_) starts.push_back({q.node, q.gpus});
  const std::vector<std::size_t> now_startable = startable(starts, held());
  std::vector<char> go(queue_.size(), 0);
  for (std::size_t i : now_startable) go[i] = 1;
  std::vector<Queued> waiting;
  for (std::size_t i = 0; i < queue_.size(); ++i) {
    Live& l = jobs_[queue_[i].job];
    if (!go[i] || l.process || l.rec.state != JobStatus::kPending) {
      waiting.push_back(std::move(queue_[i]));
      continue;
    }
    if (auto s = launch(l, queue_[i]); !s) {
      fail(l, now(), s.error().to_string());
      if (auto w = store_.put_job(l.rec); !w) return w;
    }
  }
  queue_ = std::move(waiting);
  return Status::Ok();
}

}  // namespace saturn::exec
