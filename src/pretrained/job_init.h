// A job's `init` resolved while its workload loads (private to saturn_core): the directory
// inspected, the model's architecture taken from it and checked against `model`.
#pragma once

#include <string>

#include "saturn/workload.h"

namespace saturn {

// Makes job.init.path absolute (from `base_dir`), opens it, and sets job.model (when left out)
// and job.architecture; without init, sets job.architecture from the zoo when `model` is a zoo
// name. Errors point at the job's init (or model) key in `source`.
Status resolve_job_model(JobSpec& job, const std::string& source, const std::string& base_dir);

}  // namespace saturn
