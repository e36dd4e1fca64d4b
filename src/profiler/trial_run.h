// One run_trials() call (saturn/trial_runner.h) as a class: which configurations to measure
// (plan_job), what the cache already has, starting trials where devices are free (start),
// reading their events (on_line) and results (finish), and the profile table they make (table).
// Its process loop is the executor's (watch_processes, saturn/backend.h). Internal to
// src/profiler/. Single-threaded.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "saturn/estimator.h"
#include "saturn/trial_runner.h"
#include "saturn/worker_protocol.h"

namespace saturn::profiler {

using Clock = std::chrono::steady_clock;

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
  std::optional<nlohmann::json> result;  // the search_result event
  std::string error;                     // from an error event
  std::string malformed;                 // the first malformed event, if nothing better comes
  bool timed_out = false;                // killed for running past the trial timeout
  TrialRecord record;
};

// A job's configuration this machine can run: technique, GPU count, the estimator's view.
using Candidate = std::tuple<std::string, int, std::optional<ConfigEstimate>>;

class TrialRun {
 public:
  TrialRun(const Workload& workload, const Library& library, RunStore& store, Backend& backend,
           const DeviceSlots& slots, const Cluster& cluster, const TrialRunnerOptions& options,
           TrialSummary& summary);
  Result<ProfileTable> run();

 private:
  Status make_dirs();
  Status plan_job(std::size_t j);
  std::vector<Candidate> candidates(const JobSpec& job);
  Status load_cached();
  Status start(Trial& trial);
  void start_what_fits();
  void on_line(Trial& trial, const std::string& line);
  Status finish(Trial& trial, int code, bool timed_out);
  void read_result(Trial& trial, TrialRecord& r);
  Status supervise();
  void report(bool final);
  Result<ProfileTable> table();  // lists the infeasible jobs in the summary

  const Workload& workload_;
  const Library& library_;
  RunStore& store_;
  Backend& backend_;
  const DeviceSlots& slots_;
  const Cluster& cluster_;
  const TrialRunnerOptions& options_;
  TrialSummary& sum_;
  Clock::time_point t0_ = Clock::now();
  std::filesystem::path tmp_dir_;  // trials' TMPDIR: the run directory's tmp/
  std::vector<Trial> trials_;
  std::map<std::string, std::size_t> by_key_;
  std::vector<std::vector<std::size_t>> trials_of_;  // per job: its trials
  std::vector<std::string> job_files_;               // per job: its one-job file
  std::vector<bool> busy_;                           // per slot
  double measured_seconds_ = 0;
};

}  // namespace saturn::profiler
