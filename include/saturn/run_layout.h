// A run directory (`saturn run --dir`, docs/running.md#the-run-directory): the one type that knows
// where it keeps each thing — its database, its lock, and for each job its one-job file,
// checkpoints and logs. Every path a job's name becomes is made here, and each refuses a name
// that is not a safe file name of its own (formats' is_safe_name, which the workload loader
// enforces too): a job named "." or ".." would otherwise put its checkpoints in `checkpoints/`
// itself or in the run directory, where checkpoint retention deletes what is not its own.
// A value; its methods are pure functions of the root and their arguments (no file is touched).
#pragma once

#include <string>

#include "saturn/error.h"

namespace saturn {

class RunDir {
 public:
  // The subdirectories of a run directory.
  static constexpr const char* kJobsDir = "jobs";
  static constexpr const char* kCheckpointsDir = "checkpoints";
  static constexpr const char* kLogsDir = "logs";
  static constexpr const char* kSupersededDir = "superseded";
  static constexpr const char* kTmpDir = "tmp";  // trials' TMPDIR (the worker's checkpoint probe)
  static constexpr const char* kModelsDir = "models";  // done fine-tunes' exports

  explicit RunDir(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  std::string database() const;  // ROOT/saturn.db: the run store (saturn/run_store.h)
  std::string lock() const;      // ROOT/lock: the orchestrator's lock (saturn/executor.h)
  std::string subdir(const char* name) const;  // ROOT/name, for the k*Dir names above

  // ROOT/jobs/NAME.json: the job as a self-contained one-job workload ({job} in commands).
  Result<std::string> job_file(const std::string& job) const;
  // ROOT/checkpoints/NAME: the job's checkpoints ({checkpoint}).
  Result<std::string> checkpoint_dir(const std::string& job) const;
  // ROOT/superseded/NAME@TIME: where the checkpoints of a job edited since they were written are
  // kept (`unix_time` the move's). Apart from checkpoints/, and with a '@' no job name has, so
  // it is never a job's own directory.
  Result<std::string> superseded_dir(const std::string& job, long long unix_time) const;
  // ROOT/models/NAME: the trained model of a done job, as a Hugging Face directory
  // (saturn/job_export.h).
  Result<std::string> model_dir(const std::string& job) const;
  // ROOT/logs/NAME.log: its workers' stderr.
  Result<std::string> job_log(const std::string& job) const;
  // ROOT/logs/trial-NAME-TECHNIQUE-N.log: a profiling trial's stderr.
  Result<std::string> trial_log(const std::string& job, const std::string& technique,
                                int gpus) const;

 private:
  Result<std::string> under(const char* subdir, const std::string& job,
                            const std::string& file) const;
  std::string root_;
};

}  // namespace saturn
