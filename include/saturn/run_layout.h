// Where a run directory (`saturn run --dir`, docs/running.md#the-run-directory) keeps what it
// holds for each job. One place decides every path a job's name becomes, and each refuses a name
// that is not a safe file name of its own (formats' is_safe_name, which the workload loader
// enforces too): a job named "." or ".." would otherwise put its checkpoints in `checkpoints/`
// itself or in the run directory, where checkpoint retention deletes what is not its own.
// Pure functions of their arguments; no file is touched.
#pragma once

#include <string>

#include "saturn/error.h"

namespace saturn::run_layout {

// RUN_DIR/jobs/NAME.json: the job as a self-contained one-job workload ({job} in commands).
Result<std::string> job_file(const std::string& run_dir, const std::string& job);
// The subdirectories of a run directory.
inline constexpr const char* kJobsDir = "jobs";
inline constexpr const char* kCheckpointsDir = "checkpoints";
inline constexpr const char* kLogsDir = "logs";
inline constexpr const char* kSupersededDir = "superseded";
inline constexpr const char* kTmpDir = "tmp";  // trials' TMPDIR (the worker's checkpoint probe)

// RUN_DIR/checkpoints/NAME: the job's checkpoints ({checkpoint}).
Result<std::string> checkpoint_dir(const std::string& run_dir, const std::string& job);
// RUN_DIR/superseded/NAME@TIME: where the checkpoints of a job edited since they were written are
// kept (`unix_time` the move's). Apart from checkpoints/, and with a '@' no job name has, so it
// is never a job's own directory.
Result<std::string> superseded_dir(const std::string& run_dir, const std::string& job,
                                   long long unix_time);
// RUN_DIR/logs/NAME.log: its workers' stderr.
Result<std::string> job_log(const std::string& run_dir, const std::string& job);
// RUN_DIR/logs/trial-NAME-TECHNIQUE-N.log: a profiling trial's stderr.
Result<std::string> trial_log(const std::string& run_dir, const std::string& job,
                              const std::string& technique, int gpus);

}  // namespace saturn::run_layout
