// The few libtorch APIs that differ between the versions Saturn builds against: Debian's
// libtorch 1.13 (CPU, Gloo; CI) and PyTorch 2.x's (CUDA, NCCL; GPU machines). Everything else in
// worker/ uses the C++ API common to both.
#pragma once

#include <optional>

#include <torch/torch.h>
#include <torch/version.h>

// True when the libtorch built against is at least major.minor. SATURN_TORCH_MAJOR/MINOR come from
// libtorch's CMake package (worker/CMakeLists.txt).
#define SATURN_TORCH_AT_LEAST(major, minor) \
  (SATURN_TORCH_MAJOR > (major) || (SATURN_TORCH_MAJOR == (major) && SATURN_TORCH_MINOR >= (minor)))

// c10::Allocator::allocate lost its `const` in PyTorch 2.3.
#if SATURN_TORCH_AT_LEAST(2, 3)
#define SATURN_ALLOCATE_CONST
#else
#define SATURN_ALLOCATE_CONST const
#endif

// PyTorch's fused AdamW kernel, `at::_fused_adamw_` (CUDA and CPU, with a tensor learning rate),
// from PyTorch 2.4. SATURN_NO_FUSED_ADAMW (CMake: -DSATURN_FUSED_ADAMW=OFF) leaves it out.
#if SATURN_TORCH_AT_LEAST(2, 4) && !defined(SATURN_NO_FUSED_ADAMW)
#define SATURN_HAS_FUSED_ADAMW 1
#endif

namespace saturn::worker::compat {

inline constexpr bool kHasScaledDotProductAttention = SATURN_TORCH_AT_LEAST(2, 0);

#ifdef SATURN_HAS_FUSED_ADAMW
inline constexpr bool kHasFusedAdamW = true;
#else
inline constexpr bool kHasFusedAdamW = false;
#endif

// One AdamW update of `params` in place (decoupled weight decay, bias-corrected moments), the
// gradients divided by `grad_scale` first when given; `steps` hold each tensor's step count,
// 1-based, already advanced. `lr` is a double or an fp32 scalar tensor on the parameters'
// device. All lists have one entry per parameter tensor (fp32, same device). Only with
// kHasFusedAdamW.
template <typename Lr>
void fused_adamw(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
                 const std::vector<torch::Tensor>& exp_avgs,
                 const std::vector<torch::Tensor>& exp_avg_sqs,
                 const std::vector<torch::Tensor>& steps, const Lr& lr, double beta1, double beta2,
                 double weight_decay, double eps, const std::optional<torch::Tensor>& grad_scale) {
#ifdef SATURN_HAS_FUSED_ADAMW
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, beta1,
                    beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false, grad_scale,
                    /*found_inf=*/std::nullopt);
#else
  (void)params, (void)grads, (void)exp_avgs, (void)exp_avg_sqs, (void)steps, (void)lr;
  (void)beta1, (void)beta2, (void)weight_decay, (void)eps, (void)grad_scale;
  TORCH_CHECK(false, "this libtorch has no fused AdamW kernel");
#endif
}

// Attention over q, k, v of shape [B, heads, T, head_dim]. PyTorch 2 dispatches to fused
// (flash / memory-efficient) kernels; 1.13 computes softmax(q k^T / sqrt(d)) v explicitly.
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, bool causal) {
#if SATURN_TORCH_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, causal);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  if (causal) {
    const int64_t t = q.size(-2);
    const torch::Tensor mask =
        torch::ones({t, t}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).triu(1);
    scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
  }
  return torch::matmul(torch::softmax(scores.to(torch::kFloat), -1).to(q.scalar_type()), v);
#endif
}

// True when `e` reports an allocation failure (CUDA out of memory, or the CPU allocator).
inline bool is_out_of_memory(const c10::Error& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return true;
  const std::string what = e.what();
  return what.find("out of memory") != std::string::npos ||
         what.find("can't allocate memory") != std::string::npos;
}

}  // namespace saturn::worker::compat
