// A run's durable state: one SQLite database (WAL journal) in the run directory. This first part
// holds the Trial Runner's measurements, keyed so that a second `saturn profile` or `saturn run`
// re-measures nothing: (job fingerprint, technique, GPU count, device type).
//
// A job's fingerprint covers what decides its step time, memory and step count — model, data
// (file, shape, tokenizer), batch size, accumulation, optimizer kind, epochs — and leaves out
// what does not (name, learning rate, weight decay, schedule, seed, a fixed step count), so the
// jobs of a learning-rate sweep share their trials.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/error.h"
#include "saturn/workload.h"

namespace saturn {

// 16 hex digits (FNV-1a 64 of the job's speed-relevant fields as canonical JSON).
// `base_dir` resolves the job's data path (the workload file's directory).
std::string job_fingerprint(const JobSpec& job, const std::string& base_dir);

struct TrialKey {
  std::string fingerprint;
  std::string technique;
  int gpus = 0;
  std::string device_type;  // "cpu", or the GPU type
};

// One trial's outcome. A trial that could not run (crash, timeout) has `error` set; one that
// ran but fits at no setting is infeasible with a `reason`.
struct TrialRecord {
  TrialKey key;
  std::string job;  // the first job measured under this key (for people reading the table)
  bool feasible = false;
  nlohmann::json params = nlohmann::json::object();  // the settings search chose
  double step_s = 0;                                 // median seconds per optimizer step
  double peak_memory_bytes = 0;                      // per device
  std::int64_t total_steps = 0;                      // the job's optimizer steps, if reported
  double startup_s = 0;  // process start until full speed, seconds, if reported
  double eval_s = 0;       // one evaluation, seconds, if reported
  double checkpoint_s = 0;  // writing one checkpoint, seconds, if reported
  std::string reason;    // infeasible: why
  std::string error;     // the trial failed: what happened
  double trial_s = 0;    // wall-clock seconds the trial took
};

// Where a job of a run stands. Stored by name ("pending", "profiling", "running", "done",
// "failed"); the names appear nowhere else.
enum class JobStatus { kPending, kProfiling, kRunning, kDone, kFailed };
std::string_view to_string(JobStatus status);
// nullopt for a name that is none of them.
std::optional<JobStatus> parse_job_status(std::string_view name);

// One job of a run, as the executor tracks it.
struct JobRecord {
  std::string name;
  JobStatus state = JobStatus::kPending;
  std::string technique;  // the configuration it runs (or will run) with
  std::string node;       // the node it runs (or will run) on
  std::vector<int> gpus;  // device indices on the node
  nlohmann::json params = nlohmann::json::object();
  std::int64_t step = 0;  // optimizer steps done (from the worker's events)
  // The step of the newest checkpoint the job's workers reported (a `checkpoint` or `stopped`
  // event, or the step `started` resumed at): where a relaunch goes on from.
  std::int64_t checkpoint_step = 0;
  std::int64_t total_steps = 0;
  std::optional<double> loss, eval_loss;          // the latest reported (JSON null until known)
  int attempts = 0;                               // launches that ended in a crash
  int launches = 0;                               // every launch, relaunches included
  double planned_start_s = 0, planned_end_s = 0;  // run clock (seconds since the run began)
  double started_s = -1, finished_s = -1;         // run clock; -1: not yet
  std::string error;                              // failed: why (with the log's path)
  // What the job trains (job_spec()), as the run first saw it: a run started again with a
  // workload that changes it treats it as a new job (saturn/executor.h's reset_changed_jobs).
  nlohmann::json spec;
};

// What decides the weights a job's training ends with, as canonical JSON: the job as
// job_to_json() writes it (data paths absolute) without its name and what only changes how it
// runs (gpus, techniques, grad_accum) or what it reports (eval_every). A change to a data file's
// contents under the same path is not seen.
nlohmann::json job_spec(const JobSpec& job, const std::string& base_dir);

// A loss as a table shows it: "0.1234", or "-" when none was reported.
std::string loss_text(const std::optional<double>& loss);

// The record as JSON (its every field, by name) and back.
nlohmann::json to_json(const JobRecord& job);
JobRecord job_record_from_json(const nlohmann::json& doc);

// Keys of the run store's metadata (RunStore::meta), each written by one part of Saturn.
namespace run_meta {
inline constexpr const char* kWorkload = "workload";  // the workload file's absolute path (CLI)
inline constexpr const char* kProfiles = "profiles";  // the profile table, JSON (saturn run)
inline constexpr const char* kPolicy = "policy";      // the policy that ran (executor)
inline constexpr const char* kPlan = "plan";          // the policy's first plan, JSON (executor)
}  // namespace run_meta

class RunStore;

// The run clock: seconds a run has been going, across the orchestrators that ran it; it stands
// still while none runs (a run stopped overnight does not show the night as work). Every event's
// time is on it. Kept in the run store (meta "run_clock_s"). Not thread-safe.
class RunClock {
 public:
  // Goes on from where the run left it: the later of the stored value and the latest event (an
  // orchestrator killed between two saves left events up to a second past the stored value).
  // A fresh run starts at 0. `epoch_s` reads Unix seconds (empty: the system clock; the
  // executor passes its backend's clock). Errors: the store's.
  static Result<RunClock> resume(RunStore& store, std::function<double()> epoch_s = {});
  double now() const;  // seconds
  // Stores now(): at most once a second, unless `force` (a run that ends saves its last value).
  Status save(RunStore& store, bool force = false);

