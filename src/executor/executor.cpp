// The executor's main loop; see saturn/executor.h.
#include "saturn/executor.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "saturn/plan.h"
#include "saturn/run_layout.h"
#include "saturn/worker_protocol.h"

namespace saturn {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A job as the loop sees it.
struct Live {
  JobRecord rec;
  std::size_t task = 0;  // index in the profile table
  // The assignment the next launch uses: config index, GPUs, planned start (run clock).
  int config = -1;
  std::vector<int> gpus;
  double planned_start_s = 0;
  // While running:
  std::unique_ptr<Process> process;
  int running_config = -1;
  double launched_s = 0;
  double first_step_s = -1;     // run clock of the first step event of this launch
  std::int64_t first_step = 0;  // its step
  double last_step_s = -1;
  std::int64_t last_step = 0;
  bool got_done = false;
  bool switching = false;          // asked to stop for a new configuration
  std::string last_error;          // the first `error` event of this launch, "kind error: msg"
  std::string last_error_kind;     // its kind ("oom", "data", "config", "internal")
  bool out_of_memory = false;      // this launch ended out of memory (event kind or exit code)
  double measured_restart_s = -1;  // launch -> first step, seconds, last launch
  double observed_step_s = 0;      // this job's measured seconds per step (last launch)
};

double profiled_step_s(const Config& c) {
  return c.seconds_per_step();
}

}  // namespace

