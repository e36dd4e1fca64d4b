// Paths of a run directory; see saturn/run_layout.h.
#include "saturn/run_layout.h"

#include <filesystem>

#include <fmt/format.h>

#include "formats/common.h"

namespace saturn {

namespace fs = std::filesystem;

std::string RunDir::database() const {
  return (fs::path(root_) / "saturn.db").string();
}

std::string RunDir::lock() const {
  return (fs::path(root_) / "lock").string();
}

std::string RunDir::subdir(const char* name) const {
  return (fs::path(root_) / name).string();
}

Result<std::string> RunDir::under(const char* subdir, const std::string& job,
                                  const std::string& file) const {
  if (!formats::is_safe_name(job)) {
    return Error{"", 0, "name",
                 fmt::format("job \"{}\": not a job name; a name {}", job, formats::kSafeNameRule)};
  }
  return (fs::path(root_) / subdir / file).string();
}

Result<std::string> RunDir::job_file(const std::string& job) const {
  return under(kJobsDir, job, job + ".json");
}

Result<std::string> RunDir::checkpoint_dir(const std::string& job) const {
  return under(kCheckpointsDir, job, job);
}

Result<std::string> RunDir::superseded_dir(const std::string& job, long long unix_time) const {
  return under(kSupersededDir, job, fmt::format("{}@{}", job, unix_time));
}

Result<std::string> RunDir::model_dir(const std::string& job) const {
  return under(kModelsDir, job, job);
}

Result<std::string> RunDir::job_log(const std::string& job) const {
  return under(kLogsDir, job, job + ".log");
}

Result<std::string> RunDir::trial_log(const std::string& job, const std::string& technique,
                                      int gpus) const {
  if (!formats::is_safe_name(technique)) {
    return Error{"", 0, "technique", fmt::format("\"{}\" is not a technique name", technique)};
  }
  return under(kLogsDir, job, fmt::format("trial-{}-{}-{}.log", job, technique, gpus));
}

}  // namespace saturn
