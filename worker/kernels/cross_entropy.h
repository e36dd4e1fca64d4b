// Saturn's fused cross-entropy for CUDA logits: the loss of an LM head and its gradient, each in
// one pass over the logits, without the fp32 log-probabilities PyTorch's log_softmax + nll_loss
// write and read back (for GPT-2's head, [B·T, 50304] fp32: 1.6 GB per pass at B·T = 8192).
// Written in CUDA (cross_entropy.cu); this interface names no CUDA or libtorch type, so the
// worker's libtorch code calls it without CUDA headers. Built only where a CUDA compiler is found
// (worker/CMakeLists.txt defines SATURN_WITH_KERNELS); the caller is models/cross_entropy.h.
//
// Shapes: logits [rows, cols] row-major and contiguous (fp32 or bf16), targets [rows] int64,
// lse and loss [rows] fp32, dlogits like logits. Every pointer is device memory; `stream` is a
// cudaStream_t. Each function launches asynchronously on `stream` and returns the launch's
// cudaError_t as an int (0: launched).
#pragma once

#include <cstdint>

namespace saturn::worker::kernels {

enum class LogitType { kFloat32, kBFloat16 };

// Per row r: lse[r] = log Σ_j exp(logits[r, j]) and loss[r] = lse[r] − logits[r, targets[r]],
// computed in fp32. −inf logits (masked columns) add nothing; a target outside [0, cols) gives a
// NaN loss; a NaN logit gives a NaN loss.
int cross_entropy_forward(const void* logits, LogitType type, const std::int64_t* targets,
                          std::int64_t rows, std::int64_t cols, float* lse, float* loss,
                          void* stream);

// dlogits[r, j] = (exp(logits[r, j] − lse[r]) − [j = targets[r]]) · (*grad_loss) · scale, computed
// in fp32 and stored in the logits' type. `grad_loss` is one fp32 value in device memory (the
// upstream gradient; read on the device, so the launch needs no synchronisation and can be
// captured in a CUDA graph); `scale` is 1/rows for a mean.
int cross_entropy_backward(const void* logits, LogitType type, const std::int64_t* targets,
                           const float* lse, const float* grad_loss, float scale,
                           std::int64_t rows, std::int64_t cols, void* dlogits, void* stream);

// The message for an error code the functions above returned.
const char* kernel_error_string(int error);

}  // namespace saturn::worker::kernels
