// `saturn plan`: reads a profile table (and optionally a cluster), plans it, and prints a table,
// JSON, a plan file and/or a Gantt chart.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "saturn/gantt.h"
#include "saturn/planner.h"
#include "saturn/profile.h"

namespace saturn::cli {
namespace {

struct PlanArgs {
  std::string profiles;
  std::string cluster;
  std::string solver = "auto";
  double time_limit_s = 10;
  double runtime_uncertainty = 0;
  std::uint64_t seed = 1;
  bool json = false;
  std::string out;
  std::string gantt;
  bool verbose = false;
};

void print_table(const Plan& plan) {
  size_t width = 4;
  for (const Assignment& a : plan.assignments) width = std::max(width, a.task.size());
  fmt::print("{:<{}}  {:<10} {:<8} {:<10} {:>10} {:>10}\n", "job", width, "technique", "node",
             "GPUs", "start", "end");
  for (const Assignment& a : plan.assignments) {
    fmt::print("{:<{}}  {:<10} {:<8} {:<10} {:>10} {:>10}\n", a.task, width, a.technique, a.node,
               gpu_ranges(a.gpus), hms(a.start_s), hms(a.end_s));
  }
  fmt::print("\nmakespan     {} ({:.1f} s)\n", hms(plan.makespan_s), plan.makespan_s);
  fmt::print("lower bound  {} ({:.1f} s)\n", hms(plan.lower_bound_s), plan.lower_bound_s);
  fmt::print("gap          {:.2f}%\n", 100 * plan.gap);
  fmt::print("solver       {} ({}), {:.2f} s\n", plan.solver.name, plan.solver.status,
             plan.solver.solve_s);
  if (!plan.solver.warning.empty()) fmt::print(stderr, "warning: {}\n", plan.solver.warning);
}

int run_plan(const PlanArgs& args) {
  Result<ProfileTable> table = load_profile_table(args.profiles);
  if (!table.ok()) {
    fmt::print(stderr, "saturn plan: {}\n", table.error().to_string());
    return kExitBadInput;
  }
  if (!args.cluster.empty()) {
    Result<Cluster> cluster = load_cluster_yaml(args.cluster);
    if (!cluster.ok()) {
      fmt::print(stderr, "saturn plan: {}\n", cluster.error().to_string());
      return kExitBadInput;
    }
    table = with_cluster(std::move(table).value(), std::move(cluster).value(), args.cluster);
    if (!table.ok()) {
      fmt::print(stderr, "saturn plan: {}\n", table.error().to_string());
      return kExitBadInput;
    }
  }
  Result<SolverKind> kind = parse_solver_kind(args.solver);
  if (!kind.ok()) {
    fmt::print(stderr, "saturn plan: --solver: {}\n", kind.error().message);
    return kExitBadInput;
  }
  PlannerOptions options;
  options.solver = *kind;
  options.time_limit_s = args.time_limit_s;
  options.seed = args.seed;
  options.runtime_uncertainty = args.runtime_uncertainty;
  options.verbose = args.verbose;
  Result<Plan> planned = plan(*table, options);
  if (!planned.ok()) {
    fmt::print(stderr, "saturn plan: {}\n", planned.error().to_string());
    return planned.error().field == "time-limit" ? kExitBadInput : kExitNoPlan;
  }
  const std::string json = to_json(*planned).dump(2) + "\n";
  if (!args.out.empty()) {
    if (Status s = write_file_atomically(args.out, json); !s.ok()) {
      fmt::print(stderr, "saturn plan: {}\n", s.error().to_string());
      return kExitWriteFailed;
    }
  }
  if (!args.gantt.empty()) {
    const std::string title = "Saturn plan: " + args.profiles;
    if (Status s = write_gantt_html(*planned, table->cluster, title, args.gantt); !s.ok()) {
      fmt::print(stderr, "saturn plan: {}\n", s.error().to_string());
      return kExitWriteFailed;
    }
  }
  if (args.json) {
    fmt::print("{}", json);
  } else {
    print_table(*planned);
  }
  return kExitOk;
}

}  // namespace

void add_plan_command(CLI::App& app, std::function<int()>& run) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd =
      app.add_subcommand("plan", "Plan a profile table: technique, GPUs and start per job");
  cmd->add_option("--profiles", args->profiles, "Profile table (JSON)")->required();
  cmd->add_option("--cluster", args->cluster, "Cluster (YAML); replaces the table's cluster");
  cmd->add_option("--solver", args->solver, "auto | milp | heuristic | reference")
      ->capture_default_str();
  cmd->add_option("--time-limit", args->time_limit_s, "Wall-clock budget, seconds")
      ->check(kPositiveFinite)
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed of the heuristic")
      ->check(kUnsigned)
      ->capture_default_str();
  cmd->add_option("--runtime-uncertainty", args->runtime_uncertainty,
                  "Runtimes may be off by up to this share (e.g. 0.1): prefer, among near-best "
                  "plans, the one with the least expected makespan")
      ->check(kShareBelowOne)
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the plan as JSON instead of a table");
  cmd->add_option("--out", args->out, "Write the plan JSON to this file");
  cmd->add_option("--gantt", args->gantt, "Write a Gantt chart (self-contained HTML) here");
  cmd->add_flag("--verbose", args->verbose, "Show the MILP solver's log");
  cmd->callback([&run, args] { run = [args] { return run_plan(*args); }; });
}

}  // namespace saturn::cli
