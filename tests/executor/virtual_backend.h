// A Backend on a virtual clock, for tests: its processes are scripted trainers that speak the
// worker protocol (started, step, stopped, done; exit codes) at the times their true speeds give,
// and wait() jumps the clock to the next thing that happens. With it the executor runs a
// workload of minutes in well under a second of real time, exactly as the simulator would time
// it: the first launch of a job starts training at once, a later one after the job's restart
// seconds; a SIGTERM stops a trainer at once with a checkpoint at its last step, a SIGKILL at once
// without one.
//
// A trainer is started from an argument vector [any, JOB_FILE, TECHNIQUE, GPUS, CHECKPOINT_DIR]
// (a technique manifest's `execute: [/bin/true, "{job}", NAME, "{gpus}", "{checkpoint}"]`); the
// job is JOB_FILE's stem. Checkpoints live in the backend (per CHECKPOINT_DIR), not on disk.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "saturn/backend.h"

namespace saturn::testing {

struct ScriptedJob {
  std::int64_t steps = 0;
  double restart_s = 0;  // seconds from a relaunch to `started`
  // True seconds per step by (technique, GPU count).
  std::map<std::pair<std::string, int>, double> step_s;
};

class VirtualBackend final : public Backend {
 public:
  // `nodes`: the nodes it has (empty: any name).
  VirtualBackend(std::map<std::string, ScriptedJob> jobs, std::set<std::string> nodes)
      : jobs_(std::move(jobs)), nodes_(std::move(nodes)) {}

  Result<std::unique_ptr<Process>> start(const ProcessSpec& spec) override;
  void wait(const std::vector<Process*>& processes, double timeout_s) override;
  double now_s() override { return kEpoch + now_; }

  double now() const { return now_; }  // seconds since the backend was made
  // (job, node) of every start, in order.
  const std::vector<std::pair<std::string, std::string>>& starts() const { return starts_; }

 private:
  friend class VirtualProcess;
  // The run clock is this clock's reading less its origin: an epoch of 0 keeps its times exact.
  static constexpr double kEpoch = 0;
  std::map<std::string, ScriptedJob> jobs_;
  std::set<std::string> nodes_;
  std::map<std::string, std::int64_t> checkpoints_;  // checkpoint dir -> step
  std::map<std::string, int> launches_;              // job -> launches so far
  std::vector<std::pair<std::string, std::string>> starts_;
  double now_ = 0;
};

}  // namespace saturn::testing