 private:
  RunClock(double origin_epoch_s, std::function<double()> epoch_s)
      : origin_epoch_s_(origin_epoch_s), epoch_s_(std::move(epoch_s)) {}
  double origin_epoch_s_;  // the Unix time at which the clock read 0 for this orchestrator
  std::function<double()> epoch_s_;
  double saved_at_s_ = -1;
};

class RunStore {
 public:
  // Opens (creating if needed) the database at `path`. Errors name the file: not a database,
  // no permission, a schema from a newer Saturn.
  static Result<std::unique_ptr<RunStore>> open(const std::string& path);
  // Opens an existing database for reading only, as a user who may only read the run directory
  // can (`saturn status`): nothing is created, upgraded or written. Errors: as open(), and a
  // missing database.
  static Result<std::unique_ptr<RunStore>> open_read_only(const std::string& path);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  const std::string& path() const { return path_; }

  // The stored trial, if any.
  Result<std::optional<TrialRecord>> find_trial(const TrialKey& key);
  // Inserts or replaces the trial with the same key.
  Status put_trial(const TrialRecord& record);
  Result<std::vector<TrialRecord>> trials();
  // Forgets every stored trial (`--remeasure`).
  Status clear_trials();

  // Inserts or replaces the job with the same name.
  Status put_job(const JobRecord& job);
  Result<std::vector<JobRecord>> jobs();  // in insertion order
  // Appends a worker event (or an executor note) for `job` at run-clock time `time_s`.
  Status add_event(const std::string& job, double time_s, const nlohmann::json& event);
  // The time of the latest event of any job, run clock seconds; 0 when there is none.
  Result<double> latest_event_s();
  // Events of `job` (all jobs when empty) whose "event" is `kind` (any when empty), in order,
  // with their times.
  Result<std::vector<std::pair<double, nlohmann::json>>> events(const std::string& job,
                                                                const std::string& kind);
  // Small named values (the run's start time, the workload's path, plans as JSON).
  Status set_meta(const std::string& key, const std::string& value);
  Result<std::optional<std::string>> meta(const std::string& key);
  // Several writes as one transaction (one fsync): begin(), writes, commit().
  Status begin();
  Status commit();
  Status rollback();

 private:
  struct Db;
  RunStore(std::string path, std::unique_ptr<Db> db);
  std::string path_;
  std::unique_ptr<Db> db_;
};

}  // namespace saturn
