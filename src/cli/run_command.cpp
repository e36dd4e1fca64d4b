// `saturn run W.yaml`: the whole system — profile every job x technique x GPU count on this
// machine's devices (cached), plan, run the jobs with introspection, and report. `saturn status
// RUN_DIR` shows a run's jobs, live or finished. docs/running.md.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "saturn/executor.h"
#include "saturn/policy.h"
#include "saturn/run_events.h"
#include "saturn/run_layout.h"
#include "saturn/run_report.h"

namespace saturn::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
  g_stop = true;
}

struct RunArgs {
  std::string workload;
  std::string dir = "saturn-run";
  std::string cluster;
  std::string library;
  std::string gpu_type;
  int cpu_slots = 0;
  double interval_s = 60;
  double threshold = 0.02;
  int max_retries = 2;
  double checkpoint_interval_s = 30;
  double trial_timeout_s = 600;
  double plan_time_limit_s = 5;
  std::string policy = "saturn";
  std::uint64_t seed = 1;
};

int run_run(const RunArgs& args) {
  auto workload = load_workload_yaml(args.workload);
  if (!workload) {
    return fail("run", workload.error());
  }
  std::error_code ec;
  fs::create_directories(args.dir, ec);
  if (ec) {
    fmt::print(stderr, "saturn run: {}: cannot create the run directory: {}\n", args.dir,
               ec.message());
    return kExitWriteFailed;
  }
  auto lock = RunLock::acquire(args.dir);
  if (!lock) {
    return fail("run", lock.error());
  }
  auto store = RunStore::open(RunDir(args.dir).database());
  if (!store) {
    return fail("run", store.error());
  }
  const std::string workload_path = fs::absolute(args.workload, ec).string();
  if (auto previous = (*store)->meta(run_meta::kWorkload);
      previous && *previous && **previous != workload_path) {
    fmt::print(stderr,
               "saturn run: {}: this run directory belongs to the workload {}; use another "
               "--dir\n",
               args.dir, **previous);
    return kExitBadInput;
  }
  if (auto s = (*store)->set_meta(run_meta::kWorkload, workload_path); !s) {
    return fail("run", s.error());
  }
  auto setup = local_setup(args.library);
  if (!setup) {
    return fail("run", setup.error());
  }
  Backend& backend = *setup->backend;
  const std::string& worker = setup->worker;
  const WorkerInfo& info = setup->info;
  const Library& library = setup->library;
  DeviceSlots slots = local_device_slots(info, args.gpu_type, args.cpu_slots);
  if (!args.cluster.empty()) {
    auto cluster = load_cluster_yaml(args.cluster);
    if (!cluster) {
      return fail("run", cluster.error());
    }
    // The local backend runs on this machine: the cluster may only narrow its devices.
    const Node& n = cluster->nodes.front();
    if (cluster->nodes.size() != 1 || n.gpus > slots.count) {
      fmt::print(stderr,
                 "saturn run: {}: the local backend runs one node of at most {} {} device(s); "
                 "this cluster has {} node(s), the first with {}\n",
                 args.cluster, slots.count, slots.device_type, cluster->nodes.size(), n.gpus);
      return kExitBadInput;
    }
    slots.count = n.gpus;
    if (!slots.cuda_ids.empty()) slots.cuda_ids.resize(static_cast<std::size_t>(n.gpus));
  }
  Cluster cluster;
  cluster.nodes.push_back(slots.as_node());

  auto clock = RunClock::resume(**store);
  if (!clock) return fail("run", clock.error());
  // A job edited since the last run here is a new job: say so, and keep what it was.
  auto changed = reset_changed_jobs(*workload, **store, args.dir, clock->now());
  if (!changed) {
    return fail("run", changed.error());
  }
  for (const ChangedJob& c : *changed) {
    fmt::print(stderr,
               "job {} changed since the last run here ({}): it trains again from step 0{}\n",
               c.name, c.changes,
               c.set_aside.empty() ? "" : "; its earlier checkpoints are kept in " + c.set_aside);
  }

  // 1. Profile (cached in the run's database). Jobs not done yet show as "profiling" meanwhile.
  if (auto s = mark_profiling(*workload, **store); !s) return fail("run", s.error());
  fmt::print(stderr, "saturn run: {} jobs on {} {} device(s); run directory {}\n",
             workload->jobs.size(), slots.count, slots.device_type, args.dir);
  TrialRunnerOptions trial_options;
  trial_options.worker = worker;
  trial_options.run_dir = args.dir;
  trial_options.trial_timeout_s = args.trial_timeout_s;
  trial_options.checkpoint_interval_s = args.checkpoint_interval_s;
  ProgressPrinter progress;
  trial_options.progress = [&](const std::string& line, bool final) { progress(line, final); };
  TrialSummary trials;
  auto table =
      run_trials(*workload, library, **store, backend, slots, cluster, trial_options, &trials);
  for (const std::string& note : trials.notes) fmt::print(stderr, "  {}\n", note);
  if (!table) {
    return fail("run", table.error());
  }
  fmt::print(stderr, "profiled: {} measured, {} cached, {} failed, {} skipped ({:.1f} s)\n",
             trials.measured, trials.cached, trials.failed, trials.skipped, trials.elapsed_s);
  if (auto s = (*store)->set_meta(kDeviceTypeKey, slots.device_type); !s) {
    return fail("run", s.error());
  }
  if (auto s = (*store)->set_meta(run_meta::kProfiles, to_json(*table).dump()); !s) {
    return fail("run", s.error());
  }
  // A job that fits nowhere fails alone; the others are planned and run without it.
  for (const InfeasibleJob& bad : trials.infeasible) {
    fmt::print(stderr, "infeasible {}: {}\n", bad.job, bad.reason);
  }
  auto infeasible = mark_infeasible(**store, trials.infeasible, clock->now());
  if (!infeasible) {
    return fail("run", infeasible.error());
  }
  Workload runnable = *workload;
  std::erase_if(runnable.jobs, [&](const JobSpec& j) {
    return std::any_of(trials.infeasible.begin(), trials.infeasible.end(),
                       [&](const InfeasibleJob& i) { return i.job == j.name; });
  });

  // 2. Plan and execute. From here SIGINT/SIGTERM stop the run gracefully (every worker
  // checkpoints); while profiling they end it at once (finished trials are cached).
  ::signal(SIGINT, on_stop_signal);
  ::signal(SIGTERM, on_stop_signal);
  ExecutorOptions options;
  options.run_dir = args.dir;
  options.worker = worker;
  options.introspection_interval_s = args.interval_s;
  options.switch_threshold = args.threshold;
  options.max_retries = args.max_retries;
  options.checkpoint_interval_s = args.checkpoint_interval_s;
  options.planner.time_limit_s = args.plan_time_limit_s;
  options.policy = args.policy;
  options.seed = args.seed;
  options.stop = &g_stop;
  options.log = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  auto result = runnable.jobs.empty() ? Result<ExecutionSummary>(ExecutionSummary{})
                                      : execute_workload(runnable, *table, library, **store,
                                                         backend, {slots}, options);
  if (!result) {
    return fail("run", result.error());
  }
  result->failed += infeasible->failed;
  result->done += infeasible->done;

  // 3. Report.
  auto report = write_run_report(**store, (fs::path(args.dir) / "report.html").string());
  auto jobs = (*store)->jobs();
  if (jobs) fmt::print("\n{}", run_summary_table(*jobs, slots.device_type));
  fmt::print(
      "\n{} done, {} failed, {} pending under policy {}; {} switches, {} relaunches; makespan {} "
      "(planned {})\n",
      result->done, result->failed, result->pending, args.policy, result->switches,
      result->relaunches, hms(result->makespan_s), hms(result->planned_makespan_s));
  int report_code = kExitOk;
  if (report) {
    fmt::print("report: {}\n", (fs::path(args.dir) / "report.html").string());
  } else {
    report_code = fail("run", report.error());
  }
  if (result->stopped) {
    fmt::print(stderr, "stopped: run `saturn run {} --dir {}` again to resume\n", args.workload,
               args.dir);
    return kExitStopped;
  }
  return result->failed > 0 ? kExitJobsFailed : report_code;
}

