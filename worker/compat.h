// The few libtorch APIs that differ between the versions Saturn builds against: Debian's
// libtorch 1.13 (CPU, Gloo; CI) and PyTorch 2.x's (CUDA, NCCL; GPU machines). Everything else in
// worker/ uses the C++ API common to both.
#pragma once

#include <torch/torch.h>

// c10::Allocator::allocate lost its `const` in PyTorch 2.3.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define SATURN_ALLOCATE_CONST
#else
#define SATURN_ALLOCATE_CONST const
#endif

namespace saturn::worker::compat {

inline constexpr bool kHasScaledDotProductAttention = TORCH_VERSION_MAJOR >= 2;

// Attention over q, k, v of shape [B, heads, T, head_dim]. PyTorch 2 dispatches to fused
// (flash / memory-efficient) kernels; 1.13 computes softmax(q k^T / sqrt(d)) v explicitly.
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, bool causal) {
#if TORCH_VERSION_MAJOR >= 2
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
