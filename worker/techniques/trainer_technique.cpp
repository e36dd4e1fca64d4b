// The shared half of techniques that train with the Trainer: measure (search's inner loop) and
// execute (the training loop with evaluation, checkpoints, stop and events); see
// trainer_technique.h.
#include "techniques/trainer_technique.h"

#include <sched.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

#include "cpu_blas.h"
#include "crash_report.h"
#include "step_trace.h"
#include "train/checkpoint.h"

namespace saturn::worker {
namespace {

using nlohmann::json;

// Seconds since this process started (/proc: the kernel's start time against its uptime).
double process_age_s() {
  std::ifstream stat("/proc/self/stat"), uptime("/proc/uptime");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  double up = 0;
  uptime >> up;
  // Fields after the command name (which may hold spaces) start at the last ')'.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  for (int i = 3; i < 22 && rest >> field;) ++i;  // field 22: starttime, clock ticks
  unsigned long long start = 0;
  rest >> start;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return std::max(0.0, up - static_cast<double>(start) / ticks);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The rank's device, threads and process group.
struct RankSetup {
  torch::Device device = torch::kCPU;
  std::unique_ptr<Communicator> comm;
};

Result<RankSetup> setup_rank(const RunContext& ctx) {
  RankSetup r;
  const int world = ctx.env.world_size;
  if (ctx.env.local_rank >= static_cast<int>(ctx.devices.size())) {
    return Error{"", 0, "devices",
                 fmt::format("rank {} has no device: {} given", ctx.env.rank, ctx.devices.size())};
  }
  r.device = ctx.devices[static_cast<std::size_t>(ctx.env.local_rank)];
  if (r.device.is_cpu() && ctx.env.rank == 0) warn_if_reference_blas();
  // The ranks on this machine share the cores this process may run on (the Trial Runner and the
  // executor pin a CPU job's processes to its device slots' cores): CPU ranks for their
  // training, GPU ranks for their host optimizer steps (offloading, FSDP with shards on the
  // host), whose OpenMP threads would otherwise each take every core.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const int cores = sched_getaffinity(0, sizeof allowed, &allowed) == 0
                        ? std::max(1, CPU_COUNT(&allowed))
                        : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  const int local_ranks = std::max(1, std::min(world, static_cast<int>(ctx.devices.size())));
  torch::set_num_threads(std::max(1, cores / local_ranks));
  if (world > 1) {
    auto comm = connect(ctx.env, r.device);
    if (!comm) return comm.error();
    r.comm = std::move(*comm);
  }
  return r;
}

// Times one evaluation and one checkpoint as execute runs them (rank 0 writes the checkpoint).
// A checkpoint that cannot be written here (a small TMPDIR) costs the estimate, not the trial.
void probe_eval_and_checkpoint(const RunContext& ctx, Trainer& trainer, Measurement* m) {
  auto e0 = std::chrono::steady_clock::now();
  {
    const CrashPhase phase("measure: evaluation probe");
    trainer.evaluate(kEvalSamples);
  }
  m->eval_s = seconds_since(e0);
  // Rank 0 writes the checkpoint, into a directory of its own under TMPDIR (the Trial Runner
  // gives each trial one in the run directory); the other ranks only send it their parts.
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string tmp = tmpdir && *tmpdir ? tmpdir : "/tmp";
  std::string probe;
  Result<std::string> written = std::string();
  if (ctx.env.rank == 0) {
    auto made = make_private_directory(tmp, "saturn-checkpoint-probe-");
    if (made) {
      probe = *made;
    } else {
      written = made.error();
    }
  }
  e0 = std::chrono::steady_clock::now();
  {
    const CrashPhase phase("measure: checkpoint probe");
    // Every rank takes part (FSDP and GPipe gather their parts to rank 0), also when rank 0
    // could not make its directory (it then writes nothing, and the figure is 0).
    Result<std::string> saved = trainer.save_checkpoint(probe);
    if (written) written = std::move(saved);
  }
  m->checkpoint_s = written ? seconds_since(e0) : 0;
  const CrashPhase phase("measure: checkpoint probe clean-up");
  if (ctx.env.rank == 0) {
    if (!written) {
      fmt::print(stderr, "saturn-worker: checkpoint probe under {} failed ({}); checkpoint_s 0\n",
                 tmp, written.error().to_string());
    }
    if (!probe.empty()) remove_directory_tree(probe);
  }
}

}  // namespace

Status TrainerTechnique::configure_from(const RunContext& ctx, const json& params,
                                        TrainerSetup* setup) const {
  try {
    return configure(ctx, params, setup);
  } catch (const json::exception& e) {
    return Error{"", 0, "params", fmt::format("{}: {}", params.dump(), e.what())};
  }
}

Result<Measurement> TrainerTechnique::measure(RunContext& ctx, const json& params, int warmup,
                                              int steps) const {
  const CrashPhase measuring("measure");
  auto rank = setup_rank(ctx);
  if (!rank) return rank.error();
  // Search measures its candidates one after another in one process, after some ran out of
  // memory.
  reset_peak_memory(rank->device);
  TrainerSetup setup{ctx.job, ctx.base_dir, rank->device, rank->comm.get()};
  if (Status s = configure_from(ctx, params, &setup); !s) return s.error();
  auto trainer = Trainer::create(setup);
  if (!trainer) return trainer.error();
  const CrashPhase stepping("measure: training steps");
  // A stop request (search's SIGTERM) ends the measurement between steps; it has one rank.
  const auto stopped = [&] { return ctx.stop != nullptr && ctx.stop->load(); };
  const Error stop_error{"", 0, "", "stopped by a signal before the measurement finished"};
  double warmup_s = 0;
  for (int i = 0; i < warmup; ++i) {
    if (stopped()) return stop_error;
    warmup_s += (*trainer)->train_step().seconds;
  }
  const double ready_s = process_age_s();
  std::vector<double> times;
  std::int64_t samples = 0, tokens = 0;
  std::unique_ptr<StepTrace> trace;
  if (!ctx.trace_path.empty() && ctx.env.rank == 0) {
    auto started = StepTrace::start(rank->device.is_cuda());
    if (!started) return started.error();
    trace = std::move(*started);
  }
  for (int i = 0; i < steps; ++i) {
    if (stopped()) return stop_error;
    const StepStats s = (*trainer)->train_step();
    times.push_back(s.seconds);
    samples = s.samples;
    tokens = s.tokens;
  }
  if (trace) {
    if (Status st = trace->write(ctx.trace_path); !st) return st.error();
  }
  Measurement m;
  m.step_s = median(times);
  m.samples_per_s = m.step_s > 0 ? static_cast<double>(samples) / m.step_s : 0;
  m.tokens_per_s = m.step_s > 0 ? static_cast<double>(tokens) / m.step_s : 0;
  m.total_steps = (*trainer)->total_steps();
  // The warm-up steps' excess over steady steps is start-up too (allocator, autotuning).
  m.startup_s = ready_s - warmup_s + std::max(0.0, warmup_s - warmup * m.step_s);
  if (ctx.probes) probe_eval_and_checkpoint(ctx, **trainer, &m);
  m.peak_memory_bytes = peak_memory_bytes(rank->device);
  const CrashPhase teardown("measure: freeing the trainer");
  trainer->reset();
  return m;
}

int TrainerTechnique::execute(RunContext& ctx, const ExecuteOptions& options) const {
  EventSink& events = *ctx.events;
  auto fail = [&](const Error& e, const std::string& kind) {
    events.emit(protocol::Event{.name = std::string(protocol::kError),
                                .failure = protocol::failure_kind(kind),
                                .message = e.to_string(),
                                .fields = {{"rank", ctx.env.rank}}});
    return protocol::exit_code_for(kind);
  };
  const CrashPhase executing("execute");
  auto rank = setup_rank(ctx);
  if (!rank) return fail(rank.error(), std::string(protocol::kErrorConfig));
  TrainerSetup setup{ctx.job, ctx.base_dir, rank->device, rank->comm.get()};
  // A setting ruled out of memory before the model is built is `oom`; the rest as kind_of says.
  if (Status s = configure_from(ctx, options.params, &setup); !s)
    return fail(s.error(), kind_of(s.error()));
  auto created = Trainer::create(setup);
  if (!created) return fail(created.error(), kind_of(created.error()));
  Trainer& trainer = **created;
  // A checkpoint that cannot be used is bad data (damaged, another job's) and stays bad: the
  // orchestrator does not retry it.
  std::optional<Trainer::Resumed> resumed;
  if (!options.checkpoint_dir.empty()) {
    auto restored = trainer.restore_checkpoint(options.checkpoint_dir);
    if (!restored && restored.error().field == kPeerFailedField) return protocol::kExitData;
    if (!restored) return fail(restored.error(), std::string(protocol::kErrorData));
    resumed = std::move(*restored);
  }
  if (resumed) {
    for (const RejectedCheckpoint& r : resumed->rejected) {
      events.emit(protocol::Event{.name = std::string(protocol::kCheckpointRejected),
                                  .path = r.path,
                                  .reason = r.reason,
                                  .resumed_from = resumed->path});
    }
  }
  const std::int64_t until = options.steps > 0
                                 ? std::min(trainer.total_steps(), trainer.step() + options.steps)
                                 : trainer.total_steps();
  json devices = json::array();
  for (const torch::Device& d : ctx.devices) devices.push_back(d.str());
  json started = {{"job", ctx.job.name},
                  {"technique", name()},
                  {"world_size", trainer.world_size()},
                  {"devices", devices},
                  {"grad_accum", trainer.grad_accum()},
                  {"micro_batch", trainer.micro_batch()},
                  {"cuda_graph", trainer.cuda_graph()},
                  {"step", trainer.step()},
                  {"total_steps", trainer.total_steps()},
                  {"until_step", until},
                  {"resumed", resumed.has_value()},
                  {"pid", static_cast<long>(::getpid())},
                  {"setup_host_peak_bytes", peak_memory_bytes(torch::kCPU)}};
  if (resumed) {
    started["checkpoint"] = {
        {"path", resumed->path}, {"step", resumed->step}, {"verified", resumed->verified}};
  }
  events.emit(protocol::Event{.name = std::string(protocol::kStarted),
                              .step = trainer.step(),
                              .total_steps = trainer.total_steps(),
                              .fields = started});
  const auto t0 = std::chrono::steady_clock::now();
  auto checkpoint = [&]() -> bool {
    if (options.checkpoint_dir.empty()) return true;
    const CrashPhase phase("execute: checkpoint");
    const auto c0 = std::chrono::steady_clock::now();
    auto where = trainer.save_checkpoint(options.checkpoint_dir);
    if (!where) {
      fail(where.error(), std::string(protocol::kErrorInternal));
      return false;
    }
    events.emit(protocol::Event{.name = std::string(protocol::kCheckpoint),
                                .step = trainer.step(),
                                .path = *where,
                                .fields = {{"seconds", seconds_since(c0)}}});
    return true;
  };
  double loss = 0;
  const CrashPhase training("execute: training");
  while (trainer.step() < until) {
    bool stop = ctx.stop && ctx.stop->load();
    if (rank->comm) stop = rank->comm->all_reduce_mean(stop ? 1.0 : 0.0) > 0;
    if (stop) {
      if (!checkpoint()) return protocol::kExitInternal;
      events.emit(protocol::Event{.name = std::string(protocol::kStopped), .step = trainer.step()});
      return protocol::kExitStopped;
    }
    const StepStats s = trainer.train_step();
    loss = s.loss;
    if (!std::isfinite(s.loss)) {
      return fail(
          Error{"", 0, "lr",
                fmt::format("the loss is {} at step {}: training diverged", s.loss, s.step)},
          std::string(protocol::kErrorConfig));
    }
    if (options.log_every > 0 &&
        (s.step % options.log_every == 0 || s.step == until || s.step == 1)) {
      events.emit(protocol::Event{.name = std::string(protocol::kStep),
                                  .step = s.step,
                                  .loss = s.loss,
                                  .fields = {{"lr", s.lr},
                                    {"grad_norm", s.grad_norm},
                                    {"step_s", s.seconds},
                                    {"samples_per_s", s.samples / s.seconds},
                                             {"tokens_per_s", static_cast<double>(s.tokens) / s.seconds}}});
    }
    if (ctx.job.eval_every > 0 && s.step % ctx.job.eval_every == 0 && s.step != until) {
      events.emit(protocol::Event{.name = std::string(protocol::kEval),
                                  .step = s.step,
                                  .loss = trainer.evaluate(options.eval_samples)});
    }
    if (options.checkpoint_every > 0 && s.step % options.checkpoint_every == 0 && s.step != until) {
      if (!checkpoint()) return protocol::kExitInternal;
    }
  }
  const double eval = trainer.evaluate(options.eval_samples);
  events.emit(protocol::Event{.name = std::string(protocol::kEval), .step = trainer.step(), .loss = eval});
  if (!checkpoint()) return protocol::kExitInternal;
  events.emit(protocol::Event{.name = std::string(protocol::kDone),
                              .step = trainer.step(),
                              .total_steps = trainer.total_steps(),
                              .loss = loss,
                              .fields = {{"eval_loss", eval}, {"seconds", seconds_since(t0)}}});
  return protocol::kExitOk;
}

std::vector<json> accumulation_candidates(const JobSpec& job, int world) {
  std::vector<json> out;
  for (int accum = std::max(1, job.grad_accum); accum <= job.batch_size; accum *= 2) {
    if (job.batch_size % (static_cast<long>(accum) * world) != 0) continue;
    out.push_back({{"grad_accum", accum}, {"micro_batch", job.batch_size / (accum * world)}});
  }
  return out;
}

}  // namespace saturn::worker
