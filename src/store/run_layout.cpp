// Paths of a run directory; see saturn/run_layout.h.
#include "saturn/run_layout.h"

#include <filesystem>

#include <fmt/format.h>

#include "formats/common.h"

namespace saturn::run_layout {
namespace {

namespace fs = std::filesystem;

Result<std::string> under(const std::string& run_dir, const char* subdir, const std::string& name,
                          const std::string& file) {
  if (!formats::is_safe_name(name)) {
    return Error{
        "", 0, "name",
        fmt::format("job \"{}\": not a job name; a name {}", name, formats::kSafeNameRule)};
  }
  return (fs::path(run_dir) / subdir / file).string();
}

}  // namespace

Result<std::string> job_file(const std::string& run_dir, const std::string& job) {
  return under(run_dir, kJobsDir, job, job + ".json");
}

Result<std::string> checkpoint_dir(const std::string& run_dir, const std::string& job) {
  return under(run_dir, kCheckpointsDir, job, job);
}

Result<std::string> superseded_dir(const std::string& run_dir, const std::string& job,
                                   long long unix_time) {
  return under(run_dir, kSupersededDir, job, fmt::format("{}@{}", job, unix_time));
}

Result<std::string> job_log(const std::string& run_dir, const std::string& job) {
  return under(run_dir, kLogsDir, job, job + ".log");
}

Result<std::string> trial_log(const std::string& run_dir, const std::string& job,
                              const std::string& technique, int gpus) {
  if (!formats::is_safe_name(technique)) {
    return Error{"", 0, "technique", fmt::format("\"{}\" is not a technique name", technique)};
  }
  return under(run_dir, kLogsDir, job, fmt::format("trial-{}-{}-{}.log", job, technique, gpus));
}

}  // namespace saturn::run_layout
