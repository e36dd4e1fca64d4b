// The Trial Runner; see saturn/trial_runner.h.
#include "saturn/trial_runner.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "formats/common.h"
#include "saturn/atomic_file.h"
#include "saturn/estimator.h"
#include "saturn/gpu_catalog.h"
#include "saturn/run_layout.h"
#include "saturn/worker_protocol.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string clock_text(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

// One configuration to measure (shared by every job with the same fingerprint).
struct Trial {
  TrialKey key;
  std::size_t job = 0;  // the first job with this fingerprint: the one measured
  const TechniqueManifest* technique = nullptr;
  enum class State { kPending, kRunning, kDone } state = State::kPending;
  std::vector<int> slots;
  std::unique_ptr<Process> process;
  Clock::time_point started;
  std::string log;
  std::optional<json> result;  // the search_result event
  std::string error;           // from an error event
  TrialRecord record;
};

std::string key_text(const TrialKey& k) {
  return fmt::format("{}/{}/{}/{}", k.fingerprint, k.technique, k.gpus, k.device_type);
}

// A configuration is skipped as dominated when another of the same job, on no more GPUs, is
// estimated faster by at least this factor (a margin for the estimator's error).
constexpr double kDominanceMargin = 1.5;

const Calibration& calibration() {
  static const Calibration c = default_calibration();
  return c;
}

// The estimator's view of a configuration of the job `setup` describes on `gpu` (null: not a
// catalogue GPU), when it can tell (a zoo model, a technique it models).
std::optional<ConfigEstimate> estimate(const std::optional<TrainingSetup>& setup,
                                       const std::optional<GpuSpec>& gpu,
                                       const std::string& technique, int gpus) {
  if (!setup || !gpu) return std::nullopt;
  const auto& known = estimator_techniques();
  if (std::find(known.begin(), known.end(), technique) == known.end()) return std::nullopt;
  auto e = estimate_config(*setup, technique, gpus, *gpu, calibration());
  if (!e) return std::nullopt;
  return *e;
}

// Why configuration `i` of `candidates` (technique, GPUs, estimate) cannot win: it does not fit,
// or another on no more GPUs is estimated kDominanceMargin times faster. "" when it may win.
std::string cannot_win(
    const std::vector<std::tuple<std::string, int, std::optional<ConfigEstimate>>>& candidates,
    std::size_t i) {
  const auto& [technique, gpus, e] = candidates[i];
  if (!e) return "";
  if (!e->feasible) return "the estimator shows it cannot fit: " + e->reason;
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    const auto& [other, other_gpus, o] = candidates[k];
    if (k == i || !o || !o->feasible || other_gpus > gpus) continue;
    if (o->runtime_s * kDominanceMargin <= e->runtime_s) {
      return fmt::format("dominated: {} x{} is estimated {:.1f}x faster on no more GPUs", other,
                         other_gpus, e->runtime_s / o->runtime_s);
    }
  }
  return "";
}

}  // namespace

Result<WorkerInfo> query_worker(Backend& backend, const std::string& worker) {
  auto p = backend.start({{worker, "info"}, {}, {}, ""});
  if (!p) return p.error();
  WorkerInfo info;
  bool answered = false;
  auto read = [&] {
    for (const std::string& line : (*p)->read_lines()) {
      auto event = protocol::parse_event_line(line);
      if (!event || event->value("event", "") != "info") continue;
      try {
        info.cuda_devices = event->value("cuda_devices", 0);
        info.torch = event->value("torch", "");
        if (event->contains("techniques") && (*event)["techniques"].is_array()) {
          for (const json& t : (*event)["techniques"]) {
            if (t.is_string()) info.techniques.push_back(t.get<std::string>());
          }
        }
        answered = true;
      } catch (const json::exception&) {
      }
    }
  };
  const auto t0 = Clock::now();
  std::optional<int> code;
  while (!(code = (*p)->poll_exit()) && since(t0) < 120) {
    read();
    backend.wait({p->get()}, 0.2);
  }
  read();
  if (!code || *code != 0 || !answered) {
    return Error{worker, 0, "",
                 code ? fmt::format("`saturn-worker info` exited with {} and no answer", *code)
                      : "`saturn-worker info` did not answer within 120 s"};
  }
  return info;
}

std::int64_t checkpoint_every_steps(double interval_s, double step_s) {
  return std::max<std::int64_t>(1, std::llround(interval_s / std::max(1e-6, step_s)));
}