Result<ExecutionSummary> execute_workload(const Workload& workload, const ProfileTable& table,
                                          const Library& library, RunStore& store, Backend& backend,
                                          const DeviceSlots& slots,
                                          const ExecutorOptions& options) {
  ExecutionSummary summary;
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  // Event times are on the run clock, which stands still while no orchestrator runs.
  auto clock = RunClock::resume(store);
  if (!clock) return clock.error();
  auto now = [&] { return clock->now(); };
  auto save_clock = [&]() -> Status { return clock->save(store); };

  std::error_code ec;
  fs::create_directories(fs::path(options.run_dir) / run_layout::kCheckpointsDir, ec);
  fs::create_directories(fs::path(options.run_dir) / run_layout::kLogsDir, ec);

  // Jobs, with what an earlier invocation left.
  std::map<std::string, JobRecord> previous;
  {
    auto jobs = store.jobs();
    if (!jobs) return jobs.error();
    for (JobRecord& j : *jobs) previous[j.name] = std::move(j);
  }
  std::map<std::string, std::size_t> task_of;
  for (std::size_t i = 0; i < table.tasks.size(); ++i) task_of.emplace(table.tasks[i].name, i);
  std::vector<Live> live;
  for (const JobSpec& job : workload.jobs) {
    Live l;
    const auto it = task_of.find(job.name);
    if (it == task_of.end()) {
      return Error{workload.source, job.origin.line, job.origin.field,
                   fmt::format("job {} has no profile", job.name)};
    }
    l.task = it->second;
    if (auto p = previous.find(job.name); p != previous.end()) {
      l.rec = p->second;
      if (l.rec.state != "done") {
        l.rec.state = "pending";  // running or failed before: continue from the checkpoint
        l.rec.attempts = 0;
        l.rec.step = l.rec.checkpoint_step;  // the newest checkpoint its events reported
      }
    } else {
      l.rec.name = job.name;
    }
    if (l.rec.total_steps <= 0) l.rec.total_steps = job.steps;
    if (auto s = store.put_job(l.rec); !s) return s.error();
    live.push_back(std::move(l));
  }
  const Node node = slots.as_node();
  // The table the plans come from: `table`, less each configuration that ran out of memory when
  // a job executed in it (profiling measures a few steps; a whole run can still outgrow the
  // device). Only a job that is not running loses a configuration, so no index in use shifts.
  ProfileTable profiles = table;

  auto unfinished = [&](const Live& l) { return l.rec.state != "done" && l.rec.state != "failed"; };
  auto remaining_fraction = [&](const Live& l) {
    if (l.rec.total_steps <= 0) return 1.0;
    return std::clamp(static_cast<double>(l.rec.total_steps - l.rec.step) /
                          static_cast<double>(l.rec.total_steps),
                      1e-3, 1.0);
  };

  // The profile of the remaining work: each job's runtimes scaled by its remaining share and by
  // how its observed speed compares with its profile.
  auto remaining_table = [&] {
    ProfileTable t;
    t.cluster.nodes = {node};
    for (const Live& l : live) {
      if (!unfinished(l)) continue;
      Task task = profiles.tasks[l.task];
      double speed = 1;
      if (l.observed_step_s > 0 && l.running_config >= 0) {
        const double profiled = profiled_step_s(task.configs[l.running_config]);
        if (profiled > 0) speed = std::clamp(l.observed_step_s / profiled, 0.2, 5.0);
      }
      for (Config& c : task.configs) {
        c.runtime_s = std::max(1e-3, c.runtime_s * remaining_fraction(l) * speed);
      }
      task.restart_s = l.measured_restart_s > 0 ? l.measured_restart_s : options.default_restart_s;
      t.tasks.push_back(std::move(task));
    }
    return t;
  };

  // Takes the assignments of `plan` for the jobs it names that are not running.
  auto adopt = [&](const Plan& plan, bool also_running) {
    for (const Assignment& a : plan.assignments) {
      for (Live& l : live) {
        if (l.rec.name != a.task || (l.process && !also_running)) continue;
        l.config = a.config;
        l.gpus = a.gpus;
        l.planned_start_s = a.start_s;
        if (!l.process) {
          l.rec.technique = profiles.tasks[l.task].configs[a.config].technique;
          l.rec.gpus = a.gpus;
          l.rec.planned_start_s = a.start_s;
          l.rec.planned_end_s = a.end_s;
        }
      }
    }
  };

  auto replan_now = [&](bool allow_restarts) -> Result<Replan> {
    const ProfileTable t = remaining_table();
    ReplanRequest request;
    request.now_s = now();
    request.allow_restarts = allow_restarts;
    for (const Live& l : live) {
      if (!unfinished(l)) continue;
      if (l.process && !l.switching) {
        RunningTask r;
        r.task = l.rec.name;
        r.config = l.running_config;
        r.node = node.name;
        r.gpus = l.rec.gpus;
        r.remaining_fraction = 1;  // the table is already the remaining work
        r.restart_cost_s =
            l.measured_restart_s > 0 ? l.measured_restart_s : options.default_restart_s;
        request.running.push_back(std::move(r));
      } else {
        request.pending.push_back(l.rec.name);
      }
    }
    return replan(t, request, options.planner);
  };

  // The first plan.
  {
    bool any = false;
    for (const Live& l : live) any = any || unfinished(l);
    if (!any) {  // nothing left: what the run did before
      summary.done = static_cast<int>(live.size());
      for (const Live& l : live)
        summary.makespan_s = std::max(summary.makespan_s, l.rec.finished_s);
      if (auto stored = store.meta("plan"); stored && *stored) {
        if (auto plan = parse_plan_json(**stored)) summary.planned_makespan_s = plan->makespan_s;
      }
      return summary;
    }
    auto first = replan_now(false);
    if (!first) return first.error();
    adopt(first->plan, false);
    summary.planned_makespan_s = first->plan.makespan_s;
    if (auto s = store.set_meta("plan", to_json(first->plan).dump()); !s) return s.error();
    log(fmt::format("plan: makespan {:.0f} s (lower bound {:.0f} s, {})", first->plan.makespan_s,
                    first->plan.lower_bound_s, first->plan.solver.status));
  }

  std::vector<bool> busy(static_cast<std::size_t>(slots.count), false);
  auto can_launch = [&](const Live& l) {
    if (l.rec.state != "pending" || l.config < 0 || l.process) return false;
    for (int g : l.gpus) {
      if (g < 0 || g >= slots.count || busy[static_cast<std::size_t>(g)]) return false;
    }
    // Plan order: no pending job planned earlier on any of these GPUs.
    for (const Live& o : live) {
      // Jobs waiting to start, and running jobs being moved (they will need their new GPUs).
      const bool waiting = o.rec.state == "pending" || o.switching;
      if (&o == &l || !waiting || o.config < 0) continue;
      if (o.planned_start_s > l.planned_start_s ||
          (o.planned_start_s == l.planned_start_s && o.rec.name >= l.rec.name)) {
        continue;
      }
      for (int g : o.gpus) {
        if (std::find(l.gpus.begin(), l.gpus.end(), g) != l.gpus.end()) return false;
      }
    }
    return true;
  };

  auto launch = [&](Live& l) -> Status {
    const Config& config = profiles.tasks[l.task].configs[l.config];
    const TechniqueManifest* technique = library.find(config.technique);
    if (!technique) {
      return Error{"", 0, "",
                   fmt::format("technique {} is no longer in the library", config.technique)};
    }
    const json& params = config.params;
    const std::int64_t every =
        checkpoint_every_steps(options.checkpoint_interval_s, profiled_step_s(config));
    auto job_file = run_layout::job_file(options.run_dir, l.rec.name);
    if (!job_file) return job_file.error();
    auto checkpoints = run_layout::checkpoint_dir(options.run_dir, l.rec.name);
    if (!checkpoints) return checkpoints.error();
    auto log_file = run_layout::job_log(options.run_dir, l.rec.name);
    if (!log_file) return log_file.error();
    ProcessSpec spec;
    const std::string devices = slots.place(l.gpus, &spec);
    spec.argv = expand_command(technique->execute,
                               {{"job", *job_file},
                                {"devices", devices},
                                {"gpus", std::to_string(l.gpus.size())},
                                {"params", params.dump()},
                                {"steps", "0"},
                                {"checkpoint", *checkpoints},
                                {"checkpoint_every", std::to_string(every)},
                                {"device_memory_bytes", fmt::format("{:.0f}", slots.memory_bytes)},
                                {"dir", technique->dir},
                                {"worker", options.worker}});
    spec.stderr_path = *log_file;
    auto p = backend.start(spec);
    if (!p) return p.error();
    l.process = std::move(*p);
    l.running_config = l.config;
    l.launched_s = now();
    l.first_step_s = l.last_step_s = -1;
    l.got_done = l.switching = l.out_of_memory = false;
    l.last_error.clear();
    l.last_error_kind.clear();
    l.rec.state = "running";
    l.rec.error.clear();
    l.rec.finished_s = -1;
    l.rec.technique = config.technique;
    l.rec.gpus = l.gpus;
    l.rec.params = params;
    l.rec.launches += 1;
    if (l.rec.started_s < 0) l.rec.started_s = l.launched_s;
    for (int g : l.gpus) busy[static_cast<std::size_t>(g)] = true;
    std::string slots_text;
    for (int g : l.gpus) slots_text += (slots_text.empty() ? "" : ",") + std::to_string(g);
    // Where it resumes is the worker's to say (its `started` event); this is the newest
    // checkpoint the run has heard of.
    log(fmt::format("{:>7.1f} s  launch {} ({} x{} on {} {}){}", l.launched_s, l.rec.name,
                    config.technique, l.gpus.size(), slots.device_type, slots_text,
                    l.rec.checkpoint_step > 0
                        ? fmt::format(" from its checkpoint at step {}", l.rec.checkpoint_step)
                        : ""));
    if (auto s = store.add_event(l.rec.name, l.launched_s,
                                 {{"event", "launch"},
                                  {"technique", config.technique},
                                  {"gpus", l.gpus},
                                  {"checkpoint_step", l.rec.checkpoint_step},
                                  {"argv", spec.argv}});
        !s) {
      return s;
    }
    return store.put_job(l.rec);
  };

  auto handle_event = [&](Live& l, const json& e) -> Status {
    const std::string kind = e.value("event", "");
    const double t = now();
    if (kind == protocol::kStep) {
      const std::int64_t step = e.value("step", std::int64_t{0});
      l.rec.step = step;
      if (e.contains("loss") && e["loss"].is_number()) l.rec.loss = e["loss"].get<double>();
      if (l.first_step_s < 0) {
        l.first_step_s = t;
        l.first_step = step;
        l.measured_restart_s = t - l.launched_s;
      } else if (step > l.first_step) {
        l.observed_step_s = (t - l.first_step_s) / static_cast<double>(step - l.first_step);
      }
      l.last_step_s = t;
      l.last_step = step;
    } else if (kind == protocol::kStarted) {
      l.rec.total_steps = e.value("total_steps", l.rec.total_steps);
      const std::int64_t from = e.value("step", l.rec.step);
      if (from != l.rec.checkpoint_step && (from > 0 || l.rec.checkpoint_step > 0)) {
        log(fmt::format("{:>7.1f} s  {} resumed at step {} (its newest usable checkpoint)", t,
                        l.rec.name, from));
      }
      l.rec.step = l.rec.checkpoint_step = from;
    } else if (kind == protocol::kCheckpoint || kind == protocol::kStopped) {
      l.rec.checkpoint_step = e.value("step", l.rec.checkpoint_step);  // stopped: checkpointed
    } else if (kind == protocol::kCheckpointRejected) {
      log(fmt::format("{:>7.1f} s  {}: checkpoint {} rejected ({}); resuming from {}", t,
                      l.rec.name, e.value("path", "?"), e.value("reason", "?"),
                      e.value("resumed_from", "an older one")));
    } else if (kind == "eval") {
      if (e.contains("loss") && e["loss"].is_number()) l.rec.eval_loss = e["loss"].get<double>();
    } else if (kind == protocol::kDone) {
      l.got_done = true;
      l.rec.step = e.value("step", l.rec.step);
    } else if (kind == protocol::kError) {
      const std::string error_kind = e.value("kind", "internal");
      // The first error of a launch is its cause; ranks that stop because of it report after.
      if (l.last_error.empty()) {
        l.last_error = fmt::format("{} error: {}", error_kind, e.value("message", ""));
        l.last_error_kind = error_kind;
      }
      l.out_of_memory = l.out_of_memory || error_kind == protocol::kErrorOom;
    }
    if (auto s = store.add_event(l.rec.name, t, e); !s) return s;
    return store.put_job(l.rec);
  };

  auto handle_line = [&](Live& l, const std::string& line) -> Status {
    auto parsed = protocol::parse_event_line(line);
    if (!parsed) return Status::Ok();  // not an event: the log has the worker's diagnostics
    try {
      return handle_event(l, *parsed);
    } catch (const json::exception& e) {  // a field of the wrong type: keep the event, skip it
      log(fmt::format("{}: ignoring a malformed event ({}): {}", l.rec.name, e.what(), line));
      return store.add_event(l.rec.name, now(), {{"event", "malformed"}, {"line", line}});
    }
  };

  bool replan_needed = false;  // a job lost a configuration: plan it again this round
  auto stop_requested = [&] { return options.stop && *options.stop; };
  // Ends `l` as failed for `why`; while the run stops it stays pending (the next run retries it).
  auto fail = [&](Live& l, double t, const std::string& why) {
    l.rec.state = stop_requested() ? "pending" : "failed";
    l.rec.error = why;
    l.rec.finished_s = t;
    log(fmt::format("{:>7.1f} s  failed {}: {}", t, l.rec.name, why));
  };
  auto finish = [&](Live& l, int code) -> Status {
    const double t = now();
    for (int g : l.rec.gpus) busy[static_cast<std::size_t>(g)] = false;
    l.process.reset();
    const auto log_file = run_layout::job_log(options.run_dir, l.rec.name);  // launched: valid
    const std::string log_path = log_file ? *log_file : std::string();
    // Steps after the newest checkpoint are lost with the process: the job goes on from there.
    if (!(code == 0 && l.got_done)) l.rec.step = l.rec.checkpoint_step;
    // The same inputs give the same config or data error (a bad job, a damaged checkpoint with
    // nothing intact to fall back to): retrying cannot help.
    const bool deterministic = l.last_error_kind == protocol::kErrorConfig ||
                               l.last_error_kind == protocol::kErrorData ||
                               (l.last_error_kind.empty() &&
                                (code == protocol::kExitConfig || code == protocol::kExitData));
    if (code == 0 && l.got_done) {
      l.rec.state = "done";
      l.rec.finished_s = t;
      summary.makespan_s = std::max(summary.makespan_s, t);
      log(fmt::format("{:>7.1f} s  done {} (loss {}, eval {})", t, l.rec.name,
                      loss_text(l.rec.loss), loss_text(l.rec.eval_loss)));
    } else if (code == protocol::kExitStopped && (l.switching || stop_requested())) {
      l.rec.state = "pending";
      if (l.switching) ++summary.switches;  // counted once it really stopped for its move
      log(fmt::format("{:>7.1f} s  stopped {} at step {} (checkpointed)", t, l.rec.name,
                      l.rec.step));
    } else if ((l.switching || stop_requested()) && code == 128 + SIGTERM) {
      // Our SIGTERM reached it before it could take the signal (still starting up): it goes on
      // from its newest checkpoint, in its new configuration when it was moving.
      l.rec.state = "pending";
      if (l.switching) ++summary.switches;
      log(fmt::format("{:>7.1f} s  stopped {} while it started (it resumes from step {})", t,
                      l.rec.name, l.rec.checkpoint_step));
    } else if (l.out_of_memory || code == protocol::kExitOutOfMemory) {
      // The same configuration would run out again (its devices are its own, a CPU slot's
      // memory capped at the slot's size): plan without it. Stopping, the job stays pending.
      std::vector<Config>& configs = profiles.tasks[l.task].configs;
      const Config dropped = configs[static_cast<std::size_t>(l.running_config)];
      configs.erase(configs.begin() + l.running_config);
      l.config = l.running_config = -1;
      l.observed_step_s = 0;  // measured in the dropped configuration
      const std::string what =
          fmt::format("{} x{} ran out of memory{} (log: {})", dropped.technique, dropped.gpus,
                      l.last_error.empty() ? "" : ": " + l.last_error, log_path);
      if (auto s = store.add_event(l.rec.name, t,
                                   {{"event", "config_dropped"},
                                    {"technique", dropped.technique},
                                    {"gpus", dropped.gpus},
                                    {"reason", l.last_error}});
          !s) {
        return s;
      }
      if (configs.empty()) {
        fail(l, t, what + "; no other configuration is left");
      } else {
        l.rec.state = "pending";
        replan_needed = true;
        log(fmt::format("{:>7.1f} s  {} {}; planning it again without that configuration", t,
                        l.rec.name, what));
      }
    } else if (deterministic && !stop_requested()) {
      l.rec.attempts += 1;
      fail(l, t,
           fmt::format("exited with code {}{}; not retried: it would fail the same way (log: {})",
                       code, l.last_error.empty() ? "" : ": " + l.last_error, log_path));
    } else {
      l.rec.attempts += 1;
      const std::string why =
          fmt::format("exited with code {}{} (log: {})", code,
                      l.last_error.empty() ? "" : ": " + l.last_error, log_path);
      if (l.rec.attempts <= options.max_retries && !stop_requested()) {
        l.rec.state = "pending";
        l.planned_start_s = -1;  // first in line for its devices
        ++summary.relaunches;
        log(fmt::format("{:>7.1f} s  {} {}; relaunching from its checkpoint ({}/{})", t, l.rec.name,
                        why, l.rec.attempts, options.max_retries));
      } else {
        fail(l, t, why);
      }
    }
    l.switching = false;
    if (auto s = store.add_event(l.rec.name, t, {{"event", "exit"}, {"code", code}}); !s) return s;
    return store.put_job(l.rec);
  };

  bool stopping = false;
  double stop_deadline = 0;
  double next_introspection = now() + options.introspection_interval_s;
  for (;;) {
    if (stop_requested() && !stopping) {
      stopping = true;
      stop_deadline = now() + options.stop_grace_s;
      log("stopping: every running job checkpoints");
      for (Live& l : live) {
        if (l.process) l.process->signal(SIGTERM);
      }
    }
    if (stopping && now() > stop_deadline) {
      for (Live& l : live) {
        if (!l.process) continue;
        log(
            fmt::format("{} did not stop within {:.0f} s: killed (it resumes from its last "
                        "checkpoint)",
                        l.rec.name, options.stop_grace_s));
        l.process->signal(SIGKILL);
      }
      stop_deadline = now() + 3600;  // once
    }
    if (!stopping) {
      for (Live& l : live) {
        if (!can_launch(l)) continue;
        if (auto s = launch(l); !s) {
          l.rec.state = "failed";
          l.rec.error = s.error().to_string();
          log(fmt::format("failed {}: {}", l.rec.name, l.rec.error));
          if (auto w = store.put_job(l.rec); !w) return w.error();
        }
      }
    }
    std::vector<Process*> running;
    for (Live& l : live) {
      if (l.process) running.push_back(l.process.get());
    }
    bool any_pending = false;
    for (const Live& l : live) any_pending = any_pending || l.rec.state == "pending";
    if (running.empty()) {
      if (stopping || !any_pending) break;
      // Pending jobs whose planned devices do not exist any more: plan again.
      auto again = replan_now(false);
      if (!again) return again.error();
      adopt(again->plan, false);
      bool launchable = false;
      for (const Live& l : live) launchable = launchable || can_launch(l);
      if (!launchable) return Error{"", 0, "", "no job can be launched on these devices"};
      continue;
    }
    wait_for_any(running, 0.2);
    // This round's writes as one transaction, rolled back if the round ends in an error.
    struct Transaction {
      RunStore& store;
      bool open = false;
      ~Transaction() {
        if (open) (void)store.rollback();
      }
    } transaction{store};
    if (auto s = store.begin(); !s) return s.error();
    transaction.open = true;
    for (Live& l : live) {
      if (!l.process) continue;
      for (const std::string& line : l.process->read_lines()) {
        if (auto s = handle_line(l, line); !s) return s.error();
      }
      if (auto code = l.process->poll_exit()) {
        for (const std::string& line : l.process->read_lines()) {
          if (auto s = handle_line(l, line); !s) return s.error();
        }
        if (auto s = finish(l, *code); !s) return s.error();
      }
    }
    if (auto s = save_clock(); !s) return s.error();
    transaction.open = false;
    if (auto s = store.commit(); !s) return s.error();
    if (replan_needed && !stopping) {
      replan_needed = false;
      auto again = replan_now(false);
      if (!again) return again.error();
      adopt(again->plan, false);
    }

    if (!stopping && now() >= next_introspection) {
      next_introspection = now() + options.introspection_interval_s;
      bool any_running = false;
      for (const Live& l : live) any_running = any_running || (l.process && !l.switching);
      if (any_running) {
        auto r = replan_now(true);
        if (!r) return r.error();
        const double remaining = r->keep.makespan_s - now();
        if (!r->restarted.empty() &&
            r->expected_gain_s > options.switch_threshold * std::max(0.0, remaining)) {
          adopt(r->plan, true);
          for (Live& l : live) {
            // A job that reported `done` is finishing: nothing to move.
            if (!l.process || l.got_done ||
                std::find(r->restarted.begin(), r->restarted.end(), l.rec.name) ==
                    r->restarted.end()) {
              continue;
            }
            const Config& next = profiles.tasks[l.task].configs[l.config];
            log(fmt::format("{:>7.1f} s  switch {}: {} x{} -> {} x{} (expected gain {:.1f} s)",
                            now(), l.rec.name, l.rec.technique, l.rec.gpus.size(), next.technique,
                            next.gpus, r->expected_gain_s));
            l.switching = true;
            l.process->signal(SIGTERM);
            if (auto s = store.add_event(l.rec.name, now(),
                                         {{"event", "switch"},
                                          {"to_technique", next.technique},
                                          {"to_gpus", l.gpus},
                                          {"expected_gain_s", r->expected_gain_s}});
                !s) {
              return s.error();
            }
          }
        } else {
          adopt(r->keep, false);
        }
      }
    }
  }
  if (auto s = clock->save(store, /*force=*/true); !s) return s.error();  // as the run leaves it
  for (const Live& l : live) {
    summary.done += l.rec.state == "done";
    summary.failed += l.rec.state == "failed";
    summary.pending += l.rec.state == "pending" || l.rec.state == "running";
    if (l.rec.finished_s > 0) summary.makespan_s = std::max(summary.makespan_s, l.rec.finished_s);
  }
  summary.stopped = stopping;
  return summary;
}

}  // namespace saturn
