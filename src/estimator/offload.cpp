// Offload: weights and optimizer state live in host memory; every GPU streams the blocks it does
// not keep over its own host link, once for the forward and once for the backward, with the
// transfer of the next block overlapping the compute of the current one. Gradients are
// reduce-scattered over NVLink and each GPU sends its shard to the host, where the optimizer
// step of the streamed blocks runs on the CPUs. The last k blocks (the worker's
// `device_blocks`) are kept on the GPU for the whole run, optimizer state and step included.
// Formulas: docs/estimator.md#offload.
#include <algorithm>

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

  // The worker recomputes every streamed block's activations in its backward pass (only block
  // inputs are kept); kept blocks run through autograd as usual, their activations saved.
  std::vector<Candidate> candidates;
  // k: blocks kept on the GPU, the last ones; block 0 is always streamed.
  for (std::size_t k = 0; k < std::max<std::size_t>(count, 1); ++k) {
    const std::size_t first_kept = count - k;
    double forward_s = 0, backward_s = 0, compute_s = 0;
    double kept_params = 0, streamed_max = 0, first_fetch = -1;
    for (std::size_t i = 0; i < count; ++i) {
      const BlockShape& b = model.blocks[i];
      const bool kept = i >= first_kept;
      const double w = static_cast<double>(b.weight_params());
      const double p = static_cast<double>(b.params);
      const double h2d_s = kept ? 0 : bytes.weights * w / host_rate(ctx);
      if (kept) {
        kept_params += p;
      } else {
        streamed_max = std::max(streamed_max, w);
        if (first_fetch < 0) first_fetch = h2d_s;
      }
      // Gradients: a streamed block's are reduce-scattered and copied out, a kept block's
      // (replicated on every GPU) all-reduced.
      const double scatter_s = (kept ? 2 : 1) * (n - 1) / n * bytes.grads * p / nvlink_rate(ctx);
      const double d2h_s = kept ? 0 : bytes.grads * p / n / host_rate(ctx);
      const double f = block_forward_s(ctx, b, samples);
      const double bwd = (kept ? 2 : 3) * f;
      forward_s += overlapped(f, h2d_s, overlap);
      backward_s += overlapped(bwd, std::max({h2d_s, scatter_s, d2h_s}), overlap);
      compute_s += f + bwd;
    }
    const double streamed_params = static_cast<double>(model.params) - kept_params;
    Candidate c;
    const int accum = setup.grad_accum;
    c.breakdown.compute_s = accum * compute_s;
    c.breakdown.comm_s = accum * (forward_s + backward_s - compute_s);
    // Not hidden: the first streamed block of each micro-step and the host optimizer step of
    // the streamed blocks. The kept blocks' step runs on the GPU.
    c.breakdown.host_s =
        accum * std::max(first_fetch, 0.0) + host_optimizer_s(ctx, streamed_params);
    c.breakdown.optimizer_s = gpu_optimizer_s(ctx, kept_params);
    c.step_s = c.breakdown.compute_s + c.breakdown.comm_s + c.breakdown.host_s +
               c.breakdown.optimizer_s;
    // Kept blocks: everything a GPU-resident model keeps (bf16 weights and gradients, fp32
    // master and moments, the step's fp32 gradient). Streamed: two weight buffers (current and
    // prefetched) and one gradient buffer of the largest streamed block.
    c.breakdown.state_bytes = bytes.total() * kept_params;
    c.breakdown.buffer_bytes = (2 * bytes.weights + bytes.grads) * streamed_max;
    c.breakdown.activation_bytes =
        activation_bytes(model, 0, first_kept, samples, /*checkpointing=*/true) +
        activation_bytes(model, first_kept, count, samples, /*checkpointing=*/false);
    c.params = {{"activation_checkpointing", true},
                {"device_blocks", k},
                {"micro_batch_per_gpu", static_cast<std::int64_t>(samples)}};
    candidates.push_back(std::move(c));
  }
  return choose(ctx, "offload", candidates);
}

}  // namespace saturn::estimator
