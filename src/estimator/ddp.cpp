// DDP: a full replica per GPU; each GPU computes on its share of the batch and the gradients are
// ring-all-reduced over NVLink, partly hidden behind the backward pass. N = 1 is plain
// single-GPU training. Formulas: docs/estimator.md#ddp.
#include <fmt/format.h>

#include "estimator/technique.h"

namespace saturn::estimator {

ConfigEstimate estimate_ddp(const Context& ctx) {
  const TrainingSetup& setup = ctx.setup;
  const ModelShape& model = setup.model;
  const double samples = data_parallel_samples(ctx);
  std::vector<Candidate> candidates;
  if (samples == 0) return batch_too_small(ctx, "ddp");
  const OptimizerBytes bytes = optimizer_bytes(setup);
  const double params = static_cast<double>(model.params);
  const int n = ctx.gpus;
  const int accum = setup.grad_accum;
  // Ring all-reduce: every GPU sends and receives 2 (N-1)/N of the gradient bytes.
  const double allreduce_s =
      n > 1 ? 2.0 * (n - 1) / n * bytes.grads * params / nvlink_rate(ctx) : 0;
  for (const bool checkpointing : {false, true}) {
    const PassTimes t = pass_times(ctx, 0, model.blocks.size(), samples, checkpointing);
    // Gradients are reduced once per optimizer step, during the last micro-step's backward.
    const double last_backward = overlapped(t.backward_s, allreduce_s, ctx.cal.comm_overlap.value);
    Candidate c;
    c.breakdown.compute_s = accum * t.total();
    c.breakdown.comm_s = last_backward - t.backward_s;
    c.breakdown.optimizer_s = gpu_optimizer_s(ctx, params);
    c.step_s = c.breakdown.compute_s + c.breakdown.comm_s + c.breakdown.optimizer_s;
    c.breakdown.state_bytes = bytes.total() * params;
    c.breakdown.activation_bytes =
        activation_bytes(model, 0, model.blocks.size(), samples, checkpointing);
    c.params = {{"activation_checkpointing", checkpointing},
                {"micro_batch_per_gpu", static_cast<std::int64_t>(samples)}};
    candidates.push_back(std::move(c));
  }
  return choose(ctx, "ddp", candidates);
}

}  // namespace saturn::estimator
