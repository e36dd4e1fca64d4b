// `saturn profile W.yaml`: the Trial Runner (saturn/trial_runner.h). Measures every job x
// technique x GPU count on this machine's devices, caches the results in RUN_DIR/saturn.db,
// prints the measured table and writes RUN_DIR/profiles.json, the profile table
// `saturn plan --profiles` reads.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "saturn/backend.h"
#include "saturn/executor.h"
#include "saturn/library.h"
#include "saturn/run_layout.h"
#include "saturn/run_store.h"
#include "saturn/trial_runner.h"

namespace saturn::cli {
namespace {

struct ProfileArgs {
  std::string workload;
  std::string dir;
  std::string library;
  std::string gpu_type;
  int cpu_slots = 0;
  double trial_timeout_s = 600;
  bool remeasure = false;
  bool json = false;
};

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

void print_table(const ProfileTable& table) {
  std::size_t width = 3;
  for (const Task& t : table.tasks) width = std::max(width, t.name.size());
  fmt::print("{:<{}}  {:<10} {:>7} {:>9} {:>8} {:>10}  {}\n", "job", width, "technique", "devices",
             "step s", "mem GiB", "runtime", "settings");
  for (const Task& t : table.tasks) {
    for (const Config& c : t.configs) {
      const nlohmann::json& settings = c.params;
      fmt::print("{:<{}}  {:<10} {:>7} {:>9.4f} {:>8.2f} {:>10}  {}\n", t.name, width, c.technique,
                 c.gpus, c.seconds_per_step(), c.peak_memory_bytes / kGiB, hms(c.runtime_s),
                 settings.dump());
    }
  }
}

int run_profile(const ProfileArgs& args) {
  auto workload = load_workload_yaml(args.workload);
  if (!workload) {
    return fail("profile", workload.error());
  }
  auto setup = local_setup(args.library);
  if (!setup) {
    return fail("profile", setup.error());
  }
  Backend& backend = *setup->backend;
  const std::string& worker = setup->worker;
  const WorkerInfo& info = setup->info;
  const Library& library = setup->library;
  const std::string dir = args.dir.empty() ? "saturn-run" : args.dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fmt::print(stderr, "saturn profile: {}: cannot create the run directory: {}\n", dir,
               ec.message());
    return kExitWriteFailed;
  }
  // One process measures in a run directory at a time: a `saturn run` holding it uses the
  // devices, and measuring beside it would time the two together and cache that.
  auto lock = RunLock::acquire(dir);
  if (!lock) {
    return fail("profile", lock.error());
  }
  auto store = RunStore::open(RunDir(dir).database());
  if (!store) {
    return fail("profile", store.error());
  }
  const DeviceSlots slots = local_device_slots(info, args.gpu_type, args.cpu_slots);
  Cluster cluster;
  cluster.nodes.push_back(slots.as_node());

  TrialRunnerOptions options;
  options.worker = worker;
  options.run_dir = dir;
  options.trial_timeout_s = args.trial_timeout_s;
  options.remeasure = args.remeasure;
  ProgressPrinter progress;
  options.progress = [&](const std::string& line, bool final) { progress(line, final); };
  fmt::print(stderr, "profiling on {} {} device(s) ({}); run directory {}\n", slots.count,
             slots.device_type, slots.cuda() ? "CUDA" : "CPU slots", dir);
  TrialSummary summary;
  auto table = run_trials(*workload, library, **store, backend, slots, cluster, options, &summary);
  for (const std::string& note : summary.notes) fmt::print(stderr, "  {}\n", note);
  fmt::print(stderr,
             "{} configurations: {} measured, {} cached, {} failed; {} skipped without running; "
             "{:.1f} s\n",
             summary.configurations, summary.measured, summary.cached, summary.failed,
             summary.skipped, summary.elapsed_s);
  if (!table) {
    return fail("profile", table.error());
  }
  nlohmann::json doc = to_json(*table);
  doc["meta"] = {{"tool", "saturn profile"},         {"workload", args.workload},
                 {"device_type", slots.device_type}, {"measured", summary.measured},
                 {"cached", summary.cached},         {"skipped", summary.skipped},
                 {"failed", summary.failed}};
  const std::string out = (std::filesystem::path(dir) / "profiles.json").string();
  if (auto s = write_file_atomically(out, doc.dump(2) + "\n"); !s) {
    return fail("profile", s.error());
  }
  if (args.json) {
    fmt::print("{}\n", doc.dump(2));
  } else {
    print_table(*table);
    fmt::print("\nprofile table written to {}\n", out);
  }
  for (const InfeasibleJob& bad : summary.infeasible) {
    fmt::print(stderr, "infeasible {}: {} (left out of the table)\n", bad.job, bad.reason);
  }
  return summary.infeasible.empty() ? kExitOk : kExitJobsFailed;
}

}  // namespace

void add_profile_command(CLI::App& app, std::function<int()>& run) {
  auto args = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "profile", "Measure every job x technique x GPU count on this machine (the Trial Runner)");
  cmd->add_option("workload", args->workload, "Workload YAML")->required();
  cmd->add_option("--dir", args->dir, "Run directory (default: saturn-run)");
  cmd->add_option("--library", args->library,
                  "Technique library directory (default: SATURN_LIBRARY_PATH or "
                  "~/.local/share/saturn/library)");
  cmd->add_option("--gpu-type", args->gpu_type, "Type of this machine's GPUs (default h100-80gb)");
  cmd->add_option("--cpu-slots", args->cpu_slots,
                  "CPU device slots when there is no GPU (default: one per core)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--trial-timeout", args->trial_timeout_s, "Seconds per trial (default 600)")
      ->check(kPositiveFinite);
  cmd->add_flag("--remeasure", args->remeasure, "Measure again what is cached");
  cmd->add_flag("--json", args->json, "Print the profile table as JSON");
  cmd->callback([&run, args] {
    if (args->library.empty()) args->library = Library::default_dir();
    run = [args] { return run_profile(*args); };
  });
}

}  // namespace saturn::cli
