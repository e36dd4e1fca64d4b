// saturn-worker: trains one job with one technique on given devices, or measures the technique's
// settings for it, speaking the process protocol (docs/worker-protocol.md) on stdout.
//
//   saturn-worker execute --job JOB.json --technique ddp --devices cuda:0,cuda:1
//       [--params '{"grad_accum": 2}'] [--steps N] [--checkpoint DIR] [--checkpoint-every N]
//   saturn-worker search  --job JOB.json --technique ddp --devices cuda:0,cuda:1
//   saturn-worker info
//
// A technique that runs one process per device is started once per rank by this process (the
// launcher) unless RANK is already set (started by another launcher, e.g. torchrun).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "compat.h"
#include "cpu_blas.h"
#include "crash_report.h"
#include "events.h"
#include "host_memory.h"
#include "launcher.h"
#include "memory_cap.h"
#include "models/cross_entropy.h"
#include "saturn/worker_protocol.h"
#include "saturn/workload.h"
#include "techniques/technique.h"
#include "train/graphed_step.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop.store(true);
}

struct Args {
  std::string job_path, job_name, technique, devices = "cpu", params = "{}";
  std::int64_t steps = 0, checkpoint_every = 0, log_every = 1, eval_samples = 64;
  std::string checkpoint;
  int warmup_steps = 2, measure_steps = 3;
  double device_memory_bytes = 0;
  double host_memory_bytes = 0;
  bool no_probes = false;
  std::string trace;
};

Result<std::vector<torch::Device>> parse_devices(const std::string& text) {
  std::vector<torch::Device> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      out.emplace_back(item);
    } catch (const std::exception&) {
      return Error{"", 0, "devices",
                   fmt::format("\"{}\" is not a device (cpu, cpu:N, cuda:N)", item)};
    }
    if (out.back().is_cuda() && !torch::cuda::is_available()) {
      return Error{"", 0, "devices", fmt::format("{}: no CUDA device is available", item)};
    }
    // "cuda" is the first GPU: the allocator's statistics and caps take an index.
    if (out.back().is_cuda() && !out.back().has_index()) out.back() = torch::Device("cuda:0");
    if (const auto gpus = static_cast<int>(torch::cuda::device_count());
        out.back().is_cuda() && out.back().index() >= gpus) {
      return Error{"", 0, "devices", fmt::format("{}: there are {} CUDA devices", item, gpus)};
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return Error{"", 0, "devices", "no devices given"};
  return out;
}

// Caps a CPU rank's tensors (cpu_rank_cap, host_memory.h), so that a batch too large for the
// machine is an out-of-memory result, as on a GPU, not a process the kernel's OOM killer ends.
void cap_cpu_rank(const std::vector<torch::Device>& devices, std::size_t slot_bytes) {
  const auto cpu_ranks = static_cast<int>(std::count_if(
      devices.begin(), devices.end(), [](const torch::Device& d) { return d.is_cpu(); }));
  const CpuRankCap cap =
      cpu_rank_cap(slot_bytes, free_host_memory(), host_memory_limit_left(), cpu_ranks);
  if (cap.bytes > 0) cap_device_memory(torch::kCPU, cap.bytes, cap.source);
}

// Everything a command needs; errors are config errors.
Result<RunContext> load_context(const Args& a, EventSink& events) {
  RunContext ctx;
  auto workload = load_workload_yaml(a.job_path);
  if (!workload) return workload.error();
  const JobSpec* job = nullptr;
  for (const JobSpec& j : workload->jobs) {
    if (a.job_name.empty() ? workload->jobs.size() == 1 : j.name == a.job_name) job = &j;
  }
  if (!job) {
    return Error{a.job_path, 0, "jobs",
                 a.job_name.empty() ? fmt::format("{} jobs in the file; name one with --name",
                                                  workload->jobs.size())
                                    : fmt::format("no job named \"{}\"", a.job_name)};
  }
  ctx.job = *job;
  ctx.base_dir = workload->base_dir;
  auto devices = parse_devices(a.devices);
  if (!devices) return devices.error();
  ctx.devices = std::move(*devices);
  auto env = RankEnvironment::from_env();
  if (!env) return env.error();
  ctx.env = *env;
  events.set_rank(ctx.env.rank);
  install_crash_report(ctx.env.rank);
  if (a.host_memory_bytes > 0) {
    limit_host_memory(static_cast<std::size_t>(std::ceil(a.host_memory_bytes)));
  }
  if (ctx.env.local_rank < static_cast<int>(ctx.devices.size())) {
    const torch::Device device = ctx.devices[static_cast<std::size_t>(ctx.env.local_rank)];
    const std::size_t slot =
        a.device_memory_bytes > 0 ? static_cast<std::size_t>(std::ceil(a.device_memory_bytes)) : 0;
    if (device.is_cpu()) {
      cap_cpu_rank(ctx.devices, slot);  // moot in a launcher, which makes no tensors
    } else if (slot > 0) {
      cap_device_memory(device, slot);
    }
  }
  ctx.events = &events;
  ctx.stop = &g_stop;
  return ctx;
}

