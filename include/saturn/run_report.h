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
// "attempts", "launches", "error", "planned_start_s", ...}]}: every JobRecord field (losses null
// until known).
nlohmann::json run_status_json(const std::vector<JobRecord>& jobs);

// One line per job: state, technique, its device count and which devices ("cpu 0,1", "GPU 0-3":
// `device_type` is "cpu" for CPU device slots, a GPU type otherwise), planned and actual
// runtime, the latest losses ("-" unknown); then each failed job's error.
std::string run_summary_table(const std::vector<JobRecord>& jobs, const std::string& device_type);

// Device indices with their kind: "cpu 0,1", "GPU 0-3", "-" for none.
std::string devices_text(const std::string& device_type, const std::vector<int>& indices);

// The run store's meta key for the run's device type ("cpu" for CPU device slots, a GPU type).
inline constexpr const char* kDeviceTypeKey = "device_type";

// The run's device type (kDeviceTypeKey, else the cluster of the profile table it stored; "" before
// either exists).
std::string run_device_type(RunStore& store);

// Writes report.html, plan.html and actual.html into the directory of `path` (= report.html):
// the jobs (with each failed one's error), each job's loss and evaluation curve on its own step
// axis with marks where it resumed, the profile table; the planned Gantt chart and the actual
// one (a bar per launch, with how it ended), the jobs coloured alike in both.
Status write_run_report(RunStore& store, const std::string& path);

}  // namespace saturn
