// FSDP (ZeRO-3): weights, gradients and optimizer state sharded over the N GPUs; each block's
// weights are all-gathered before its forward and again before its backward, and its gradients
// reduce-scattered after. Variants: activation checkpointing, and CPU offload of the shards
// (host transfers + optimizer step on the host). Formulas: docs/estimator.md#fsdp.
#include <algorithm>

#include <fmt/format.h>

#include "estimator/technique.h"

namespace saturn::estimator {

ConfigEstimate estimate_fsdp(const Context& ctx) {
  const TrainingSetup& setup = ctx.setup;
  const ModelShape& model = setup.model;
  const double samples = data_parallel_samples(ctx);
  if (samples == 0) return batch_too_small(ctx, "fsdp");
  const OptimizerBytes bytes = optimizer_bytes(setup);
  const double params = static_cast<double>(model.params);
  const double n = ctx.gpus;
  const double overlap = ctx.cal.comm_overlap.value;
  double largest_block = 0;  // parameters of the largest unit FSDP gathers
  double all_blocks = 0;     // parameters of every unit
  for (const BlockShape& b : model.blocks) {
    largest_block = std::max(largest_block, static_cast<double>(b.weight_params()));
    all_blocks += static_cast<double>(b.weight_params());
  }
  std::vector<Candidate> candidates;
  for (const bool offload : {false, true}) {
    for (const bool checkpointing : {false, true}) {
      double forward_s = 0, backward_s = 0, compute_s = 0;
      for (const BlockShape& b : model.blocks) {
        const double w = static_cast<double>(b.weight_params());
        // All-gather (and reduce-scatter) move (N-1)/N of the block's bf16 bytes per GPU.
        const double gather_s = (n - 1) / n * bytes.weights * w / nvlink_rate(ctx);
        const double scatter_s =
            (n - 1) / n * bytes.grads * static_cast<double>(b.params) / nvlink_rate(ctx);
        // With offload, each GPU's shard crosses the host link before the gather (forward and
        // backward), and its gradient shard goes back.
        const double h2d_s = offload ? bytes.weights * w / n / host_rate(ctx) : 0;
        const double d2h_s =
            offload ? bytes.grads * static_cast<double>(b.params) / n / host_rate(ctx) : 0;
        const double f = block_forward_s(ctx, b, samples);
        const double bwd = (checkpointing ? 3 : 2) * f;
        forward_s += overlapped(f, std::max(gather_s, h2d_s), overlap);
        backward_s += overlapped(bwd, std::max({gather_s + scatter_s, h2d_s, d2h_s}), overlap);
        compute_s += f + bwd;
      }
      Candidate c;
      const int accum = setup.grad_accum;
      c.breakdown.compute_s = accum * compute_s;
      const double exposed = accum * (forward_s + backward_s - compute_s);
      if (offload) {
        // The first block's shard is fetched before anything can overlap it.
        const double first_fetch = bytes.weights *
                                   static_cast<double>(model.blocks.front().weight_params()) / n /
                                   host_rate(ctx);
        c.breakdown.host_s = host_optimizer_s(ctx, params) + accum * first_fetch;
        c.breakdown.comm_s = exposed;
      } else {
        c.breakdown.comm_s = exposed;
        c.breakdown.optimizer_s = gpu_optimizer_s(ctx, params / n);
      }
      c.step_s =
          c.breakdown.compute_s + c.breakdown.comm_s + c.breakdown.host_s + c.breakdown.optimizer_s;
      // Sharded state. With activation checkpointing: two gathered blocks (current +
      // prefetched) and one block's full gradient. Without: every block stays gathered, with its
      // full gradient buffer, from its forward pass to its backward pass (saturn-worker's
      // FSDP), plus the prefetched one. On one GPU too: the worker gathers into copies.
      c.breakdown.state_bytes = offload ? 0 : bytes.total() * params / n;
      c.breakdown.buffer_bytes =
          checkpointing ? (2 * bytes.weights + bytes.grads) * largest_block
                        : (bytes.weights + bytes.grads) * all_blocks + bytes.weights * largest_block;
      c.breakdown.activation_bytes =
          activation_bytes(model, 0, model.blocks.size(), samples, checkpointing);
      c.params = {{"activation_checkpointing", checkpointing},
                  {"cpu_offload", offload},
                  {"prefetch", true},
                  {"micro_batch_per_gpu", static_cast<std::int64_t>(samples)}};
      candidates.push_back(std::move(c));
    }
  }
  return choose(ctx, "fsdp", candidates);
}

}  // namespace saturn::estimator
