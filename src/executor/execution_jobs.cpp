// Execution and its workers: starting a job's process, taking in its events (progress, step
// times, checkpoints, errors), and what its exit means; see execution.h.
#include <signal.h>

#include <algorithm>

#include <fmt/format.h>

#include "executor/execution.h"
#include "saturn/job_export.h"
#include "saturn/run_events.h"
#include "saturn/run_layout.h"
#include "saturn/trial_runner.h"
#include "saturn/worker_protocol.h"

namespace saturn::exec {

using nlohmann::json;

// Observed seconds per step against the profile's, clamped: a few odd steps do not make a job
// look 100 times slower or faster than measured.
constexpr double kMinSlowdown = 0.2, kMaxSlowdown = 5.0;

Status Execution::launch(Live& l, const Queued& q) {
  const Config& config = profiles_.tasks[l.task].configs[static_cast<std::size_t>(q.config)];
  const TechniqueManifest* technique = library_.find(config.technique);
  if (!technique) {
    return Error{"", 0, "",
                 fmt::format("technique {} is no longer in the library", config.technique)};
  }
  const DeviceSlots& slots = nodes_[static_cast<std::size_t>(q.node)];
  const std::int64_t every =
      checkpoint_every_steps(options_.checkpoint_interval_s, config.seconds_per_step());
  auto job_file = RunDir(options_.run_dir).job_file(l.rec.name);
  if (!job_file) return job_file.error();
  auto checkpoints = RunDir(options_.run_dir).checkpoint_dir(l.rec.name);
  if (!checkpoints) return checkpoints.error();
  auto log_file = RunDir(options_.run_dir).job_log(l.rec.name);
  if (!log_file) return log_file.error();
  ProcessSpec spec;
  const std::string devices = slots.place(q.gpus, &spec);
  spec.argv = expand_command(technique->execute,
                             {{"job", *job_file},
                              {"devices", devices},
                              {"gpus", std::to_string(q.gpus.size())},
                              {"params", config.params.dump()},
                              {"steps", "0"},
                              {"checkpoint", *checkpoints},
                              {"checkpoint_every", std::to_string(every)},
                              {"device_memory_bytes", fmt::format("{:.0f}", slots.memory_bytes)},
                              {"dir", technique->dir},
                              {"worker", options_.worker}});
  spec.stderr_path = *log_file;
  auto p = backend_.start(spec);
  if (!p) return p.error();
  l.process = std::move(*p);
  l.running_config = q.config;
  l.running_node = q.node;
  l.running_gpus = q.gpus;
  l.launched_s = now();
  l.origin_s = -1;
  l.got_done = l.switching = l.out_of_memory = false;
  l.last_error.clear();
  l.failure = protocol::FailureKind::kNone;
  l.rec.state = JobStatus::kRunning;
  l.rec.error.clear();
  l.rec.finished_s = -1;
  l.rec.technique = config.technique;
  l.rec.node = slots.node;
  l.rec.gpus = q.gpus;
  l.rec.params = config.params;
  l.rec.launches += 1;
  if (l.rec.started_s < 0) l.rec.started_s = l.launched_s;
  // Where it resumes is the worker's to say (its `started` event); this is the newest checkpoint
  // the run has heard of.
  log(fmt::format("{:>7.1f} s  launch {} ({} x{} on {} {} {}){}", l.launched_s, l.rec.name,
                  config.technique, q.gpus.size(), slots.node, slots.device_type,
                  fmt::join(q.gpus, ","),
                  l.rec.checkpoint_step > 0
                      ? fmt::format(" from its checkpoint at step {}", l.rec.checkpoint_step)
                      : ""));
  const run_event::Launch e{config.technique, slots.node, q.gpus, l.rec.checkpoint_step, spec.argv};
  if (auto s = store_.add_event(l.rec.name, l.launched_s, e.to_json()); !s) return s;
  return store_.put_job(l.rec);
}

Status Execution::on_line(Live& l, const std::string& line) {
  auto parsed = protocol::parse_event_line(line);
  if (!parsed) return Status::Ok();  // not an event: the log has the worker's diagnostics
  auto event = protocol::read_event(*parsed);
  if (!event) {  // a field of the wrong type: keep the line, skip the event
    log(fmt::format("{}: ignoring a malformed event ({}): {}", l.rec.name,
                    event.error().to_string(), line));
    return store_.add_event(l.rec.name, now(), run_event::Malformed{line}.to_json());
  }
  return on_event(l, *event);
}

// A step: progress, and the launch's seconds per step against its profile. Step times count
// from `started` until a second step arrives, then from the first step (its warm-up left out).
void Execution::on_step(Live& l, std::int64_t step, double t) {
  l.rec.step = step;
  if (l.origin_s < 0) {  // no `started`: count from this step
    l.origin_s = t;
    l.origin_step = step;
    return;
  }
  if (step <= l.origin_step) return;
  const double observed = (t - l.origin_s) / static_cast<double>(step - l.origin_step);
  const double profiled = profiles_.tasks[l.task]
                              .configs[static_cast<std::size_t>(l.running_config)]
                              .seconds_per_step();
  if (profiled > 0) {
    l.slowdown = std::clamp(observed / profiled, kMinSlowdown, kMaxSlowdown);
    l.observed = true;
  }
  if (!l.first_step_seen) {
    l.first_step_seen = true;
    l.origin_s = t;
    l.origin_step = step;
  }
}

Status Execution::on_event(Live& l, const protocol::Event& e) {
  const double t = now();
  if (e.name == protocol::kStep) {
    on_step(l, std::max<std::int64_t>(0, e.step), t);
    if (e.loss) l.rec.loss = e.loss;
  } else if (e.name == protocol::kStarted) {
    if (e.total_steps > 0) l.rec.total_steps = e.total_steps;
    const std::int64_t from = e.step >= 0 ? e.step : l.rec.step;
    if (from != l.rec.checkpoint_step && (from > 0 || l.rec.checkpoint_step > 0)) {
      log(fmt::format("{:>7.1f} s  {} resumed at step {} (its newest usable checkpoint)", t,
                      l.rec.name, from));
    }
    l.rec.step = l.rec.checkpoint_step = from;
    l.origin_s = t;
    l.origin_step = from;
    l.first_step_seen = false;
    // What moving it costs: stopping (SIGTERM to exit, when it was moved) and starting again
    // from a checkpoint (launch to `started`).
    if (from > 0) l.measured_restart_s = l.last_stop_s + (t - l.launched_s);
  } else if (e.name == protocol::kCheckpoint || e.name == protocol::kStopped) {
    if (e.step >= 0) l.rec.checkpoint_step = e.step;  // stopped: checkpointed
  } else if (e.name == protocol::kCheckpointRejected) {
    log(fmt::format("{:>7.1f} s  {}: checkpoint {} rejected ({}); resuming from {}", t, l.rec.name,
                    e.path, e.reason, e.resumed_from.empty() ? "an older one" : e.resumed_from));
  } else if (e.name == protocol::kEval) {
    if (e.loss) l.rec.eval_loss = e.loss;
  } else if (e.name == protocol::kDone) {
    l.got_done = true;
    if (e.step >= 0) l.rec.step = e.step;
  } else if (e.name == protocol::kError) {
    // The first error of a launch is its cause; ranks that stop because of it report after.
    if (l.failure == protocol::FailureKind::kNone) {
      l.last_error = fmt::format("{} error: {}", protocol::to_string(e.failure), e.message);
      l.failure = e.failure;
    }
    l.out_of_memory = l.out_of_memory || e.failure == protocol::FailureKind::kOom;
  }
  if (auto s = store_.add_event(l.rec.name, t, e.fields); !s) return s;
  return store_.put_job(l.rec);
}

// Ends `l` as failed for `why`; while the run stops it stays pending (the next run retries it).
void Execution::fail(Live& l, double t, const std::string& why) {
  l.rec.state = stop_requested() ? JobStatus::kPending : JobStatus::kFailed;
  l.rec.error = why;
  l.rec.finished_s = t;
  if (l.rec.state == JobStatus::kFailed) finished_now_ = true;
  log(fmt::format("{:>7.1f} s  failed {}: {}", t, l.rec.name, why));
}

// The same inputs give the same config or data error (a bad job, a damaged checkpoint with
// nothing intact to fall back to): retrying cannot help.
bool Execution::deterministic_failure(const Live& l, int code) const {
  return protocol::deterministic(l.failure) ||
         (l.failure == protocol::FailureKind::kNone &&
          (code == protocol::kExitConfig || code == protocol::kExitData));
}

// The configuration ran out of memory (its devices are its own, a CPU slot's memory capped at
// the slot's size): the same would happen again, so the job is planned without it.
Status Execution::drop_config(Live& l, double t, const std::string& log_path) {
  std::vector<Config>& configs = profiles_.tasks[l.task].configs;
  const Config dropped = configs[static_cast<std::size_t>(l.running_config)];
  configs.erase(configs.begin() + l.running_config);
  l.running_config = -1;
  l.observed = false;  // measured in the dropped configuration
  l.slowdown = 1;
  const std::size_t index = static_cast<std::size_t>(&l - jobs_.data());
  std::erase_if(queue_, [&](const Queued& q) { return q.job == index; });  // its indices shifted
  const std::string what =
      fmt::format("{} x{} ran out of memory{} (log: {})", dropped.technique, dropped.gpus,
                  l.last_error.empty() ? "" : ": " + l.last_error, log_path);
  const run_event::ConfigDropped e{dropped.technique, dropped.gpus, l.last_error};
  if (auto s = store_.add_event(l.rec.name, t, e.to_json()); !s) return s;
  if (configs.empty()) {
    fail(l, t, what + "; no other configuration is left");
  } else {
    l.rec.state = JobStatus::kPending;
    replan_needed_ = true;
    log(fmt::format("{:>7.1f} s  {} {}; planning it again without that configuration", t,
                    l.rec.name, what));
  }
  return Status::Ok();
}

// A fine-tuned job (one with `init`) is written back in its model's layout when it is done:
// ROOT/models/NAME (saturn/job_export.h). A failed export leaves the job done (its weights are in
// its checkpoints) and says how to retry.
void Execution::export_trained_model(const Live& l) {
  const auto spec = std::find_if(workload_.jobs.begin(), workload_.jobs.end(),
                                 [&](const JobSpec& j) { return j.name == l.rec.name; });
  if (spec == workload_.jobs.end() || spec->init.empty()) return;
  // From a Saturn checkpoint: its own checkpoints are that layout already.
  auto source = open_pretrained(spec->init.path);
  if (source && source->layout == PretrainedLayout::kSaturnCheckpoint) return;
  auto out = export_job(options_.run_dir, l.rec.name);
  log(out ? fmt::format("{:>7.1f} s  exported {} to {}", now(), l.rec.name, *out)
          : fmt::format("{:>7.1f} s  could not export {}: {} (`saturn export {} {}` tries again)",
                        now(), l.rec.name, out.error().to_string(), options_.run_dir, l.rec.name));
}

Status Execution::on_exit(Live& l, int code) {
  const double t = now();
  l.process.reset();
  const auto log_file = RunDir(options_.run_dir).job_log(l.rec.name);  // launched: valid
  const std::string log_path = log_file ? *log_file : std::string();
  const std::string error_text = l.last_error.empty() ? "" : ": " + l.last_error;
  // Steps after the newest checkpoint are lost with the process: the job goes on from there.
  if (!(code == 0 && l.got_done)) l.rec.step = l.rec.checkpoint_step;
  const bool asked_to_stop = l.switching || stop_requested();
  if (code == 0 && l.got_done) {
    l.rec.state = JobStatus::kDone;
    l.rec.finished_s = t;
    finished_now_ = true;
    log(fmt::format("{:>7.1f} s  done {} (loss {}, eval {})", t, l.rec.name, loss_text(l.rec.loss),
                    loss_text(l.rec.eval_loss)));
    export_trained_model(l);
  } else if (asked_to_stop && (code == protocol::kExitStopped || code == 128 + SIGTERM)) {
    // Stopped with a checkpoint, or our SIGTERM reached it before it could take the signal
    // (still starting up): it goes on from its newest checkpoint, moved if it was moving.
    l.rec.state = JobStatus::kPending;
    if (l.switching) {
      ++summary_.switches;  // counted once it really stopped for its move
      if (l.stop_sent_s >= 0) l.last_stop_s = t - l.stop_sent_s;
    }
    log(code == protocol::kExitStopped
            ? fmt::format("{:>7.1f} s  stopped {} at step {} (checkpointed)", t, l.rec.name,
                          l.rec.checkpoint_step)
            : fmt::format("{:>7.1f} s  stopped {} while it started (it resumes from step {})", t,
                          l.rec.name, l.rec.checkpoint_step));
  } else if (l.out_of_memory || code == protocol::kExitOutOfMemory) {
    if (auto s = drop_config(l, t, log_path); !s) return s;
  } else if (deterministic_failure(l, code) && !stop_requested()) {
    l.rec.attempts += 1;
    fail(l, t,
         fmt::format("exited with code {}{}; not retried: it would fail the same way (log: {})",
                     code, error_text, log_path));
  } else {
    l.rec.attempts += 1;
    const std::string why =
        fmt::format("exited with code {}{} (log: {})", code, error_text, log_path);
    if (l.rec.attempts <= options_.max_retries && !stop_requested()) {
      l.rec.state = JobStatus::kPending;
      ++summary_.relaunches;
      // First in line for its devices, unless the policy already gave it a new place.
      const std::size_t index = static_cast<std::size_t>(&l - jobs_.data());
      if (std::none_of(queue_.begin(), queue_.end(),
                       [&](const Queued& q) { return q.job == index; })) {
        queue_.insert(queue_.begin(),
                      Queued{index, l.running_config, l.running_node, l.running_gpus, t, t});
      }
      log(fmt::format("{:>7.1f} s  {} {}; relaunching from its checkpoint ({}/{})", t, l.rec.name,
                      why, l.rec.attempts, options_.max_retries));
    } else {
      fail(l, t, why);
    }
  }
  l.switching = false;
  l.stop_sent_s = -1;
  if (auto s = store_.add_event(l.rec.name, t, run_event::Exit{code}.to_json()); !s) return s;
  return store_.put_job(l.rec);
}

}  // namespace saturn::exec
