// What a run reports: `saturn status --json`, the summary table printed at the end of
// `saturn run`, and the HTML report (RUN_DIR/report.html: the jobs' summary, loss curves and
// the profile table, beside RUN_DIR/plan.html and RUN_DIR/actual.html, the planned and the
// actual Gantt charts).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/error.h"
#include "saturn/profile.h"
#include "saturn/run_store.h"

namespace saturn {

// {"jobs": [{"name", "state", "technique", "gpus", "step", "total_steps", "loss", "eval_loss",
// "attempts", "launches", "error", "planned_start_s", ...}]}: every JobRecord field.
nlohmann::json run_status_json(const std::vector<JobRecord>& jobs);

// One line per job: technique, GPUs, planned vs actual runtime, final losses.
std::string run_summary_table(const std::vector<JobRecord>& jobs);

// Writes report.html, plan.html and actual.html into the directory of `path` (= report.html).
Status write_run_report(RunStore& store, const std::string& path);

}  // namespace saturn
