// GPipe: the block sequence split into N contiguous stages, one per GPU; each micro-step's
// batch split into M micro-batches that flow through the stages in a fill-drain schedule
// (all forwards, then all backwards). Stages are balanced by dynamic programming over the block
// sequence (least slowest-stage time among partitions whose every stage fits in memory); M and
// activation checkpointing are searched. Formulas: docs/estimator.md#gpipe.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "estimator/technique.h"

namespace saturn::estimator {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One stage [first, last) for micro-batches of `micro` samples.
struct Stage {
  double time_s = 0;     // per micro-batch: forward + backward (+ recompute) + boundary sends
  double compute_s = 0;  // the compute part of time_s
  StepBreakdown memory;  // state, activations, buffers of the stage's GPU
  double params = 0;     // parameters it updates
};

Stage evaluate_stage(const Context& ctx, std::size_t first, std::size_t last, double micro,
                     int micro_batches, bool checkpointing) {
  const ModelShape& model = ctx.setup.model;
  const OptimizerBytes bytes = optimizer_bytes(ctx.setup);
  Stage s;
  const PassTimes t = pass_times(ctx, first, last, micro, checkpointing);
  // Activations go forward over the stage's output boundary; their gradients come back over
  // its input boundary.
  const double in_bytes = first > 0 ? model.block_input_bytes(first) : 0;
  const double out_bytes = last < model.blocks.size() ? model.blocks[last - 1].output_bytes : 0;
  const double send_s = micro * (in_bytes + out_bytes) / nvlink_rate(ctx);
  s.compute_s = t.total();
  s.time_s = overlapped(s.compute_s, send_s, ctx.cal.comm_overlap.value);
  double owned = 0, tied = 0;
  for (std::size_t i = first; i < last; ++i) {
    owned += static_cast<double>(model.blocks[i].params);
    tied += static_cast<double>(model.blocks[i].tied_params);
  }
  // A tied weight (the LM head's) is owned by block 0; a stage without block 0 keeps a copy with
  // its own optimizer state (its gradient is all-reduced with the owner's, a small transfer).
  if (first == 0) tied = 0;
  s.params = owned + tied;
  s.memory.state_bytes = bytes.total() * s.params;
  const double all = micro * micro_batches;  // samples in flight during fill-drain
  s.memory.activation_bytes = checkpointing ? all * model.block_input_bytes(first) +
                                                  activation_bytes(model, first, last, micro, false)
                                            : activation_bytes(model, first, last, all, false);
  s.memory.buffer_bytes = 2 * micro * (in_bytes + out_bytes);  // send/receive buffers
  return s;
}

// Balanced partition of the blocks into `stages` stages: least slowest-stage time among those
// whose every stage fits; when none fits, least slowest-stage memory. Returns stage bounds.
std::vector<std::size_t> partition(const Context& ctx, int stages, double micro, int micro_batches,
                                   bool checkpointing) {
  const std::size_t n = ctx.setup.model.blocks.size();
  // cost[j][i]: stage [j, i) as {time, reserved bytes}.
  std::vector<std::vector<std::pair<double, double>>> cost(
      n + 1, std::vector<std::pair<double, double>>(n + 1, {kInf, kInf}));
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t i = j + 1; i <= n; ++i) {
      const Stage s = evaluate_stage(ctx, j, i, micro, micro_batches, checkpointing);
      cost[j][i] = {s.time_s, reserved_bytes(ctx, s.memory)};
    }
  }
  const double memory = ctx.gpu.memory_bytes;
  for (const bool fit_memory : {true, false}) {
    // best[k][i]: least max-stage objective for blocks [0, i) in k stages; from[k][i]: split.
    std::vector<std::vector<double>> best(stages + 1, std::vector<double>(n + 1, kInf));
    std::vector<std::vector<std::size_t>> from(stages + 1, std::vector<std::size_t>(n + 1, 0));
    best[0][0] = 0;
    for (int k = 1; k <= stages; ++k) {
      for (std::size_t i = k; i <= n; ++i) {
        for (std::size_t j = k - 1; j < i; ++j) {
          if (best[k - 1][j] == kInf) continue;
          const auto [time, bytes] = cost[j][i];
          if (fit_memory && bytes > memory) continue;
          const double v = std::max(best[k - 1][j], fit_memory ? time : bytes);
          if (v < best[k][i]) {
            best[k][i] = v;
            from[k][i] = j;
          }
        }
      }
    }
    if (best[stages][n] == kInf) continue;
    std::vector<std::size_t> bounds(stages + 1, n);
    for (int k = stages; k > 0; --k) bounds[k - 1] = from[k][bounds[k]];
    return bounds;
  }
  return {};
}

}  // namespace

