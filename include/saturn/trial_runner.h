// The Trial Runner: measures every job x technique x GPU count of a workload on real devices by
// running the technique's `search` (saturn/library.h), and turns the measurements into the
// planner's profile table (runtime = start-up seconds + measured seconds per step x the job's
// steps + its evaluations and checkpoints at their measured seconds; the start-up seconds are
// also the job's restart cost).
//
// Trials run in parallel where the devices allow, each with its devices to itself (CUDA devices
// through CUDA_VISIBLE_DEVICES; CPU device slots as cores the process is pinned to), each under
// a timeout. Out of memory at every setting makes a configuration infeasible; a trial that
// crashes or times out is recorded as an error and the others go on. Results are cached in the
// run store (saturn/run_store.h): what is cached is not measured again unless asked.
//
// Skipped without running: GPU counts beyond the devices, techniques with a smaller `max_gpus`,
// and, when the device type is in the GPU catalogue, configurations the estimator shows cannot
// fit in the device's memory or are dominated (another configuration of the job on no more GPUs
// estimated at least 1.5x faster); the summary counts them with their reasons.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "saturn/backend.h"
#include "saturn/cluster.h"
#include "saturn/device_slots.h"
#include "saturn/library.h"
#include "saturn/profile.h"
#include "saturn/run_store.h"
#include "saturn/workload.h"

namespace saturn {

// Runs `worker info`. Errors: the worker cannot be started or answers nothing (names its path).
Result<WorkerInfo> query_worker(Backend& backend, const std::string& worker);

struct TrialRunnerOptions {
  std::string worker;   // saturn-worker's path ({worker} in manifests)
  std::string run_dir;  // jobs/ (one-job files) and logs/ (trial stderr) are written here
  double trial_timeout_s = 600;
  // Seconds of training between the checkpoints `saturn run` has jobs write (ExecutorOptions);
  // with the measured checkpoint seconds it is part of each runtime.
  double checkpoint_interval_s = 30;
  bool remeasure = false;  // ignore cached trials
  // Progress: called with a one-line status after every change (the CLI draws it in place on a
  // terminal, or prints it as a log line).
  std::function<void(const std::string& line, bool final)> progress;
};

// A job that fits in no configuration on these devices: every trial of it was infeasible,
// failed or skipped. It has no task in the profile table; the others are planned without it.
struct InfeasibleJob {
  std::string job;
  std::string reason;  // what was tried and how each ended
};

struct TrialSummary {
  int configurations = 0;  // job x technique x GPU count, after de-duplication by fingerprint
  int cached = 0;
  int measured = 0;
  int skipped = 0;
  int failed = 0;
  std::vector<std::string> notes;  // one line per skipped or failed configuration
  std::vector<InfeasibleJob> infeasible;
  double elapsed_s = 0;
};

// Optimizer steps between the checkpoints of a job that checkpoints every `interval_s` seconds of
// training at `step_s` seconds per step: at least 1. The executor passes it to `execute`.
std::int64_t checkpoint_every_steps(double interval_s, double step_s);

// A configuration's runtime from its trial, seconds: start-up + steps x step_s + the job's
// evaluations (every eval_every steps and at the end) x eval_s + its checkpoints (every
// checkpoint_every_steps() and at the end) x checkpoint_s.
double extrapolated_runtime_s(const TrialRecord& r, const JobSpec& job, std::int64_t steps,
                              double checkpoint_interval_s);

// Profiles `workload` on `slots` and returns its profile table for `cluster` (configs carry
// gpu_type = slots.device_type): a task for every job that fits somewhere; the others are in
// `summary->infeasible`, with what was tried. Errors: a technique not in the library, the store
// failing, a job name that cannot be a file name.
Result<ProfileTable> run_trials(const Workload& workload, const Library& library, RunStore& store,
                                Backend& backend, const DeviceSlots& slots, const Cluster& cluster,
                                const TrialRunnerOptions& options, TrialSummary* summary);

}  // namespace saturn
