// `saturn simulate`: runs a workload (estimated by the performance estimator) or a profile
// table through the discrete-event simulator under one policy or all of them, and prints the
// comparison, JSON, and Gantt charts of the simulated timelines.
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "saturn/estimator.h"
#include "saturn/gantt.h"
#include "saturn/policy.h"
#include "saturn/simulator.h"
#include "saturn/workload.h"

namespace saturn::cli {
namespace {

struct SimulateArgs {
  std::string profiles;
  std::string workload;
  std::string cluster;
  std::string calibration;
  std::string policy = "all";
  SimulationOptions options;
  long planner_evaluations = SimulationOptions::default_planner_options().heuristic_evaluations;
  bool json = false;
  std::string out;
  std::string gantt;
};

// The profile table the policies see: --profiles as given (cluster replaced by --cluster), or
// the estimator's table for --workload on --cluster.
Result<ProfileTable> load_input(const SimulateArgs& args) {
  if (args.profiles.empty() == args.workload.empty()) {
    return Error{"", 0, "input", "give exactly one of --profiles P.json and --workload W.yaml"};
  }
  if (!args.profiles.empty()) {
    Result<ProfileTable> table = load_profile_table(args.profiles);
    if (!table.ok() || args.cluster.empty()) return table;
    Result<Cluster> cluster = load_cluster_yaml(args.cluster);
    if (!cluster.ok()) return cluster.error();
    return with_cluster(std::move(table).value(), std::move(cluster).value(), args.cluster);
  }
  if (args.cluster.empty()) {
    return Error{"", 0, "cluster", "--workload needs --cluster C.yaml"};
  }
  Result<Workload> workload = load_workload_yaml(args.workload);
  if (!workload.ok()) return workload.error();
  Result<Cluster> cluster = load_cluster_yaml(args.cluster);
  if (!cluster.ok()) return cluster.error();
  Result<Calibration> calibration = args.calibration.empty()
                                        ? Result<Calibration>(default_calibration())
                                        : load_calibration(args.calibration);
  if (!calibration.ok()) return calibration.error();
  return estimate_profile_table(*workload, *cluster, *calibration);
}

// "plan.html" + "saturn" -> "plan-saturn.html".
std::string gantt_path(const std::string& base, const std::string& policy, bool several) {
  if (!several) return base;
  const std::filesystem::path p(base);
  return (p.parent_path() / (p.stem().string() + "-" + policy + p.extension().string())).string();
}

void print_timeline(const SimulationResult& r) {
  size_t width = 4;
  for (const Segment& s : r.segments) width = std::max(width, s.task.size());
  fmt::print("{:<{}}  {:<10} {:<8} {:<10} {:>10} {:>10}  {}\n", "job", width, "technique", "node",
             "GPUs", "start", "end", "");
  for (const Segment& s : r.segments) {
    fmt::print("{:<{}}  {:<10} {:<8} {:<10} {:>10} {:>10}  {}\n", s.task, width, s.technique,
               s.node, gpu_ranges(s.gpus), hms(s.start_s), hms(s.end_s), s.finished ? "" : "moved");
  }
  fmt::print("\n");
}

void print_comparison(const std::vector<SimulationResult>& results) {
  double baseline = 0;
  for (const SimulationResult& r : results) {
    if (r.policy == "current-practice") baseline = r.makespan_s;
  }
  fmt::print("{:<17} {:>10} {:>9} {:>11} {:>9} {:>8} {:>8}\n", "policy", "makespan", "hours",
             "vs current", "vs LB", "GPU use", "moves");
  for (const SimulationResult& r : results) {
    const std::string vs =
        baseline > 0 ? fmt::format("{:+.1f}%", 100 * (r.makespan_s / baseline - 1)) : "-";
    fmt::print("{:<17} {:>10} {:>9.2f} {:>11} {:>8.3f}x {:>7.1f}% {:>8}\n", r.policy,
               hms(r.makespan_s), r.makespan_s / 3600, vs, r.makespan_s / r.lower_bound_s,
               100 * r.gpu_utilisation, r.reconfigurations);
  }
  if (!results.empty()) {
    fmt::print(
        "\nlower bound of the profile table: {} ({:.2f} h); with the true runtimes: {:.2f} h\n",
        hms(results.front().lower_bound_s), results.front().lower_bound_s / 3600,
        results.front().true_lower_bound_s / 3600);
  }
}

int run_simulate(SimulateArgs args) {
  Result<ProfileTable> table = load_input(args);
  if (!table.ok()) {
    fmt::print(stderr, "saturn simulate: {}\n", table.error().to_string());
    return kExitBadInput;
  }
  std::vector<std::string> names;
  if (args.policy == "all") {
    names = policy_names();
  } else {
    names = {args.policy};
  }
  args.options.planner.heuristic_evaluations = args.planner_evaluations;
  std::vector<SimulationResult> results;
  nlohmann::json policies = nlohmann::json::object();
  for (const std::string& name : names) {
    Result<std::unique_ptr<Policy>> policy = make_policy(name, args.options.seed);
    if (!policy.ok()) {
      fmt::print(stderr, "saturn simulate: --policy: {}\n", policy.error().message);
      return kExitBadInput;
    }
    Result<SimulationResult> r = simulate(*table, **policy, args.options);
    if (!r.ok()) {
      fmt::print(stderr, "saturn simulate: {}\n", r.error().to_string());
      return r.error().field == "simulate" || r.error().field.starts_with("policy") ? kExitNoPlan
                                                                                    : kExitBadInput;
    }
    policies[name] = to_json(*r);
    results.push_back(std::move(*r));
  }
  const nlohmann::json doc = {{"runtime_error", args.options.runtime_error},
                              {"config_error", args.options.config_error},
                              {"seed", args.options.seed},
                              {"introspection_interval_s", args.options.introspection_interval_s},
                              {"policies", policies}};
  const std::string json = doc.dump(2) + "\n";
  if (!args.out.empty()) {
    if (Status s = write_file_atomically(args.out, json); !s.ok()) {
      fmt::print(stderr, "saturn simulate: {}\n", s.error().to_string());
      return kExitWriteFailed;
    }
  }
  if (!args.gantt.empty()) {
    for (const SimulationResult& r : results) {
      const std::string path = gantt_path(args.gantt, r.policy, results.size() > 1);
      const std::string title = fmt::format("Saturn simulation: {} ({})", r.policy,
                                            args.workload.empty() ? args.profiles : args.workload);
      if (Status s = write_gantt_html(r.timeline(), table->cluster, title, path); !s.ok()) {
        fmt::print(stderr, "saturn simulate: {}\n", s.error().to_string());
        return kExitWriteFailed;
      }
    }
  }
  if (args.json) {
    fmt::print("{}", json);
  } else {
    if (results.size() == 1) print_timeline(results.front());
    print_comparison(results);
  }
  return kExitOk;
}

}  // namespace

void add_simulate_command(CLI::App& app, std::function<int()>& run) {
  auto args = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "simulate", "Simulate a workload on a cluster under Saturn and the baseline policies");
  cmd->add_option("--profiles", args->profiles, "Profile table (JSON) the policies see");
  cmd->add_option("--workload", args->workload,
                  "Workload (YAML); its profile table comes from the estimator");
  cmd->add_option("--cluster", args->cluster,
                  "Cluster (YAML); required with --workload, replaces the table's otherwise");
  cmd->add_option("--calibration", args->calibration,
                  "Estimator calibration (YAML); default: the built-in one");
  cmd->add_option("--policy", args->policy,
                  fmt::format("all | {}", fmt::join(policy_names(), " | ")))
      ->capture_default_str();
  cmd->add_option("--runtime-error", args->options.runtime_error,
                  "Each job's true runtimes are its profile's times a factor in [1-E, 1+E]")
      ->check(kNonNegativeFinite)
      ->capture_default_str();
  cmd->add_option("--config-error", args->options.config_error,
                  "Times, per configuration, another factor in [1-E, 1+E]")
      ->check(kNonNegativeFinite)
      ->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "Seed of the runtime errors and of random")
      ->check(kUnsigned)
      ->capture_default_str();
  cmd->add_option("--interval", args->options.introspection_interval_s,
                  "Introspection interval, seconds")
      ->check(kPositiveFinite)
      ->capture_default_str();
  cmd->add_option("--restart-s", args->options.default_restart_s,
                  "Restart cost for tasks whose profile gives none, seconds")
      ->check(kNonNegativeFinite)
      ->capture_default_str();
  cmd->add_option("--switch-threshold", args->options.switch_threshold,
                  "Move running jobs only for a gain above this share of the remaining time")
      ->check(kShare)
      ->capture_default_str();
  cmd->add_option("--assumed-error", args->options.planner.runtime_uncertainty,
                  "Saturn's belief about its estimates: runtimes off by up to this share; it "
                  "prefers plans that absorb such error (0: take the profile as exact)")
      ->check(kShareBelowOne)
      ->capture_default_str();
  cmd->add_option("--planner-evaluations", args->planner_evaluations,
                  "Heuristic evaluations per (re)plan (deterministic budget)")
      ->check(kUnsigned)
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print JSON instead of tables");
  cmd->add_option("--out", args->out, "Write the JSON to this file");
  cmd->add_option("--gantt", args->gantt,
                  "Write the simulated timeline as a Gantt chart here (with several policies: "
                  "one file per policy, named <stem>-<policy>.html)");
  cmd->callback([&run, args] { run = [args] { return run_simulate(*args); }; });
}

}  // namespace saturn::cli
