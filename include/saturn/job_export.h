// A run's trained model out of Saturn: a job's newest checkpoint written as a Hugging Face
// directory (saturn/pretrained.h export_model) — in its init's layout when it started from one,
// else a new GPT2LMHeadModel directory. The executor does it when a job is done
// (ROOT/models/NAME); `saturn export RUN_DIR JOB [--out DIR]` does it on request.
#pragma once

#include <string>

#include "saturn/error.h"
#include "saturn/pretrained.h"

namespace saturn {

// Exports job `job` of the run in `run_dir` to `out` ("" : ROOT/models/NAME, replaced if there).
// Returns the directory written. Errors name the run, the job or the file: no such job, no
// checkpoint yet, a family export does not write, an unwritable `out` (which is never left half
// written: the export is renamed into place).
Result<std::string> export_job(const std::string& run_dir, const std::string& job,
                               const std::string& out = "", const ExportOptions& options = {});

}  // namespace saturn
