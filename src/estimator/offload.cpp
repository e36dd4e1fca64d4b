// Offload: weights and optimizer state live in host memory; every GPU streams the blocks it does
// not keep resident over its own host link, once for the forward and once for the backward, with
// the transfer of the next block overlapping the compute of the current one. Gradients are
// reduce-scattered over NVLink and each GPU sends its shard to the host, where the optimizer
// step runs on the CPUs. k blocks (the ones with the most bytes per FLOP first) stay resident.
// Formulas: docs/estimator.md#offload.
#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "estimator/technique.h"

namespace saturn::estimator {

ConfigEstimate estimate_offload(const Context& ctx) {
  const TrainingSetup& setup = ctx.setup;
  const ModelShape& model = setup.model;
  const double samples = data_parallel_samples(ctx);
  if (samples == 0) return batch_too_small(ctx, "offload");
  const OptimizerBytes bytes = optimizer_bytes(setup);
  const double n = ctx.gpus;
  const double overlap = ctx.cal.comm_overlap.value;
  const std::size_t count = model.blocks.size();

  // Residency order: blocks whose transfer is hardest to hide (weight bytes per FLOP) first.
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  auto bytes_per_flop = [&](std::size_t i) {
    const BlockShape& b = model.blocks[i];
    return static_cast<double>(b.weight_params()) / std::max(b.forward_flops, 1.0);
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return bytes_per_flop(a) > bytes_per_flop(b);
  });

  std::vector<Candidate> candidates;
  for (const bool checkpointing : {false, true}) {
    std::vector<bool> resident(count, false);
    for (std::size_t k = 0; k <= count; ++k) {
      if (k > 0) resident[order[k - 1]] = true;
      double forward_s = 0, backward_s = 0, compute_s = 0;
      double resident_params = 0, streamed_max = 0, first_fetch = -1;
      for (std::size_t i = 0; i < count; ++i) {
        const BlockShape& b = model.blocks[i];
        const double w = static_cast<double>(b.weight_params());
        const double h2d_s = resident[i] ? 0 : bytes.weights * w / host_rate(ctx);
        if (resident[i]) {
          resident_params += w;
        } else {
          streamed_max = std::max(streamed_max, w);
          if (first_fetch < 0) first_fetch = h2d_s;
        }
        const double p = static_cast<double>(b.params);
        const double scatter_s = (n - 1) / n * bytes.grads * p / nvlink_rate(ctx);
        const double d2h_s = bytes.grads * p / n / host_rate(ctx);
        const double f = block_forward_s(ctx, b, samples);
        const double bwd = (checkpointing ? 3 : 2) * f;
        forward_s += overlapped(f, h2d_s, overlap);
        backward_s += overlapped(bwd, std::max({h2d_s, scatter_s, d2h_s}), overlap);
        compute_s += f + bwd;
      }
      Candidate c;
      const int accum = setup.grad_accum;
      c.breakdown.compute_s = accum * compute_s;
      c.breakdown.comm_s = accum * (forward_s + backward_s - compute_s);
      // Not hidden: the first streamed block of each micro-step, the host optimizer step, and
      // the upload of the updated resident weights.
      c.breakdown.host_s = accum * std::max(first_fetch, 0.0) +
                           host_optimizer_s(ctx, static_cast<double>(model.params)) +
                           bytes.weights * resident_params / host_rate(ctx);
      c.step_s = c.breakdown.compute_s + c.breakdown.comm_s + c.breakdown.host_s;
      // Resident blocks: bf16 weights and gradients. Streamed: two weight buffers (current and
      // prefetched) and one gradient buffer of the largest streamed block.
      c.breakdown.state_bytes = (bytes.weights + bytes.grads) * resident_params;
      c.breakdown.buffer_bytes = (2 * bytes.weights + bytes.grads) * streamed_max;
      c.breakdown.activation_bytes = activation_bytes(model, 0, count, samples, checkpointing);
      c.params = {{"activation_checkpointing", checkpointing},
                  {"resident_blocks", k},
                  {"micro_batch_per_gpu", static_cast<std::int64_t>(samples)}};
      candidates.push_back(std::move(c));
    }
  }
  return choose(ctx, "offload", candidates);
}

}  // namespace saturn::estimator
