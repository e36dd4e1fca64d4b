// The cost model every technique shares: compute time per block, link rates, optimizer steps,
// activation memory, and the choice among variants. See technique.h; formulas in
// docs/estimator.md.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "estimator/technique.h"

namespace saturn::estimator {

OptimizerBytes optimizer_bytes(const TrainingSetup& setup) {
  OptimizerBytes b;
  if (setup.optimizer == "sgd") {
    const bool momentum = setup.momentum > 0;
    b.states = momentum ? 8 : 4;            // fp32 master (+ momentum)
    b.update_traffic = momentum ? 20 : 12;  // read g, p (, v); write p (, v), bf16 p
  }
  return b;
}

double flops_rate(const Context& ctx) {
  const double mfu = ctx.setup.model.compute == ComputeKind::kTransformer
                         ? ctx.cal.transformer_mfu.value
                         : ctx.cal.conv_mfu.value;
  return ctx.gpu.peak_bf16_flops * mfu;
}

double block_forward_s(const Context& ctx, const BlockShape& block, double samples) {
  const double overhead = ctx.setup.model.compute == ComputeKind::kTransformer
                              ? ctx.cal.transformer_block_overhead_s.value
                              : ctx.cal.conv_block_overhead_s.value;
  return overhead + samples * block.forward_flops / flops_rate(ctx);
}

PassTimes pass_times(const Context& ctx, std::size_t first, std::size_t last, double samples,
                     bool checkpointing) {
  PassTimes t;
  for (std::size_t i = first; i < last; ++i) {
    const double f = block_forward_s(ctx, ctx.setup.model.blocks[i], samples);
    t.forward_s += f;
    t.backward_s += (checkpointing ? 3 : 2) * f;
  }
  return t;
}

double overlapped(double c, double k, double overlap) {
  return std::max(c, k) + (1 - overlap) * std::min(c, k);
}

double nvlink_rate(const Context& ctx) {
  return ctx.gpu.nvlink_bytes_per_s * ctx.cal.collective_efficiency.value;
}

double host_rate(const Context& ctx) {
  return ctx.gpu.host_link_bytes_per_s * ctx.cal.host_link_efficiency.value;
}

double gpu_optimizer_s(const Context& ctx, double params) {
  return params * optimizer_bytes(ctx.setup).update_traffic /
         (ctx.gpu.hbm_bytes_per_s * ctx.cal.hbm_efficiency.value);
}

double host_optimizer_s(const Context& ctx, double params) {
  const double adamw_traffic = OptimizerBytes{}.update_traffic;
  return params * (optimizer_bytes(ctx.setup).update_traffic / adamw_traffic) /
         ctx.cal.cpu_adam_params_per_s.value;
}

double activation_bytes(const ModelShape& model, std::size_t first, std::size_t last,
                        double samples, bool checkpointing) {
  double sum = 0;
  double inputs = 0;
  double largest = 0;
  double workspace = 0;
  for (std::size_t i = first; i < last; ++i) {
    sum += model.blocks[i].activation_bytes;
    inputs += model.block_input_bytes(i);
    largest = std::max(largest, model.blocks[i].activation_bytes);
    workspace += model.blocks[i].workspace_bytes;
  }
  return samples * (checkpointing ? inputs + largest : sum) + workspace;
}

double data_parallel_samples(const Context& ctx) {
  const long per_step = static_cast<long>(ctx.setup.grad_accum) * ctx.gpus;
  if (ctx.setup.batch_size < per_step) return 0;
  return std::ceil(static_cast<double>(ctx.setup.batch_size) / static_cast<double>(per_step));
}

ConfigEstimate batch_too_small(const Context& ctx, const std::string& technique) {
  Candidate c;
  c.valid = false;
  c.reason = fmt::format("batch_size {} is smaller than {} GPUs x {} micro-steps",
                         ctx.setup.batch_size, ctx.gpus, ctx.setup.grad_accum);
  return choose(ctx, technique, {c});
}

double reserved_bytes(const Context& ctx, const StepBreakdown& b) {
  return (b.state_bytes + b.activation_bytes + b.buffer_bytes) /
             ctx.cal.usable_memory_fraction.value +
         ctx.cal.framework_overhead_bytes.value;
}

std::string gib(double bytes) {
  return fmt::format("{:.1f} GiB", bytes / (1024.0 * 1024 * 1024));
}

namespace {

// The knobs of a variant in words, for messages: "activation checkpointing, 16 micro-batches".
std::string describe_knobs(const nlohmann::json& params) {
  std::string out;
  auto add = [&](const std::string& text) { out += (out.empty() ? "" : ", ") + text; };
  add(params.value("activation_checkpointing", false) ? "activation checkpointing"
                                                      : "no activation checkpointing");
  if (params.value("cpu_offload", false)) add("CPU offload");
  if (params.contains("micro_batches")) {
    add(fmt::format("{} micro-batches", params["micro_batches"].dump()));
  }
  if (params.contains("device_blocks")) {
    add(fmt::format("{} blocks kept on the GPU", params["device_blocks"].dump()));
  }
  return out;
}

}  // namespace

ConfigEstimate choose(const Context& ctx, const std::string& technique,
                      const std::vector<Candidate>& candidates) {
  ConfigEstimate e;
  e.technique = technique;
  e.gpus = ctx.gpus;
  e.gpu_type = ctx.gpu.name;
  e.steps = ctx.setup.steps;
  const Candidate* best = nullptr;     // fastest that fits
  const Candidate* leanest = nullptr;  // least memory among valid
  double best_peak = 0, leanest_peak = std::numeric_limits<double>::infinity();
  const bool restricted = ctx.knobs && !ctx.knobs->empty();
  auto has_knobs = [&](const Candidate& c) {
    for (const auto& [key, value] : ctx.knobs->items()) {
      if (!c.params.contains(key) || c.params[key] != value) return false;
    }
    return true;
  };
  bool any_valid = false;
  for (const Candidate& c : candidates) {
    if (!c.valid) continue;
    any_valid = true;
    if (restricted && !has_knobs(c)) continue;
    const double peak = reserved_bytes(ctx, c.breakdown);
    if (peak <= ctx.gpu.memory_bytes && (!best || c.step_s < best->step_s)) {
      best = &c;
      best_peak = peak;
    }
    if (peak < leanest_peak) {
      leanest = &c;
      leanest_peak = peak;
    }
  }
  const Candidate* pick = best ? best : leanest;
  if (!pick) {
    e.reason = candidates.empty() ? "no variant to evaluate"
               : any_valid      ? fmt::format("no {} variant has the knobs {}", technique,
                                              ctx.knobs->dump())
                                : candidates.front().reason;
    return e;
  }
  e.feasible = best != nullptr;
  e.step_s = pick->step_s;
  e.runtime_s = pick->step_s * static_cast<double>(ctx.setup.steps);
  e.peak_memory_bytes = best ? best_peak : leanest_peak;
  e.breakdown = pick->breakdown;
  e.params = pick->params;
  if (!e.feasible) {
    e.reason =
        fmt::format("needs {} per GPU, {} available (leanest variant: {})", gib(leanest_peak),
                    gib(ctx.gpu.memory_bytes), describe_knobs(pick->params));
  }
  return e;
}

}  // namespace saturn::estimator