struct StatusArgs {
  std::string dir;
  bool json = false;
};

int run_status(const StatusArgs& args) {
  const fs::path db = RunDir(args.dir).database();
  std::error_code ec;
  if (!fs::exists(db, ec)) {
    fmt::print(stderr, "saturn status: {}: not a run directory (no saturn.db)\n", args.dir);
    return kExitBadInput;
  }
  auto store = RunStore::open_read_only(db.string());
  if (!store) {
    fmt::print(stderr, "saturn status: {}\n", store.error().to_string());
    return kExitBadInput;
  }
  auto jobs = (*store)->jobs();
  if (!jobs) {
    fmt::print(stderr, "saturn status: {}\n", jobs.error().to_string());
    return kExitBadInput;
  }
  // What the database calls running or profiling stopped when its orchestrator did, unless a
  // process still holds the run directory: shown as "interrupted".
  const bool orphaned = !RunLock::held(args.dir);
  const auto shown_state = [&](const JobRecord& j) -> std::string {
    const bool active = j.state == JobStatus::kRunning || j.state == JobStatus::kProfiling;
    return orphaned && active ? "interrupted" : std::string(to_string(j.state));
  };
  auto policy = (*store)->meta(run_meta::kPolicy);  // absent until the executor has started
  if (!policy) {
    fmt::print(stderr, "saturn status: {}\n", policy.error().to_string());
    return kExitBadInput;
  }
  if (args.json) {
    nlohmann::json status = run_status_json(*jobs);
    for (std::size_t i = 0; i < jobs->size(); ++i) {
      status["jobs"][i]["state"] = shown_state((*jobs)[i]);
    }
    status["policy"] = policy->value_or("");
    fmt::print("{}\n", status.dump(2));
    return kExitOk;
  }
  const std::string device_type = run_device_type(**store);
  std::size_t width = 3;
  for (const JobRecord& j : *jobs) width = std::max(width, j.name.size());
  fmt::print("{:<{}}  {:<11} {:<10} {:>7} {:<10} {:>15} {:>8} {:>8}\n", "job", width, "state",
             "technique", "devices", "on", "step", "loss", "eval");
  for (const JobRecord& j : *jobs) {
    fmt::print("{:<{}}  {:<11} {:<10} {:>7} {:<10} {:>15} {:>8} {:>8}\n", j.name, width,
               shown_state(j), j.technique.empty() ? "-" : j.technique, j.gpus.size(),
               devices_text(device_type, j.gpus), fmt::format("{}/{}", j.step, j.total_steps),
               loss_text(j.loss), loss_text(j.eval_loss));
  }
  for (const JobRecord& j : *jobs) {
    if (j.state == JobStatus::kFailed && !j.error.empty()) fmt::print("{}: {}\n", j.name, j.error);
  }
  if (*policy) fmt::print("policy: {}\n", **policy);
  return kExitOk;
}

}  // namespace

