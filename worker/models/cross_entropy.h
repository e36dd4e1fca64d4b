// The mean cross-entropy of logits against class indices, the loss of every model the worker
// trains, as one autograd operation that keeps only the logits and one fp32 value per row for
// the backward pass. PyTorch's log_softmax + nll_loss instead writes fp32 log-probabilities, keeps
// them, and passes over the [rows, classes] matrix several times more: for GPT-2's LM head at
// 8 × 1024 tokens that matrix is 8,192 × 50,304.
//
// On CUDA, when the worker is built with its own kernels (SATURN_WITH_KERNELS: a CUDA compiler
// was found), each pass is one fused kernel (kernels/cross_entropy.h); elsewhere the same
// arithmetic runs as ATen operations. Both compute in fp32 whatever the logits' type.
#pragma once

#include <torch/torch.h>

namespace saturn::worker {

// logits [N, V] (any float type; −inf entries are masked classes), targets [N] int64 in [0, V)
// on the same device: mean over rows r of logsumexp(logits[r]) − logits[r, targets[r]], an fp32
// scalar. Its gradient with respect to the logits has the logits' type.
torch::Tensor mean_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

// Whether this worker was built with the fused CUDA kernels.
#ifdef SATURN_WITH_KERNELS
inline constexpr bool kHasFusedCrossEntropy = true;
#else
inline constexpr bool kHasFusedCrossEntropy = false;
#endif

// Whether mean_cross_entropy runs the fused kernels for logits like these (CUDA, bf16 or fp32),
// unless the environment sets SATURN_FUSED_LOSS=0 (read once per process).
bool uses_fused_cross_entropy(const torch::Tensor& logits);

}  // namespace saturn::worker
