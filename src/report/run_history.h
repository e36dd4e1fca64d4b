// What a run's events say about each job, for its report: every launch with how it ended, the
// training and evaluation losses by step, and the steps where a launch resumed. Read from the
// run store (the executor's launch, switch, exit and config_dropped events and the workers'
// started, step, eval, stopped, done and error events). Private to src/report/.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "saturn/error.h"
#include "saturn/run_store.h"

namespace saturn::report {

// One launch of a job's worker.
struct Launch {
  double start_s = 0;  // run clock
  double end_s = 0;    // its exit; the latest event while it still runs
  std::string technique;
  std::string node;            // where it ran ("" from a Saturn that did not record it)
  std::vector<int> devices;    // indices on the node
  std::int64_t from_step = 0;  // where it began (its `started` event), 0 until known
  std::string outcome;         // "done", "switched to fsdp x2", "crashed: exit code 5: ...", ...
};

struct JobHistory {
  std::vector<Launch> launches;
  std::vector<std::pair<double, double>> train;  // (step, loss)
  std::vector<std::pair<double, double>> eval;   // (step, loss)
};

// The history of `job` from its stored events.
Result<JobHistory> job_history(RunStore& store, const std::string& job);

}  // namespace saturn::report