ConfigEstimate estimate_gpipe(const Context& ctx) {
  const TrainingSetup& setup = ctx.setup;
  const ModelShape& model = setup.model;
  const int stages = ctx.gpus;
  if (static_cast<std::size_t>(stages) > model.blocks.size()) {
    Candidate c;
    c.valid = false;
    c.reason = fmt::format("{} stages need at least as many blocks; {} has {}", stages, model.name,
                           model.blocks.size());
    return choose(ctx, "gpipe", {c});
  }
  if (setup.batch_size < setup.grad_accum) {
    Candidate c;
    c.valid = false;
    c.reason = fmt::format("batch_size {} is smaller than grad_accum {}", setup.batch_size,
                           setup.grad_accum);
    return choose(ctx, "gpipe", {c});
  }
  // Samples per micro-step through the pipeline, split into M micro-batches (M divides it).
  const int batch = static_cast<int>(
      std::ceil(static_cast<double>(setup.batch_size) / static_cast<double>(setup.grad_accum)));
  std::vector<Candidate> candidates;
  for (int m = 1; m <= batch; ++m) {
    if (batch % m != 0) continue;
    const double micro = static_cast<double>(batch / m);
    for (const bool checkpointing : {false, true}) {
      const std::vector<std::size_t> bounds = partition(ctx, stages, micro, m, checkpointing);
      if (bounds.empty()) continue;
      double slowest = 0, slowest_compute = 0, optimizer_s = 0, peak = -1;
      Candidate c;
      nlohmann::json blocks_per_stage = nlohmann::json::array();
      for (int k = 0; k < stages; ++k) {
        const Stage s = evaluate_stage(ctx, bounds[k], bounds[k + 1], micro, m, checkpointing);
        if (s.time_s > slowest) {
          slowest = s.time_s;
          slowest_compute = s.compute_s;
        }
        optimizer_s = std::max(optimizer_s, gpu_optimizer_s(ctx, s.params));
        const double reserved = reserved_bytes(ctx, s.memory);
        if (reserved > peak) {
          peak = reserved;
          c.breakdown.state_bytes = s.memory.state_bytes;
          c.breakdown.activation_bytes = s.memory.activation_bytes;
          c.breakdown.buffer_bytes = s.memory.buffer_bytes;
        }
        blocks_per_stage.push_back(bounds[k + 1] - bounds[k]);
      }
      // Fill-drain: M + N - 1 slots of the slowest stage per micro-step.
      const double micro_step_s = (m + stages - 1) * slowest;
      c.breakdown.compute_s = setup.grad_accum * m * slowest_compute;
      c.breakdown.comm_s = setup.grad_accum * micro_step_s - c.breakdown.compute_s;
      c.breakdown.optimizer_s = optimizer_s;
      c.step_s = setup.grad_accum * micro_step_s + optimizer_s;
      c.params = {{"activation_checkpointing", checkpointing},
                  {"micro_batches", m},
                  {"micro_batch", batch / m},
                  {"bubble_fraction", static_cast<double>(stages - 1) / (m + stages - 1)},
                  {"blocks_per_stage", blocks_per_stage}};
      candidates.push_back(std::move(c));
    }
  }
  return choose(ctx, "gpipe", candidates);
}

}  // namespace saturn::estimator
