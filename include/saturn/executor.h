// The executor: runs a planned workload on this machine's devices (saturn/trial_runner.h's
// DeviceSlots) through a Backend, and keeps its state in the run store.
//
// Jobs start as soon as the devices their plan gives them are free and every job planned
// earlier on those devices has started (plan order, not wall-clock guesses). Workers report
// progress as JSON-line events (docs/worker-protocol.md), which are stored as they arrive.
// Every introspection interval the remaining work is re-estimated from observed step times and
// re-planned (saturn/planner.h's replan); running jobs move only when the gain, net of restart
// costs, exceeds switch_threshold x the remaining makespan: the worker is asked to stop (it
// checkpoints) and is relaunched with its new configuration from the checkpoint. A worker that
// crashes is relaunched from its last checkpoint up to max_retries times, then its job is marked
// failed and the others go on. Stopped (SIGINT/SIGTERM to the orchestrator) or killed, a run
// resumes when started again: done jobs stay done, the others continue from their checkpoints.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "saturn/backend.h"
#include "saturn/error.h"
#include "saturn/library.h"
#include "saturn/planner.h"
#include "saturn/profile.h"
#include "saturn/run_store.h"
#include "saturn/trial_runner.h"
#include "saturn/workload.h"

namespace saturn {

// An exclusive lock on a run directory (RUN_DIR/lock, flock), held while the object lives: a
// second orchestrator on the same directory is refused. Processes the orchestrator starts
// inherit it, so it lasts until the orchestrator and all its workers have exited.
class RunLock {
 public:
  // Errors: the directory is locked by another process (its pid named), or cannot be written.
  static Result<RunLock> acquire(const std::string& run_dir);
  // Whether a process holds the lock now (an orchestrator, or the workers of one that was
  // killed), for readers such as `saturn status`; needs only read access. It probes with a shared
  // lock for an instant, which acquire() waits out.
  static bool held(const std::string& run_dir);
  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

struct ExecutorOptions {
  std::string run_dir;                   // jobs/ (written by the Trial Runner), checkpoints/, logs/
  std::string worker;                    // {worker} in command templates
  double introspection_interval_s = 60;  // > 0
  double switch_threshold = 0.02;        // of the remaining makespan
  double default_restart_s = 10;      // a job's restart cost until one of its launches is measured
  int max_retries = 2;                // relaunches after crashes, per job and invocation
  double checkpoint_interval_s = 30;  // seconds of training between checkpoints
  PlannerOptions planner;
  const std::atomic<bool>* stop = nullptr;  // set: checkpoint every job, stop, return
  double stop_grace_s = 120;  // a worker still running this long after SIGTERM gets SIGKILL
  std::function<void(const std::string&)> log;  // one line per launch, exit, switch
};

struct ExecutionSummary {
  int done = 0, failed = 0, pending = 0;  // pending: stopped before finishing
  bool stopped = false;
  int switches = 0;               // introspection restarts
  int relaunches = 0;             // after crashes
  double planned_makespan_s = 0;  // the first plan's, run clock
  double makespan_s = 0;          // when the last job ended, run clock
};

// A job of the workload whose spec (saturn/run_store.h's job_spec) differs from the one this run
// directory recorded for it: what it was trained for no longer answers what it is now.
struct ChangedJob {
  std::string name;
  std::string changes;    // "lr 0.001 -> 0.0003; steps 100 -> 200"
  std::string set_aside;  // where its earlier checkpoints were moved ("" if it had none)
};

// Brings the run store in line with `workload` before a run: records the spec of each job seen
// for the first time; a job whose spec changed starts again as a new job — its record is reset
// (pending, step 0, counters cleared), a `spec_changed` event at `now_s` (run clock) says what
// changed, and its checkpoint directory is moved aside (run_layout::superseded_dir; kept, never
// resumed). Errors: the store or the rename failing.
Result<std::vector<ChangedJob>> reset_changed_jobs(const Workload& workload, RunStore& store,
                                                   const std::string& run_dir, double now_s);

// Runs every job of `workload` that is not done yet. `table` is its profile on `slots`
// (task names = job names). Errors: the store failing, no plan for the remaining jobs.
Result<ExecutionSummary> execute_workload(const Workload& workload, const ProfileTable& table,
                                          const Library& library, RunStore& store, Backend& backend,
                                          const DeviceSlots& slots, const ExecutorOptions& options);

}  // namespace saturn
