// The executor: runs a planned workload on a cluster of nodes (each node's device slots,
// saturn/device_slots.h) through a Backend, under a scheduling Policy (saturn/policy.h), and
// keeps its state in the run store.
//
// The policy decides; the executor carries its decisions out. The policy is consulted at the
// start, whenever a job completes, every introspection interval (for policies that introspect),
// and when the executor had to change the world (a configuration dropped after it ran out of
// memory; jobs waiting with nowhere to start). It sees each job's observed progress: remaining
// work from the workers' step events, its slowdown against the profile from their step times,
// its restart cost from relaunches. Its answer is a plan: jobs start in plan order
// (saturn/plan_order.h, the simulator's rule) as soon as their devices are free; a running job
// given another configuration, node or devices is asked to stop (it checkpoints) and is
// relaunched there from the checkpoint. A worker that crashes is relaunched from its last
// checkpoint, first in line for its devices, up to max_retries times, then its job is marked
// failed and the others go on. Stopped (SIGINT/SIGTERM to the orchestrator) or killed, a run
// resumes when started again: done jobs stay done, the others continue from their checkpoints.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "saturn/backend.h"
#include "saturn/device_slots.h"
#include "saturn/error.h"
#include "saturn/library.h"
#include "saturn/planner.h"
#include "saturn/policy.h"
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

// The executor's options: the policy's (introspection every 60 s by default, restarts of 10 s
// until measured, the planner's defaults) and its own.
struct ExecutorOptions : PolicyOptions {
  ExecutorOptions() {
    introspection_interval_s = 60;
    default_restart_s = 10;
  }
  std::string policy = "saturn";      // a name make_policy() knows
  std::string run_dir;                // jobs/ (written by the Trial Runner), checkpoints/, logs/
  std::string worker;                 // {worker} in command templates
  int max_retries = 2;                // relaunches after crashes, per job and invocation
  double checkpoint_interval_s = 30;  // seconds of training between checkpoints
  const std::atomic<bool>* stop = nullptr;  // set: checkpoint every job, stop, return
  double stop_grace_s = 120;  // a worker still running this long after SIGTERM gets SIGKILL
  std::function<void(const std::string&)> log;  // one line per launch, exit, switch
};

struct ExecutionSummary {
  int done = 0, failed = 0, pending = 0;  // pending: stopped before finishing
  bool stopped = false;
  std::string policy;             // the policy that ran
  int switches = 0;               // jobs moved by the policy
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
// changed, and its checkpoint directory is moved aside (RunDir::superseded_dir; kept, never
// resumed). Errors: the store or the rename failing.
Result<std::vector<ChangedJob>> reset_changed_jobs(const Workload& workload, RunStore& store,
                                                   const std::string& run_dir, double now_s);

// Job states are written by the executor's module alone: these two mark what `saturn run` learns
// before executing.
//
// Marks every job of `workload` that is not done `profiling` (recording a job seen for the first
// time). Errors: the store's.
Status mark_profiling(const Workload& workload, RunStore& store);

// How the jobs that fit in no configuration end up: failed now, or done in an earlier run.
struct InfeasibleCount {
  int failed = 0, done = 0;
};
// Marks each job that fits in no configuration failed with why, and an `infeasible` event at
// `now_s` (run clock); a job already done stays done. Errors: the store's.
Result<InfeasibleCount> mark_infeasible(RunStore& store,
                                        const std::vector<InfeasibleJob>& infeasible, double now_s);

// Runs every job of `workload` that is not done yet on the cluster `nodes` (one entry per node,
// names distinct; the backend must know each). `table` is its profile (task names = job names;
// its configurations must fit the nodes' device type; its cluster is replaced by `nodes`).
// Errors: an unknown policy, the store failing, a policy answer that is not a valid plan, jobs
// that no node can run.
Result<ExecutionSummary> execute_workload(const Workload& workload, const ProfileTable& table,
                                          const Library& library, RunStore& store, Backend& backend,
                                          const std::vector<DeviceSlots>& nodes,
                                          const ExecutorOptions& options);

}  // namespace saturn
