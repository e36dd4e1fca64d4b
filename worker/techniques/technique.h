// Parallelism techniques the worker runs itself, behind the papers' two-function template:
// `search` finds the technique's best settings for a job on its devices and measures them;
// `execute` trains. Each technique is one file; `techniques()` lists them. A technique that
// needs several processes (one per device) is started once per rank by the launcher
// (launcher.h), each rank with torchrun's environment.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "events.h"
#include "saturn/workload.h"
#include "train/communicator.h"

namespace saturn::worker {

struct RunContext {
  JobSpec job;
  std::string base_dir;                // the job's data paths are relative to it
  std::vector<torch::Device> devices;  // every rank's device, by rank
  RankEnvironment env;                 // this process's rank
  EventSink* events = nullptr;
  const std::atomic<bool>* stop = nullptr;  // set by SIGTERM / SIGINT
  // measure: time one evaluation and one checkpoint after the steps (false leaves eval_s and
  // checkpoint_s 0: benchmarks of models whose checkpoint would not fit on a scratch disk).
  bool probes = true;
  // measure: when set, rank 0 records its timed steps as a Chrome trace at this path
  // (step_trace.h); their times then include the profiler's overhead.
  std::string trace_path;
};

// One measurement of one setting, by every rank of it.
struct Measurement {
  double step_s = 0;             // median seconds per optimizer step after warm-up
  double peak_memory_bytes = 0;  // the rank's peak (rank 0 reports its own)
  double samples_per_s = 0;
  double tokens_per_s = 0;
  std::int64_t total_steps = 0;  // optimizer steps in the whole job at this setting
  // Seconds from this process's start until it trains at full speed: process start, model
  // build, data load, process group, and what the warm-up steps took beyond steady steps.
  double startup_s = 0;
  // What a job pays besides its steps, seconds: one evaluation of kEvalSamples samples and one
  // checkpoint (written to a scratch directory under TMPDIR, then removed).
  double eval_s = 0;
  double checkpoint_s = 0;
};

// Evaluation samples at eval_every and at the end of execute (and in measure's probe).
inline constexpr std::int64_t kEvalSamples = 64;

struct ExecuteOptions {
  nlohmann::json params = nlohmann::json::object();  // the settings search chose
  std::int64_t steps = 0;                            // steps to run now; 0: to the end of the job
  std::string checkpoint_dir;                        // empty: no checkpoints
  std::int64_t checkpoint_every = 0;                 // steps; 0: only at the end (and on stop)
  std::int64_t log_every = 1;
  std::int64_t eval_samples = kEvalSamples;  // evaluation samples at eval_every and at the end
};

class Technique {
 public:
  virtual ~Technique() = default;
  virtual std::string name() const = 0;
  // Processes (ranks) for `devices` devices; 1 runs in the worker's own process.
  virtual int processes(int devices) const = 0;
  // Settings to try, best first (e.g. larger micro-batches first); the first that fits wins.
  virtual std::vector<nlohmann::json> candidates(const JobSpec& job, int devices) const = 0;
  // Measures one candidate: `warmup` steps, then `steps` timed ones, then one evaluation and
  // one checkpoint. Out of memory is thrown as c10::Error (the caller turns it into an
  // infeasible result).
  virtual Result<Measurement> measure(RunContext& ctx, const nlohmann::json& params, int warmup,
                                      int steps) const = 0;
  // Trains. Returns the exit code (protocol::ExitCode); events say the rest.
  virtual int execute(RunContext& ctx, const ExecuteOptions& options) const = 0;
};

// The built-in techniques, by name; nullptr when unknown.
const Technique* find_technique(const std::string& name);
std::vector<std::string> technique_names();

}  // namespace saturn::worker
