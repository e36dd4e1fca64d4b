// The Trial Runner's run; see trial_run.h.
#include "profiler/trial_run.h"

#include <signal.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "formats/common.h"
#include "saturn/atomic_file.h"
#include "saturn/gpu_catalog.h"
#include "saturn/run_layout.h"

namespace saturn::profiler {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string clock_text(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

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

TrialRun::TrialRun(const Workload& workload, const Library& library, RunStore& store,
                   Backend& backend, const DeviceSlots& slots, const Cluster& cluster,
                   const TrialRunnerOptions& options, TrialSummary& summary)
    : workload_(workload),
      library_(library),
      store_(store),
      backend_(backend),
      slots_(slots),
      cluster_(cluster),
      options_(options),
      sum_(summary),
      trials_of_(workload.jobs.size()),
      job_files_(workload.jobs.size()),
      busy_(static_cast<std::size_t>(slots.count), false) {
  sum_ = TrialSummary{};
}

Status TrialRun::make_dirs() {
  std::error_code ec;
  const fs::path jobs_dir = fs::path(RunDir(options_.run_dir).subdir(RunDir::kJobsDir));
  const fs::path logs_dir = fs::path(RunDir(options_.run_dir).subdir(RunDir::kLogsDir));
  // A trial's scratch space (the checkpoint probe's, made with mkdtemp in it) is the run
  // directory's, where the run's checkpoints will be, not a small or shared /tmp.
  tmp_dir_ = fs::absolute(RunDir(options_.run_dir).subdir(RunDir::kTmpDir), ec);
  for (const fs::path& d : {jobs_dir, logs_dir, tmp_dir_}) {
    if (!ec) fs::create_directories(d, ec);
  }
  if (ec) {
    return Error{options_.run_dir, 0, "", fmt::format("cannot create: {}", ec.message()),
                 ErrorKind::kWrite};
  }
  return Status::Ok();
}

// Every configuration of `job` this machine can run, with the estimator's view of it; those
// beyond its devices are skipped (and counted).
std::vector<Candidate> TrialRun::candidates(const JobSpec& job) {
  const std::optional<GpuSpec> gpu = find_gpu(slots_.device_type);
  std::optional<TrainingSetup> setup;
  if (gpu) {
    if (auto s = make_training_setup(job, workload_, calibration())) setup = std::move(*s);
  }
  std::vector<Candidate> out;
  for (const std::string& t : job.techniques) {
    const TechniqueManifest* technique = library_.find(t);
    for (int g : job.gpus) {
      if (technique->max_gpus > 0 && g > technique->max_gpus) continue;  // not one of its
      if (g > slots_.count) {
        ++sum_.skipped;
        sum_.notes.push_back(fmt::format("skipped {} {} x{}: this machine has {} {} device(s)",
                                         job.name, t, g, slots_.count, slots_.device_type));
        continue;
      }
      out.emplace_back(t, g, estimate(setup, gpu, t, g));
    }
  }
  return out;
}

// Writes job j's one-job file and adds its configurations (de-duplicated by fingerprint).
Status TrialRun::plan_job(std::size_t j) {
  const JobSpec& job = workload_.jobs[j];
  auto file = RunDir(options_.run_dir).job_file(job.name);
  if (!file) {
    return Error{workload_.source, job.origin.line, job.origin.field + ".name",
                 file.error().message};
  }
  job_files_[j] = std::move(*file);
  const json doc = job_to_json(job, workload_.name, workload_.base_dir);
  if (auto s = write_file_atomically(job_files_[j], doc.dump(2) + "\n"); !s) return s;
  const std::string fingerprint = job_fingerprint(job, workload_.base_dir);
  for (const std::string& t : job.techniques) {
    if (library_.find(t)) continue;
    const auto it = job.key_origins.find("techniques");
    std::string known;
    for (const auto& m : library_.techniques()) known += (known.empty() ? "" : ", ") + m.name;
    return Error{workload_.source, it != job.key_origins.end() ? it->second.line : 0,
                 it != job.key_origins.end() ? it->second.field : "techniques",
                 fmt::format("job {}: technique \"{}\" is not in the library ({}: {})", job.name, t,
                             library_.dir(), known)};
  }
  const std::vector<Candidate> all = candidates(job);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& [t, g, e] = all[i];
    if (const std::string why = cannot_win(all, i); !why.empty()) {
      ++sum_.skipped;
      sum_.notes.push_back(fmt::format("skipped {} {} x{}: {}", job.name, t, g, why));
      continue;
    }
    const TrialKey key{fingerprint, t, g, slots_.device_type};
    auto [it, fresh] = by_key_.emplace(key_text(key), trials_.size());
    if (fresh) {
      Trial trial;
      trial.key = key;
      trial.job = j;
      trial.technique = library_.find(t);
      trials_.push_back(std::move(trial));
    }
    trials_of_[j].push_back(it->second);
  }
  return Status::Ok();
}

// Cached results: errors are retried, measurements (feasible or not) are kept.
Status TrialRun::load_cached() {
  if (options_.remeasure) return Status::Ok();
  for (Trial& trial : trials_) {
    auto found = store_.find_trial(trial.key);
    if (!found) return found.error();
    if (*found && (*found)->error.empty()) {
      trial.record = **found;
      trial.state = Trial::State::kDone;
      ++sum_.cached;
    }
  }
  return Status::Ok();
}

void TrialRun::report(bool final) {
  if (!options_.progress) return;
  int done = 0, running = 0;
  for (const Trial& t : trials_) {
    done += t.state == Trial::State::kDone;
    running += t.state == Trial::State::kRunning;
  }
  const int left = static_cast<int>(trials_.size()) - done;
  const int measured = sum_.measured + sum_.failed;
  std::string eta = "?";
  if (left == 0) {
    eta = "0:00";
  } else if (measured > 0) {
    eta = clock_text(measured_seconds_ / measured * left / std::max(1, running));
  }
  options_.progress(fmt::format("trials {}/{} done ({} cached, {} failed, {} skipped), {} "
                                "running, elapsed {}, ETA {}",
                                done, trials_.size(), sum_.cached, sum_.failed, sum_.skipped,
                                running, clock_text(since(t0_)), eta),
                    final);
}

// Starts `trial` on the first free slots it needs.
Status TrialRun::start(Trial& trial) {
  std::vector<int> chosen;
  for (int s = 0; s < slots_.count && static_cast<int>(chosen.size()) < trial.key.gpus; ++s) {
    if (!busy_[static_cast<std::size_t>(s)]) chosen.push_back(s);
  }
  ProcessSpec spec;
  const std::string devices = slots_.place(chosen, &spec);
  const JobSpec& job = workload_.jobs[trial.job];
  const std::map<std::string, std::string> values = {
      {"job", job_files_[trial.job]},
      {"devices", devices},
      {"gpus", std::to_string(trial.key.gpus)},
      {"device_memory_bytes", fmt::format("{:.0f}", slots_.memory_bytes)},
      {"dir", trial.technique->dir},
      {"worker", options_.worker},
      {"params", "{}"},
      {"steps", "0"},
      {"checkpoint", ""}};
  spec.argv = expand_command(trial.technique->search, values);
  spec.env["TMPDIR"] = tmp_dir_.string();
  auto log = RunDir(options_.run_dir).trial_log(job.name, trial.key.technique, trial.key.gpus);
  if (!log) return log.error();
  trial.log = std::move(*log);
  spec.stderr_path = trial.log;
  auto p = backend_.start(spec);
  if (!p) return p.error();
  trial.process = std::move(*p);
  trial.slots = chosen;
  for (int s : chosen) busy_[static_cast<std::size_t>(s)] = true;
  trial.state = Trial::State::kRunning;
  trial.started = Clock::now();
  return Status::Ok();
}

// Starts what fits, in order; a trial needing more free devices than there are waits.
void TrialRun::start_what_fits() {
  for (Trial& trial : trials_) {
    if (trial.state != Trial::State::kPending) continue;
    const int free = static_cast<int>(std::count(busy_.begin(), busy_.end(), false));
    if (trial.key.gpus > free) continue;
    if (auto s = start(trial); !s) {
      trial.state = Trial::State::kDone;
      trial.record.key = trial.key;
      trial.record.job = workload_.jobs[trial.job].name;
      trial.record.error = s.error().to_string();
      ++sum_.failed;
      sum_.notes.push_back(fmt::format("failed {} {} x{}: {}", trial.record.job,
                                       trial.key.technique, trial.key.gpus, trial.record.error));
    }
    report(false);
  }
}

void TrialRun::on_line(Trial& trial, const std::string& line) {
  auto parsed = protocol::parse_event_line(line);
  if (!parsed) return;
  auto event = protocol::read_event(*parsed);
  if (!event) {
    if (trial.malformed.empty()) trial.malformed = "malformed event: " + line;
    return;
  }
  if (event->name == protocol::kSearchResult) trial.result = event->fields;
  if (event->name == protocol::kError && trial.error.empty()) {
    trial.error = fmt::format("{} error: {}", protocol::to_string(event->failure), event->message);
  }
}

// The trial's search_result into its record (or why there is none).
void TrialRun::read_result(Trial& trial, TrialRecord& r) {
  auto result = protocol::read_search_result(*trial.result);
  if (!result) {
    r.error = fmt::format("malformed search_result ({}): {} (log: {})", result.error().to_string(),
                          trial.result->dump(), trial.log);
    return;
  }
  r.feasible = result->feasible;
  r.params = result->params;
  r.step_s = result->step_s;
  r.peak_memory_bytes = result->peak_memory_bytes;
  r.total_steps = result->total_steps;
  r.startup_s = result->startup_s;
  r.eval_s = result->eval_s;
  r.checkpoint_s = result->checkpoint_s;
  r.reason = result->reason;
}

Status TrialRun::finish(Trial& trial, int code, bool timed_out) {
  TrialRecord& r = trial.record;
  r.key = trial.key;
  r.job = workload_.jobs[trial.job].name;
  r.trial_s = since(trial.started);
  measured_seconds_ += r.trial_s;
  if (timed_out) {
    r.error =
        fmt::format("timed out after {:.0f} s (log: {})", options_.trial_timeout_s, trial.log);
  } else if (trial.result) {
    read_result(trial, r);
  } else {
    if (trial.error.empty()) trial.error = trial.malformed;
    r.error =
        trial.error.empty()
            ? fmt::format("exited with code {} without a search_result (log: {})", code, trial.log)
            : fmt::format("{} (exit code {}, log: {})", trial.error, code, trial.log);
  }
  if (r.error.empty()) {
    ++sum_.measured;
    if (auto s = store_.put_trial(r); !s) return s;
  } else {
    ++sum_.failed;
    sum_.notes.push_back(
        fmt::format("failed {} {} x{}: {}", r.job, r.key.technique, r.key.gpus, r.error));
  }
  for (int s : trial.slots) busy_[static_cast<std::size_t>(s)] = false;
  trial.process.reset();
  trial.state = Trial::State::kDone;
  report(false);
  return Status::Ok();
}

// Runs every pending trial to its end, as many at once as the devices allow, each under the
// timeout (then SIGKILLed).
Status TrialRun::supervise() {
  auto last_report = Clock::now();
  for (;;) {
    start_what_fits();
    std::vector<Trial*> watched;
    std::vector<Process*> running;
    for (Trial& t : trials_) {
      if (t.state != Trial::State::kRunning) continue;
      if (!t.timed_out && since(t.started) > options_.trial_timeout_s) {
        t.timed_out = true;  // killed once; its exit is then a timeout, whatever the code
        t.process->signal(SIGKILL);
      }
      watched.push_back(&t);
      running.push_back(t.process.get());
    }
    if (running.empty()) return Status::Ok();
    auto line = [&](std::size_t i, const std::string& text) {
      on_line(*watched[i], text);
      return Status::Ok();
    };
    auto exit = [&](std::size_t i, int code) {
      Trial& t = *watched[i];
      return finish(t, code, t.timed_out);
    };
    if (auto s = watch_processes(backend_, running, 0.25, line, exit); !s) return s;
    if (since(last_report) > 1) {
      report(false);
      last_report = Clock::now();
    }
  }
}

// The profile table: one task per job, one configuration per feasible measurement; a job with
// none is listed infeasible with what was tried.
Result<ProfileTable> TrialRun::table() {
  ProfileTable table;
  table.cluster = cluster_;
  for (std::size_t j = 0; j < workload_.jobs.size(); ++j) {
    const JobSpec& job = workload_.jobs[j];
    Task task;
    task.name = job.name;
    std::vector<std::string> tried;
    for (std::size_t i : trials_of_[j]) {
      const TrialRecord& r = trials_[i].record;
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
        return Error{workload_.source, job.origin.line, job.origin.field,
                     fmt::format("job {}: technique {} did not report total_steps; give the job "
                                 "`steps` instead of `epochs`",
                                 job.name, r.key.technique)};
      }
      Config c;
      c.technique = r.key.technique;
      c.gpus = r.key.gpus;
      c.runtime_s = extrapolated_runtime_s(r, job, steps, options_.checkpoint_interval_s);
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
      sum_.infeasible.push_back(
          {job.name,
           fmt::format("fits in no configuration on {} x {} ({})", slots_.count, slots_.device_type,
                       list.empty() ? "nothing could be tried: see the notes" : list)});
      continue;
    }
    table.tasks.push_back(std::move(task));
  }
  return table;
}

Result<ProfileTable> TrialRun::run() {
  if (auto s = make_dirs(); !s) return s.error();
  for (std::size_t j = 0; j < workload_.jobs.size(); ++j) {
    if (auto s = plan_job(j); !s) return s.error();
  }
  sum_.configurations = static_cast<int>(trials_.size());
  if (auto s = load_cached(); !s) return s.error();
  report(false);
  if (auto s = supervise(); !s) return s.error();
  sum_.elapsed_s = since(t0_);
  report(true);
  return table();
}

}  // namespace saturn::profiler
