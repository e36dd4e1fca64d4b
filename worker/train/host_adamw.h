// AdamW for parameters in host memory in one pass: the update of offloading and of FSDP with
// CPU offload, where the optimizer step is bound by host memory traffic (docs/benchmarks.md).
//
// PyTorch's kernels need the gradient in fp32 first (a bf16 gradient converted into a second
// buffer), then a norm pass, the update and a cast of the master weights to the compute copy:
// about 44 bytes of memory traffic per parameter. host_adamw() reads the gradient as it is
// (bf16 or fp32), updates master and both moments and writes the bf16 compute copy in the same
// pass: 28 bytes per parameter, plus 2 (bf16) or 4 (fp32) for the norm pass that clipping needs
// first. The arithmetic is PyTorch's fused AdamW's, in fp32:
//
//   g = grad * grad_multiplier                 (clipping)
//   p *= 1 - lr * weight_decay
//   m += (1 - beta1) * (g - m)
//   v = beta2 * v + (1 - beta2) * g * g
//   p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
//
// bf16 values are raw bit patterns (uint16_t), rounded to nearest even as c10::BFloat16 does.
// Single-threaded over one slice; callers split the buffers across threads. Torch-free.
#pragma once

#include <cstdint>

namespace saturn::worker {

struct AdamWUpdate {
  float lr = 0;
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float weight_decay = 0;
  std::int64_t step = 1;  // this update's 1-based step (bias correction)
  float grad_multiplier = 1;  // clipping: max_norm / (norm + 1e-6), else 1
};

// Updates `n` elements: p (fp32 master), m and v (fp32 moments) in place from `grad`; writes
// the updated p as bf16 into `compute` unless it is null (fp32 compute: the master itself).
void host_adamw(const AdamWUpdate& u, float* p, float* m, float* v, const float* grad,
                std::uint16_t* compute, std::int64_t n);
void host_adamw(const AdamWUpdate& u, float* p, float* m, float* v, const std::uint16_t* grad,
                std::uint16_t* compute, std::int64_t n);

// Sum of squares of `n` gradient values (fp32 or bf16), accumulated in double.
double sum_of_squares(const float* grad, std::int64_t n);
double sum_of_squares(const std::uint16_t* grad, std::int64_t n);

}  // namespace saturn::worker
