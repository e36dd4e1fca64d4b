// The estimator's internal interface: one function per parallelism technique (ddp.cpp,
// fsdp.cpp, gpipe.cpp, offload.cpp) and the cost model they share — compute time per block,
// link rates, optimizer cost, memory accounting, and the choice among a technique's variants.
// Formulas: docs/estimator.md. Private to libsaturn.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/estimator.h"

namespace saturn::estimator {

// What every technique estimate reads.
struct Context {
  const TrainingSetup& setup;
  const GpuSpec& gpu;
  const GpuCalibration& cal;
  int gpus = 1;
  // Only variants whose params hold these keys and values count (estimate_config's `knobs`);
  // null or empty: every variant.
  const nlohmann::json* knobs = nullptr;
};

// A technique: estimates one configuration (searching its own knobs).
using TechniqueFn = ConfigEstimate (*)(const Context&);
ConfigEstimate estimate_ddp(const Context& ctx);
ConfigEstimate estimate_fsdp(const Context& ctx);
ConfigEstimate estimate_gpipe(const Context& ctx);
ConfigEstimate estimate_offload(const Context& ctx);

// Bytes per parameter for bf16 mixed precision (ZeRO, Rajbhandari et al. 2020): bf16 weights and
// gradients, fp32 master weights + optimizer moments; `update_traffic` is what the optimizer step
// reads and writes per parameter. An optimizer step on the GPU also holds an fp32 copy of the
// bf16 gradient (saturn-worker: PyTorch's fused AdamW and the SGD update take fp32 gradients);
// total() is what a GPU that runs the optimizer holds. Offloaded steps run on the host, where
// the one-pass kernel reads the bf16 gradient as it is.
struct OptimizerBytes {
  double weights = 2;
  double grads = 2;
  double states = 12;          // AdamW: master, m, v; SGD: master (+ momentum)
  double grad_copy = 4;        // fp32 gradient of a step on the GPU
  double update_traffic = 28;  // AdamW: read g, p, m, v; write p, m, v, bf16 p
  double total() const { return weights + grads + states + grad_copy; }
};
OptimizerBytes optimizer_bytes(const TrainingSetup& setup);

// Achieved FLOP/s of the model's arithmetic: peak bf16 x transformer_mfu or conv_mfu.
double flops_rate(const Context& ctx);
// Seconds of one block's forward for `samples` samples: the block overhead of the model's kind
// plus samples x FLOPs / flops_rate.
double block_forward_s(const Context& ctx, const BlockShape& block, double samples);

// Forward and backward seconds of blocks [first, last) for `samples` samples. Backward = 2 x
// forward, plus one more forward (recompute) with activation checkpointing.
struct PassTimes {
  double forward_s = 0;
  double backward_s = 0;
  double total() const { return forward_s + backward_s; }
};
PassTimes pass_times(const Context& ctx, std::size_t first, std::size_t last, double samples,
                     bool checkpointing);

// Time of compute `c` and communication `k` that run side by side, of which a share `overlap`
// hides: max(c, k) + (1 - overlap) x min(c, k).
double overlapped(double c, double k, double overlap);

// Achieved bytes/s: NVLink per direction x collective_efficiency; PCIe per direction x
// host_link_efficiency.
double nvlink_rate(const Context& ctx);
double host_rate(const Context& ctx);

// Seconds of the GPU optimizer step over `params` parameters (memory-bound on HBM).
double gpu_optimizer_s(const Context& ctx, double params);
// Seconds of the host optimizer step over `params` parameters (cpu_adam_params_per_s, scaled by
// the optimizer's memory traffic relative to AdamW's).
double host_optimizer_s(const Context& ctx, double params);

// Activation bytes that blocks [first, last) keep for `samples` samples: the sum of their
// activations, or with checkpointing their inputs plus the largest block's activations; plus
// the blocks' workspace (BlockShape::workspace_bytes), whatever the samples.
double activation_bytes(const ModelShape& model, std::size_t first, std::size_t last,
                        double samples, bool checkpointing);

// Samples per GPU per micro-step for data parallelism over ctx.gpus GPUs:
// ceil(batch / (grad_accum x gpus)); 0 when there are fewer samples than GPU micro-steps.
double data_parallel_samples(const Context& ctx);
// The infeasible estimate of a data-parallel `technique` when data_parallel_samples is 0.
ConfigEstimate batch_too_small(const Context& ctx, const std::string& technique);

// One variant of a technique (a choice of its knobs), evaluated.
struct Candidate {
  bool valid = true;   // false: cannot run at all (reason says why), regardless of memory
  std::string reason;  // when !valid
  double step_s = 0;
  StepBreakdown breakdown;
  nlohmann::json params = nlohmann::json::object();
};

// Bytes the allocator reserves per GPU for a breakdown: (state + activations + buffers) /
// usable_memory_fraction + framework_overhead_bytes.
double reserved_bytes(const Context& ctx, const StepBreakdown& b);

// The fastest valid candidate that fits in the GPU's memory; when none fits, the valid one that
// needs the least memory, infeasible, with the reason; when none is valid, the first one's reason.
ConfigEstimate choose(const Context& ctx, const std::string& technique,
                      const std::vector<Candidate>& candidates);

// "12.3 GiB".
std::string gib(double bytes);

}  // namespace saturn::estimator
