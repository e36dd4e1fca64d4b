// `saturn estimate`: estimates every job x technique x GPU count of a workload on a cluster's
// GPU types (docs/estimator.md), prints a table (feasible configurations with step time, memory
// and runtime; infeasible ones with the reason), and writes the profile table that
// `saturn plan --profiles` reads.
#include <algorithm>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "saturn/estimator.h"
#include "saturn/profile.h"

namespace saturn::cli {
namespace {

struct EstimateArgs {
  std::string workload;
  std::string cluster;
  std::string calibration;
  bool json = false;
  std::string out;
  std::string knobs;  // JSON object restricting each technique's variants; empty: none
};

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The chosen knobs in a few words: "ckpt, M=16, 4 stages".
std::string knobs(const ConfigEstimate& e) {
  const nlohmann::json& p = e.params;
  std::string out;
  auto add = [&](const std::string& text) { out += (out.empty() ? "" : ", ") + text; };
  if (p.value("activation_checkpointing", false)) add("ckpt");
  if (p.value("cpu_offload", false)) add("cpu-offload");
  if (p.contains("micro_batches")) {
    add(fmt::format("M={} (bubble {:.0f}%)", p["micro_batches"].get<int>(),
                    100 * p.value("bubble_fraction", 0.0)));
  }
  if (p.contains("device_blocks"))
    add(fmt::format("{} kept", p["device_blocks"].get<int>()));
  return out;
}

void print_table(const std::vector<JobEstimates>& jobs, bool show_type) {
  std::size_t width = 3;
  for (const JobEstimates& j : jobs) width = std::max(width, j.setup.job.size());
  const std::string type_head = show_type ? fmt::format(" {:<10}", "GPU") : "";
  fmt::print("{:<{}}  {:<9} {:>4}{} {:>9} {:>8} {:>10}  {}\n", "job", width, "technique", "GPUs",
             type_head, "step s", "mem GiB", "runtime h", "notes");
  for (const JobEstimates& j : jobs) {
    for (const ConfigEstimate& e : j.configs) {
      const std::string type = show_type ? fmt::format(" {:<10}", e.gpu_type) : "";
      if (e.feasible) {
        fmt::print("{:<{}}  {:<9} {:>4}{} {:>9.3f} {:>8.1f} {:>10.2f}  {}\n", j.setup.job, width,
                   e.technique, e.gpus, type, e.step_s, e.peak_memory_bytes / kGiB,
                   e.runtime_s / 3600, knobs(e));
      } else {
        fmt::print("{:<{}}  {:<9} {:>4}{} {:>9} {:>8} {:>10}  infeasible: {}\n", j.setup.job, width,
                   e.technique, e.gpus, type, "-", "-", "-", e.reason);
      }
    }
    fmt::print("{:<{}}  {} steps of {} samples; restart {:.1f} s\n", "", width, j.setup.steps,
               j.setup.batch_size, j.restart_s);
  }
}

int run_estimate(const EstimateArgs& args) {
  Result<Workload> workload = load_workload_yaml(args.workload);
  if (!workload.ok()) {
    fmt::print(stderr, "saturn estimate: {}\n", workload.error().to_string());
    return kExitBadInput;
  }
  Result<Cluster> cluster = load_cluster_yaml(args.cluster);
  if (!cluster.ok()) {
    fmt::print(stderr, "saturn estimate: {}\n", cluster.error().to_string());
    return kExitBadInput;
  }
  Result<Calibration> calibration =
      args.calibration.empty() ? default_calibration() : load_calibration(args.calibration);
  if (!calibration.ok()) {
    fmt::print(stderr, "saturn estimate: {}\n", calibration.error().to_string());
    return kExitBadInput;
  }
  nlohmann::json knobs = nlohmann::json::object();
  if (!args.knobs.empty()) {
    knobs = nlohmann::json::parse(args.knobs, nullptr, /*allow_exceptions=*/false);
    if (knobs.is_discarded() || !knobs.is_object()) {
      fmt::print(stderr,
                 "saturn estimate: --knobs: expected a JSON object such as "
                 "'{{\"activation_checkpointing\": true}}', got {}\n",
                 args.knobs);
      return kExitBadInput;
    }
  }
  auto jobs = estimate_workload(*workload, *cluster, *calibration, knobs);
  if (!jobs.ok()) {
    Error error = jobs.error();
    if (error.file.empty()) error.file = args.cluster;  // the only input without a location
    fmt::print(stderr, "saturn estimate: {}\n", error.to_string());
    return kExitBadInput;
  }
  bool several_types = false;
  for (const Node& node : cluster->nodes) {
    several_types = several_types || node.gpu_type != cluster->nodes.front().gpu_type;
  }
  if (!args.json) print_table(*jobs, several_types);
  Result<ProfileTable> table = to_profile_table(*jobs, *cluster);
  if (!table.ok()) {
    fmt::print(stderr, "saturn estimate: {}\n", table.error().to_string());
    return kExitBadInput;
  }
  nlohmann::json json = to_json(*table);
  json["meta"] = {{"tool", "saturn estimate"},
                  {"workload", args.workload},
                  {"cluster", args.cluster},
                  {"calibration", calibration->source}};
  const std::string text = json.dump(2) + "\n";
  if (!args.out.empty()) {
    if (Status s = write_file_atomically(args.out, text); !s.ok()) {
      fmt::print(stderr, "saturn estimate: {}\n", s.error().to_string());
      return kExitWriteFailed;
    }
    if (!args.json) fmt::print("\nprofile table written to {}\n", args.out);
  }
  if (args.json) fmt::print("{}", text);
  return kExitOk;
}

}  // namespace

void add_estimate_command(CLI::App& app, std::function<int()>& run) {
  auto args = std::make_shared<EstimateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "estimate", "Estimate runtime and memory of every job x technique x GPU count");
  cmd->add_option("workload", args->workload, "Workload (YAML)")->required();
  cmd->add_option("--cluster", args->cluster, "Cluster (YAML)")->required();
  cmd->add_option("--calibration", args->calibration,
                  "Calibration (YAML); default: the built-in calibration/default.yaml");
  cmd->add_flag("--json", args->json, "Print the profile table JSON instead of the table");
  cmd->add_option("--out", args->out, "Write the profile table JSON to this file");
  cmd->add_option("--knobs", args->knobs,
                  "Only the variants with these knobs, a JSON object (e.g. "
                  "'{\"activation_checkpointing\": true, \"cpu_offload\": false}')");
  cmd->callback([&run, args] { run = [args] { return run_estimate(*args); }; });
}

}  // namespace saturn::cli