double extrapolated_runtime_s(const TrialRecord& r, const JobSpec& job, std::int64_t steps,
                              double checkpoint_interval_s) {
  // The worker evaluates every eval_every steps and at the end, and checkpoints every
  // checkpoint_every_steps() steps and at the end (never twice at the last step).
  const std::int64_t evals = 1 + (job.eval_every > 0 ? (steps - 1) / job.eval_every : 0);
  const std::int64_t checkpoints =
      1 + (steps - 1) / checkpoint_every_steps(checkpoint_interval_s, r.step_s);
  return r.startup_s + r.step_s * static_cast<double>(steps) +
         r.eval_s * static_cast<double>(evals) + r.checkpoint_s * static_cast<double>(checkpoints);
}

Result<ProfileTable> run_trials(const Workload& workload, const Library& library, RunStore& store,
                                Backend& backend, const DeviceSlots& slots, const Cluster& cluster,
                                const TrialRunnerOptions& options, TrialSummary* summary) {
  TrialSummary local;
  TrialSummary& sum = summary ? *summary : local;
  sum = TrialSummary{};
  const auto t0 = Clock::now();
  std::error_code ec;
  const fs::path jobs_dir = fs::path(options.run_dir) / run_layout::kJobsDir;
  const fs::path logs_dir = fs::path(options.run_dir) / run_layout::kLogsDir;
  // A trial's scratch space (the checkpoint probe's, made with mkdtemp in it) is the run
  // directory's, where the run's checkpoints will be, not a small or shared /tmp.
  const fs::path tmp_dir = fs::absolute(fs::path(options.run_dir) / run_layout::kTmpDir, ec);
  for (const fs::path& d : {jobs_dir, logs_dir, tmp_dir}) {
    if (!ec) fs::create_directories(d, ec);
  }
  if (ec) {
    return Error{options.run_dir, 0, "", fmt::format("cannot create: {}", ec.message()),
                 ErrorKind::kWrite};
  }

  // The configurations, de-duplicated by fingerprint.
  std::vector<Trial> trials;
  std::map<std::string, std::size_t> by_key;
  std::vector<std::vector<std::size_t>> trials_of(workload.jobs.size());
  std::vector<std::string> job_files(workload.jobs.size());
  for (std::size_t j = 0; j < workload.jobs.size(); ++j) {
    const JobSpec& job = workload.jobs[j];
    auto file = run_layout::job_file(options.run_dir, job.name);
    if (!file) {
      return Error{workload.source, job.origin.line, job.origin.field + ".name",
                   file.error().message};
    }
    job_files[j] = std::move(*file);
    const json doc = job_to_json(job, workload.name, workload.base_dir);
    if (auto s = write_file_atomically(job_files[j], doc.dump(2) + "\n"); !s) return s.error();
    const std::string fingerprint = job_fingerprint(job, workload.base_dir);
    for (const std::string& t : job.techniques) {
      const TechniqueManifest* technique = library.find(t);
      if (!technique) {
        const auto it = job.key_origins.find("techniques");
        std::string known;
        for (const auto& m : library.techniques()) known += (known.empty() ? "" : ", ") + m.name;
        return Error{workload.source, it != job.key_origins.end() ? it->second.line : 0,
                     it != job.key_origins.end() ? it->second.field : "techniques",
                     fmt::format("job {}: technique \"{}\" is not in the library ({}: {})",
                                 job.name, t, library.dir(), known)};
      }
    }
    // Every configuration of this job this machine can run, with the estimator's view of it.
    const std::optional<GpuSpec> gpu = find_gpu(slots.device_type);
    std::optional<TrainingSetup> setup;
    if (gpu) {
      if (auto s = make_training_setup(job, workload, calibration())) setup = std::move(*s);
    }
    std::vector<std::tuple<std::string, int, std::optional<ConfigEstimate>>> candidates;
    for (const std::string& t : job.techniques) {
      const TechniqueManifest* technique = library.find(t);
      for (int g : job.gpus) {
        if (technique->max_gpus > 0 && g > technique->max_gpus) continue;  // not one of its
        if (g > slots.count) {
          ++sum.skipped;
          sum.notes.push_back(fmt::format("skipped {} {} x{}: this machine has {} {} device(s)",
                                          job.name, t, g, slots.count, slots.device_type));
          continue;
        }
        candidates.emplace_back(t, g, estimate(setup, gpu, t, g));
      }
    }
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const auto& [t, g, e] = candidates[i];
      if (const std::string why = cannot_win(candidates, i); !why.empty()) {
        ++sum.skipped;
        sum.notes.push_back(fmt::format("skipped {} {} x{}: {}", job.name, t, g, why));
        continue;
      }
      const TrialKey key{fingerprint, t, g, slots.device_type};
      auto [it, fresh] = by_key.emplace(key_text(key), trials.size());
      if (fresh) {
        Trial trial;
        trial.key = key;
        trial.job = j;
        trial.technique = library.find(t);
        trials.push_back(std::move(trial));
      }
      trials_of[j].push_back(it->second);
    }
  }
  sum.configurations = static_cast<int>(trials.size());

  // Cached results: errors are retried, measurements (feasible or not) are kept.
  for (Trial& trial : trials) {
    if (options.remeasure) break;
    auto found = store.find_trial(trial.key);
    if (!found) return found.error();
    if (*found && (*found)->error.empty()) {
      trial.record = **found;
      trial.state = Trial::State::kDone;
      ++sum.cached;
    }
  }

  std::vector<bool> busy(static_cast<std::size_t>(slots.count), false);
  double measured_seconds = 0;
  auto report = [&](bool final) {
    if (!options.progress) return;
    int done = 0, running = 0;
    for (const Trial& t : trials) {
      done += t.state == Trial::State::kDone;
      running += t.state == Trial::State::kRunning;
    }
    const int left = static_cast<int>(trials.size()) - done;
    const int measured = sum.measured + sum.failed;
    std::string eta = "?";
    if (left == 0) {
      eta = "0:00";
    } else if (measured > 0) {
      eta = clock_text(measured_seconds / measured * left / std::max(1, running));
    }
    options.progress(fmt::format("trials {}/{} done ({} cached, {} failed, {} skipped), {} "
                                 "running, elapsed {}, ETA {}",
                                 done, trials.size(), sum.cached, sum.failed, sum.skipped, running,
                                 clock_text(since(t0)), eta),
                     final);
  };
  report(false);

  auto start_trial = [&](Trial& trial) -> Status {
    std::vector<int> chosen;
    for (int s = 0; s < slots.count && static_cast<int>(chosen.size()) < trial.key.gpus; ++s) {
      if (!busy[static_cast<std::size_t>(s)]) chosen.push_back(s);
    }
    ProcessSpec spec;
    const std::string devices = slots.place(chosen, &spec);
    const JobSpec& job = workload.jobs[trial.job];
    const std::map<std::string, std::string> values = {
        {"job", job_files[trial.job]},
        {"devices", devices},
        {"gpus", std::to_string(trial.key.gpus)},
        {"device_memory_bytes", fmt::format("{:.0f}", slots.memory_bytes)},
        {"dir", trial.technique->dir},
        {"worker", options.worker},
        {"params", "{}"},
        {"steps", "0"},
        {"checkpoint", ""}};
    spec.argv = expand_command(trial.technique->search, values);
    spec.env["TMPDIR"] = tmp_dir.string();
    auto log =
        run_layout::trial_log(options.run_dir, job.name, trial.key.technique, trial.key.gpus);
    if (!log) return log.error();
    trial.log = std::move(*log);
    spec.stderr_path = trial.log;
    auto p = backend.start(spec);
    if (!p) return p.error();
    trial.process = std::move(*p);
    trial.slots = chosen;
    for (int s : chosen) busy[static_cast<std::size_t>(s)] = true;
    trial.state = Trial::State::kRunning;
    trial.started = Clock::now();
    return Status::Ok();
  };

  auto read_events = [](Trial& trial) {
    for (const std::string& line : trial.process->read_lines()) {
      auto event = protocol::parse_event_line(line);
      if (!event) continue;
      const std::string kind = event->value("event", "");
      if (kind == protocol::kSearchResult) trial.result = *event;
      if (kind == protocol::kError && trial.error.empty()) {
        try {
          trial.error = fmt::format("{} error: {}", event->value("kind", "internal"),
                                    event->value("message", ""));
        } catch (const json::exception&) {
          trial.error = "error: " + line;
        }
      }
    }
  };

  auto finish_trial = [&](Trial& trial, int code, bool timed_out) -> Status {
    TrialRecord& r = trial.record;
    r.key = trial.key;
    r.job = workload.jobs[trial.job].name;
    r.trial_s = since(trial.started);
    measured_seconds += r.trial_s;
    if (timed_out) {
      r.error =
          fmt::format("timed out after {:.0f} s (log: {})", options.trial_timeout_s, trial.log);
    } else if (trial.result) {
      const json& e = *trial.result;
      try {
        r.feasible = e.value("feasible", false);
        r.params = e.contains("params") && e["params"].is_object() ? e["params"] : json::object();
        r.step_s = e.value("step_s", 0.0);
        r.peak_memory_bytes = e.value("peak_memory_bytes", 0.0);
        r.total_steps = e.value("total_steps", std::int64_t{0});
        r.startup_s = std::max(0.0, e.value("startup_s", 0.0));
        r.eval_s = std::max(0.0, e.value("eval_s", 0.0));
        r.checkpoint_s = std::max(0.0, e.value("checkpoint_s", 0.0));
        r.reason = e.value("reason", "");
        if (r.feasible && !(r.step_s > 0 && std::isfinite(r.step_s))) {
          r.error = "search_result without a positive step_s";
        }
      } catch (const json::exception& x) {
        r.error = fmt::format("malformed search_result ({}): {} (log: {})", x.what(), e.dump(),
                              trial.log);
      }
    } else {
      r.error = trial.error.empty()
                    ? fmt::format("exited with code {} without a search_result (log: {})", code,
                                  trial.log)
                    : fmt::format("{} (exit code {}, log: {})", trial.error, code, trial.log);
    }
    if (r.error.empty()) {
      ++sum.measured;
      if (auto s = store.put_trial(r); !s) return s;
    } else {
      ++sum.failed;
      sum.notes.push_back(
          fmt::format("failed {} {} x{}: {}", r.job, r.key.technique, r.key.gpus, r.error));
    }
    for (int s : trial.slots) busy[static_cast<std::size_t>(s)] = false;
    trial.process.reset();
    trial.state = Trial::State::kDone;
    return Status::Ok();
  };

  auto last_report = Clock::now();
  for (;;) {
    // Start what fits, in order; a trial needing more free devices than there are waits.
    for (Trial& trial : trials) {
      if (trial.state != Trial::State::kPending) continue;
      const int free = static_cast<int>(std::count(busy.begin(), busy.end(), false));
      if (trial.key.gpus > free) continue;
      if (auto s = start_trial(trial); !s) {
        trial.state = Trial::State::kDone;
        trial.record.key = trial.key;
        trial.record.job = workload.jobs[trial.job].name;
        trial.record.error = s.error().to_string();
        ++sum.failed;
        sum.notes.push_back(fmt::format("failed {} {} x{}: {}", trial.record.job,
                                        trial.key.technique, trial.key.gpus, trial.record.error));
      }
      report(false);
    }
    std::vector<Process*> running;
    for (Trial& t : trials) {
      if (t.state == Trial::State::kRunning) running.push_back(t.process.get());
    }
    if (running.empty()) break;
    backend.wait(running, 0.25);
    for (Trial& trial : trials) {
      if (trial.state != Trial::State::kRunning) continue;
      read_events(trial);
      const bool late = since(trial.started) > options.trial_timeout_s;
      if (late) trial.process->signal(SIGKILL);
      std::optional<int> code = trial.process->poll_exit();
      if (!code && late) {
        while (!(code = trial.process->poll_exit())) backend.wait({trial.process.get()}, 0.05);
      }
      if (code) {
        read_events(trial);
        if (auto s = finish_trial(trial, *code, late); !s) return s.error();
        report(false);
      }
    }
    if (since(last_report) > 1) {
      report(false);
      last_report = Clock::now();
    }
  }
  sum.elapsed_s = since(t0);
  report(true);

  // The profile table: one task per job, one config per feasible measurement.
  ProfileTable table;
  table.cluster = cluster;
  for (std::size_t j = 0; j < workload.jobs.size(); ++j) {
    const JobSpec& job = workload.jobs[j];
    Task task;
    task.name = job.name;
    std::vector<std::string> tried;
    for (std::size_t i : trials_of[j]) {
      const TrialRecord& r = trials[i].record;
      const std::string what = fmt::format("{} x{}", r.key.technique, r.key.gpus);
      if (!r.error.empty()) {
        tried.push_back(what + ": failed: " + r.error);
        continue;
      }
      if (!r.feasible) {
        tried.push_back(what + ": " + (r.reason.empty() ? "infeasible" : r.reason));
        continue;
      }
      const std::int64_t steps = job.steps > 0 ? job.steps : r.total_steps;
      if (steps <= 0) {
        return Error{workload.source, job.origin.line, job.origin.field,
                     fmt::format("job {}: technique {} did not report total_steps; give the job "
                                 "`steps` instead of `epochs`",
                                 job.name, r.key.technique)};
      }
      Config c;
      c.technique = r.key.technique;
      c.gpus = r.key.gpus;
      c.runtime_s = extrapolated_runtime_s(r, job, steps, options.checkpoint_interval_s);
      task.restart_s = std::max(task.restart_s, r.startup_s);
      c.peak_memory_bytes = r.peak_memory_bytes;
      c.gpu_type = r.key.device_type;
      c.params = r.params;
      c.step_s = r.step_s;
      c.steps = steps;
      c.startup_s = r.startup_s;
      c.eval_s = r.eval_s;
      c.checkpoint_s = r.checkpoint_s;
      task.configs.push_back(std::move(c));
    }
    if (task.configs.empty()) {
      std::string list;
      for (const std::string& t : tried) list += (list.empty() ? "" : "; ") + t;
      sum.infeasible.push_back(
          {job.name,
           fmt::format("fits in no configuration on {} x {} ({})", slots.count, slots.device_type,
                       list.empty() ? "nothing could be tried: see the notes" : list)});
      continue;
    }
    table.tasks.push_back(std::move(task));
  }
  return table;
}

}  // namespace saturn
