// The profile table: the planner's input. For every task (training job), the configurations
// measured or estimated for it: technique x GPU count -> whole-job runtime and peak memory.
//
// JSON (docs/formats.md#profile-table):
//   {"cluster": {"nodes": [{"name": "n0", "gpus": 8, "gpu_type": "a100-40gb"}]},
//    "tasks": [{"name": "t0", "configs": [{"technique": "fsdp", "gpus": 2, "runtime_s": 5400.0,
//               "peak_memory_bytes": 3.1e10, "params": {}, "step_s": 0.54, "steps": 10000}]}]}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/cluster.h"
#include "saturn/error.h"

namespace saturn {

struct Config {
  std::string technique;         // e.g. "ddp", "fsdp", "gpipe", "offload"
  int gpus = 0;                  // GPUs on one node, > 0
  double runtime_s = 0;          // whole-job runtime on `gpus` GPUs, seconds, finite and > 0
  double peak_memory_bytes = 0;  // peak memory per GPU, bytes, >= 0 (0: unknown)
  std::string gpu_type;          // GPU type it was measured on; empty: valid on any node
  // The technique's own settings (what its `search` chose), passed to `execute` as they are.
  nlohmann::json params = nlohmann::json::object();
  // What the runtime is made of, as profiling measured it (the Trial Runner) or the estimator
  // computed it; 0: unknown. Seconds.
  double step_s = 0;        // one optimizer step
  std::int64_t steps = 0;   // the optimizer steps the runtime covers
  double startup_s = 0;     // process start until full speed (also a restart's cost)
  double eval_s = 0;        // one evaluation
  double checkpoint_s = 0;  // writing one checkpoint

  double gpu_seconds() const { return gpus * runtime_s; }
  // Seconds per optimizer step: step_s, else runtime_s / steps; 0 when neither is known.
  double seconds_per_step() const;
};

struct Task {
  std::string name;  // unique within the table
  std::vector<Config> configs;
  // Seconds a reconfiguration costs this task (checkpoint, relaunch, load, warm-up), >= 0;
  // 0: unknown (the simulator and executor then use their own default).
  double restart_s = 0;
};

struct ProfileTable {
  Cluster cluster;
  std::vector<Task> tasks;
};

// True when `config` can run on `node`: enough GPUs, matching GPU type (if the config names
// one), and peak memory within the node's per-GPU memory (if both are known).
bool config_fits(const Config& config, const Node& node);

// Parses a profile table. Rejects syntax errors, unknown keys, wrong types, non-finite or
// non-positive runtimes, duplicate task names, and tasks with no configuration that fits any
// node. `source` names the input in errors.
Result<ProfileTable> parse_profile_table(std::string_view text,
                                         std::string_view source = "<string>");
Result<ProfileTable> load_profile_table(const std::string& path);

// Replaces the table's cluster (e.g. from --cluster) and re-checks that every task still has a
// configuration that fits some node.
Result<ProfileTable> with_cluster(ProfileTable table, Cluster cluster, std::string_view source);

nlohmann::json to_json(const ProfileTable& table);

}  // namespace saturn