int report(EventSink& events, const Error& e, const std::string& kind) {
  events.emit(protocol::Event{.name = std::string(protocol::kError),
                              .failure = protocol::failure_kind(kind),
                              .message = e.to_string()});
  return protocol::exit_code_for(kind);
}

// This process's arguments with the subcommand replaced, for rank processes.
std::vector<std::string> rank_argv(const std::vector<std::string>& argv, const std::string& command,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> out = {std::filesystem::canonical("/proc/self/exe").string(), command};
  for (std::size_t i = 2; i < argv.size(); ++i) out.push_back(argv[i]);
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

// Relays rank 0's events and every rank's errors.
void relay(EventSink& events, int rank, const std::string& line) {
  if (rank == 0) {
    events.write_line(line);
    return;
  }
  auto parsed = protocol::parse_event_line(line);
  if (!parsed.ok() || (*parsed)["event"] != protocol::kError) return;
  auto event = protocol::read_event(*parsed);
  if (!event.ok()) return;
  event->fields["rank"] = rank;
  events.emit(*event);
}

json measurement_json(const Measurement& m) {
  return {{"step_s", m.step_s},
          {"peak_memory_bytes", m.peak_memory_bytes},
          {"samples_per_s", m.samples_per_s},
          {"tokens_per_s", m.tokens_per_s},
          {"total_steps", m.total_steps},
          {"startup_s", m.startup_s},
          {"eval_s", m.eval_s},
          {"checkpoint_s", m.checkpoint_s}};
}

// Measures one candidate in this process (rank-level); out of memory is a result.
int run_measure(const Args& a, const std::vector<std::string>& argv, EventSink& events) {
  (void)argv;
  auto ctx = load_context(a, events);
  if (!ctx) return report(events, ctx.error(), std::string(protocol::kErrorConfig));
  const Technique* t = find_technique(a.technique);
  json params = json::parse(a.params, nullptr, false);
  ctx->probes = !a.no_probes;
  ctx->trace_path = a.trace;
  auto m = t->measure(*ctx, params, a.warmup_steps, a.measure_steps);
  if (!m) return report(events, m.error(), kind_of(m.error()));
  events.emit("measurement", measurement_json(*m));
  return protocol::kExitOk;
}

int run_search(const Args& a, const std::vector<std::string>& argv, EventSink& events) {
  auto ctx = load_context(a, events);
  if (!ctx) return report(events, ctx.error(), std::string(protocol::kErrorConfig));
  const Technique* t = find_technique(a.technique);
  const int devices = static_cast<int>(ctx->devices.size());
  const int ranks = t->processes(devices);
  ctx->probes = !a.no_probes;
  json tried = json::array();
  for (const json& params : t->candidates(ctx->job, devices)) {
    json outcome = {{"params", params}};
    std::optional<json> measured;
    if (ranks > 1) {
      json result;
      std::string error_kind, error_message;
      const LaunchResult r =
          launch_ranks(rank_argv(argv, "measure", {"--params", params.dump()}), ranks, g_stop,
                       [&](int rank, const std::string& line) {
                         auto event = protocol::parse_event_line(line);
                         if (!event.ok()) return;
                         if ((*event)["event"] == "measurement" && rank == 0) result = *event;
                         if ((*event)["event"] == protocol::kError && error_kind.empty()) {
                           error_kind = event->value("kind", "internal");
                           error_message = event->value("message", "");
                         }
                       });
      if (g_stop.load()) return protocol::kExitStopped;
      if (r.exit_code == 0 && !result.is_null()) {
        result.erase("event");
        measured = result;
      } else if (error_kind != protocol::kErrorOom && r.exit_code != protocol::kExitOutOfMemory) {
        return report(events,
                      Error{"", 0, "",
                            error_message.empty()
                                ? fmt::format("rank {} exited with {}", r.failed_rank, r.exit_code)
                                : error_message},
                      error_kind.empty() ? std::string(protocol::kErrorInternal) : error_kind);
      }
    } else {
      try {
        auto m = t->measure(*ctx, params, a.warmup_steps, a.measure_steps);
        if (g_stop.load()) return protocol::kExitStopped;
        if (!m && kind_of(m.error()) == protocol::kErrorOom) {
          outcome["reason"] = m.error().message;
        } else if (!m) {
          return report(events, m.error(), kind_of(m.error()));
        } else {
          measured = measurement_json(*m);
        }
      } catch (const c10::Error& e) {
        if (!compat::is_out_of_memory(e)) throw;
      } catch (const std::bad_alloc&) {
      }
    }
    outcome["feasible"] = measured.has_value();
    if (measured) outcome.update(*measured);
    tried.push_back(outcome);
    if (measured) {
      json fields = *measured;
      fields["feasible"] = true;
      fields["params"] = params;
      auto result = protocol::read_search_result(fields);
      if (!result) return report(events, result.error(), std::string(protocol::kErrorInternal));
      events.write_line(protocol::write_search_result(
          *result, {{"samples_per_s", fields.value("samples_per_s", 0.0)},
                    {"tokens_per_s", fields.value("tokens_per_s", 0.0)},
                    {"tried", tried}}));
      return protocol::kExitOk;
    }
  }
  protocol::SearchResult none;
  none.reason = tried.empty() ? fmt::format("batch_size {} does not split over {} devices",
                                            ctx->job.batch_size, devices)
                              : "out of memory at every setting tried";
  events.write_line(protocol::write_search_result(none, {{"tried", tried}}));
  return protocol::kExitOk;
}

int run_execute(const Args& a, const std::vector<std::string>& argv, EventSink& events) {
  auto ctx = load_context(a, events);
  if (!ctx) return report(events, ctx.error(), std::string(protocol::kErrorConfig));
  const Technique* t = find_technique(a.technique);
  const int ranks = t->processes(static_cast<int>(ctx->devices.size()));
  if (ranks > 1 && !std::getenv("RANK")) {
    const LaunchResult r =
        launch_ranks(rank_argv(argv, "execute", {}), ranks, g_stop,
                     [&](int rank, const std::string& line) { relay(events, rank, line); });
    return r.exit_code;
  }
  ExecuteOptions options;
  options.params = json::parse(a.params, nullptr, false);
  if (options.params.is_discarded() || !options.params.is_object()) {
    return report(events, Error{"", 0, "params", "expected a JSON object"},
                  std::string(protocol::kErrorConfig));
  }
  options.steps = a.steps;
  options.checkpoint_dir = a.checkpoint;
  options.checkpoint_every = a.checkpoint_every;
  options.log_every = a.log_every;
  options.eval_samples = a.eval_samples;
  return t->execute(*ctx, options);
}

int run_info(EventSink& events) {
  const BlasLibrary blas = loaded_blas();
  json techniques = json::array();
  for (const std::string& n : technique_names()) techniques.push_back(n);
  events.emit(protocol::kInfo,
              {{"techniques", techniques},
               {"torch", TORCH_VERSION},
               {"features",
                {{"scaled_dot_product_attention", compat::kHasScaledDotProductAttention},
                 {"fused_adamw", compat::kHasFusedAdamW},
                 {"cuda_graphs", GraphedStep::kAvailable},
                 {"fused_cross_entropy", kHasFusedCrossEntropy}}},
               {"cuda_devices", torch::cuda::device_count()},
               {"blas", {{"library", blas.path}, {"kind", blas.kind}}},
               {"protocol", 1}});
  return protocol::kExitOk;
}

int main_impl(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  CLI::App app{"saturn-worker: trains one job with one technique (docs/worker-protocol.md)"};
  app.require_subcommand(1);
  Args a;
  auto add_job = [&](CLI::App* cmd) {
    cmd->add_option("--job", a.job_path, "Workload file holding the job (one job, or use --name)")
        ->required();
    cmd->add_option("--name", a.job_name, "The job's name when the file holds several");
    cmd->add_option("--technique", a.technique, "Technique: single, ddp, fsdp, gpipe, offload")
        ->required();
    cmd->add_option("--devices", a.devices,
                    "Devices, one per rank: cpu, cpu:0,cpu:1, cuda:0,cuda:1")
        ->capture_default_str();
    // Bytes as doubles (1e9 reads as it should); at most about 2^62, so that they convert to
    // size_t.
    const CLI::Range bytes(0.0, 4.6e18);
    cmd->add_option("--device-memory-bytes", a.device_memory_bytes,
                    "Memory each device may use, bytes (a smaller device slot; CPU slots)")
        ->check(bytes);
    cmd->add_option("--host-memory-bytes", a.host_memory_bytes,
                    "Host memory this process may use in all, bytes (a share of the machine)")
        ->check(bytes);
  };
  CLI::App* execute = app.add_subcommand("execute", "Train the job");
  add_job(execute);
  execute->add_option("--params", a.params, "Settings from search, JSON")->capture_default_str();
  execute->add_option("--steps", a.steps, "Optimizer steps to run now (0: to the end)");
  execute->add_option("--checkpoint", a.checkpoint, "Checkpoint directory (resumes from it)");
  execute->add_option("--checkpoint-every", a.checkpoint_every,
                      "Steps between checkpoints (0: at the end)");
  execute->add_option("--log-every", a.log_every, "Steps between step events")
      ->capture_default_str();
  execute->add_option("--eval-samples", a.eval_samples, "Evaluation samples")
      ->capture_default_str();
  CLI::App* search =
      app.add_subcommand("search", "Find the technique's best settings and measure them");
  add_job(search);
  search->add_option("--warmup-steps", a.warmup_steps, "Untimed steps first")
      ->capture_default_str();
  search->add_option("--measure-steps", a.measure_steps, "Timed steps")->capture_default_str();
  search->add_flag("--no-probes", a.no_probes,
                   "Time only the steps, not an evaluation and a checkpoint (benchmarks)");
  CLI::App* measure =
      app.add_subcommand("measure", "One rank's measurement of one setting (used by search)");
  add_job(measure);
  measure->add_option("--params", a.params, "The setting, JSON")->required();
  measure->add_option("--warmup-steps", a.warmup_steps, "")->capture_default_str();
  measure->add_option("--measure-steps", a.measure_steps, "")->capture_default_str();
  measure->add_flag("--no-probes", a.no_probes,
                    "Time only the steps, not an evaluation and a checkpoint (benchmarks)");
  measure->add_option("--trace", a.trace,
                      "Record the timed steps (rank 0) as a Chrome trace at this path (JSON)");
  measure->group("");  // hidden
  CLI::App* info = app.add_subcommand("info", "Techniques, libtorch version, devices");
  EventSink events;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    events.emit(protocol::Event{.name = std::string(protocol::kError),
                                .failure = protocol::FailureKind::kConfig,
                                .message = e.what()});
    return protocol::kExitConfig;
  }
  if (info->parsed()) return run_info(events);
  if (!find_technique(a.technique)) {
    std::string known;
    for (const std::string& n : technique_names()) known += (known.empty() ? "" : ", ") + n;
    return report(events,
                  Error{"", 0, "technique",
                        fmt::format("unknown technique \"{}\" (built in: {})", a.technique, known)},
                  std::string(protocol::kErrorConfig));
  }
  // execute stops at a step boundary with a checkpoint, search between steps or candidates;
  // measure (a rank of a search, or a benchmark) has nothing to save and dies at once.
  if (!measure->parsed()) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
  }
  // An orchestrator that is gone (killed: its workers get SIGTERM as their parent-death signal)
  // leaves the event pipe without a reader. Writing an event must not kill the worker before it
  // has written its checkpoint: the write fails (EPIPE) and EventSink stops writing.
  ::signal(SIGPIPE, SIG_IGN);
  install_crash_report(0);
  try {
    if (execute->parsed()) return run_execute(a, args, events);
    if (search->parsed()) return run_search(a, args, events);
    return run_measure(a, args, events);
  } catch (const c10::Error& e) {
    const bool oom = compat::is_out_of_memory(e);
    return report(events, Error{"", 0, "", e.what_without_backtrace()},
                  std::string(oom ? protocol::kErrorOom : protocol::kErrorInternal));
  } catch (const std::bad_alloc&) {
    return report(events, Error{"", 0, "", "out of memory"}, std::string(protocol::kErrorOom));
  } catch (const std::exception& e) {
    return report(events, Error{"", 0, "", e.what()}, std::string(protocol::kErrorInternal));
  }
}

}  // namespace
}  // namespace saturn::worker

int main(int argc, char** argv) {
  return saturn::worker::main_impl(argc, argv);
}