void add_run_command(CLI::App& app, std::function<int()>& run) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Profile, plan and train every job of a workload on this machine, with introspection");
  cmd->add_option("workload", args->workload, "Workload YAML")->required();
  cmd->add_option("--dir", args->dir, "Run directory (state, checkpoints, logs, report)")
      ->capture_default_str();
  cmd->add_option("--cluster", args->cluster,
                  "Cluster YAML: one node, at most this machine's devices");
  cmd->add_option("--library", args->library, "Technique library directory");
  cmd->add_option("--gpu-type", args->gpu_type, "Type of this machine's GPUs");
  cmd->add_option("--cpu-slots", args->cpu_slots, "CPU device slots when there is no GPU")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--interval", args->interval_s, "Introspection interval, seconds")
      ->check(kPositiveFinite)
      ->capture_default_str();
  cmd->add_option("--threshold", args->threshold,
                  "Switch a running job when the gain exceeds this share of the remaining time")
      ->check(kShare)
      ->capture_default_str();
  cmd->add_option("--max-retries", args->max_retries, "Relaunches of a crashing job")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_option("--checkpoint-interval", args->checkpoint_interval_s,
                  "Seconds of training between checkpoints")
      ->check(kPositiveFinite)
      ->capture_default_str();
  cmd->add_option("--trial-timeout", args->trial_timeout_s, "Seconds per profiling trial")
      ->check(kPositiveFinite)
      ->capture_default_str();
  cmd->add_option("--plan-time-limit", args->plan_time_limit_s, "Seconds per (re-)plan")
      ->check(kPositiveFinite)
      ->capture_default_str();
  cmd->add_option("--policy", args->policy,
                  fmt::format("Scheduling policy: {}", fmt::join(policy_names(), ", ")))
      ->check(CLI::IsMember(policy_names()))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the policies that draw random numbers (random)")
      ->capture_default_str();
  cmd->callback([&run, args] {
    if (args->library.empty()) args->library = Library::default_dir();
    run = [args] { return run_run(*args); };
  });

  auto status = std::make_shared<StatusArgs>();
  CLI::App* st = app.add_subcommand("status", "Show a run's jobs: state, progress, loss");
  st->add_option("dir", status->dir, "Run directory")->required();
  st->add_flag("--json", status->json, "As JSON: {\"jobs\": [...]}");
  st->callback([&run, status] { run = [status] { return run_status(*status); }; });
}

}  // namespace saturn::cli
