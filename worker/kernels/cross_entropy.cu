// CUDA kernels behind cross_entropy.h. One thread block per row of logits (for GPT-2's head a row
// is 50,304 values, a 100 KB bf16 row): the forward kernel reduces the row to (max, Σ exp(x − max))
// with an online softmax, the backward kernel writes the row's gradient; both read the row with
// 16-byte vector loads when the row length and the pointers allow, element by element otherwise.
#include "kernels/cross_entropy.h"

#include <climits>
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace saturn::worker::kernels {
namespace {

constexpr int kThreads = 512;  // per block; a multiple of 32, at most 32 warps
constexpr int kWarp = 32;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// 16 bytes of T: one vector load or store.
template <typename T>
struct alignas(16) Pack {
  static constexpr int kSize = 16 / sizeof(T);
  T v[kSize];
};

// The larger of a and b, NaN if either is: a NaN logit must reach the loss.
__device__ __forceinline__ float nan_max(float a, float b) { return (a != a || a > b) ? a : b; }

// (max, Σ exp(x − max)) over a set of logits; (−inf, 0) for an empty or all −inf set.
struct SoftmaxSum {
  float max;
  float sum;
};

__device__ __forceinline__ SoftmaxSum combine(SoftmaxSum a, SoftmaxSum b) {
  const float m = nan_max(a.max, b.max);
  if (m == -INFINITY) return {m, 0.f};
  return {m, a.sum * __expf(a.max - m) + b.sum * __expf(b.max - m)};
}

// This thread's share of a row: elements threadIdx.x, threadIdx.x + blockDim.x, ... (packs of
// them when kVector).
template <typename T, bool kVector>
__device__ SoftmaxSum thread_softmax_sum(const T* row, std::int64_t cols) {
  SoftmaxSum acc{-INFINITY, 0.f};
  if constexpr (kVector) {
    constexpr int K = Pack<T>::kSize;
    const auto* packs = reinterpret_cast<const Pack<T>*>(row);
    for (std::int64_t i = threadIdx.x; i < cols / K; i += blockDim.x) {
      const Pack<T> p = packs[i];
      float x[K];
      float m = -INFINITY;
#pragma unroll
      for (int k = 0; k < K; ++k) {
        x[k] = to_float(p.v[k]);
        m = nan_max(m, x[k]);
      }
      if (m == -INFINITY) continue;  // masked columns only
      float s = 0.f;
#pragma unroll
      for (int k = 0; k < K; ++k) s += __expf(x[k] - m);
      acc = combine(acc, {m, s});
    }
  } else {
    for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float x = to_float(row[j]);
      if (x != -INFINITY) acc = combine(acc, {x, 1.f});
    }
  }
  return acc;
}

__device__ SoftmaxSum warp_reduce(SoftmaxSum a) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const SoftmaxSum b{__shfl_xor_sync(0xffffffffu, a.max, offset),
                       __shfl_xor_sync(0xffffffffu, a.sum, offset)};
    a = combine(a, b);
  }
  return a;
}

// The whole block's combination; every thread gets it.
__device__ SoftmaxSum block_reduce(SoftmaxSum a) {
  __shared__ SoftmaxSum warps[kWarp];
  __shared__ SoftmaxSum total;
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  a = warp_reduce(a);
  if (lane == 0) warps[warp] = a;
  __syncthreads();
  if (warp == 0) {
    SoftmaxSum b = lane < static_cast<int>(blockDim.x / kWarp) ? warps[lane]
                                                               : SoftmaxSum{-INFINITY, 0.f};
    b = warp_reduce(b);
    if (lane == 0) total = b;
  }
  __syncthreads();
  return total;
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const T* logits, const std::int64_t* targets, std::int64_t cols, float* lse,
                   float* loss) {
  const std::int64_t r = blockIdx.x;
  const T* row = logits + r * cols;
  const SoftmaxSum s = block_reduce(thread_softmax_sum<T, kVector>(row, cols));
  if (threadIdx.x == 0) {
    const float l = s.max + logf(s.sum);
    lse[r] = l;
    const std::int64_t t = targets[r];
    loss[r] = (t >= 0 && t < cols) ? l - to_float(row[t]) : NAN;
  }
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(const T* logits, const std::int64_t* targets, const float* lse,
                    const float* grad_loss, float scale, std::int64_t cols, T* dlogits) {
  const std::int64_t r = blockIdx.x;
  const T* row = logits + r * cols;
  T* drow = dlogits + r * cols;
  const float l = lse[r];
  const float g = *grad_loss * scale;
  const std::int64_t t = targets[r];
  if constexpr (kVector) {
    constexpr int K = Pack<T>::kSize;
    const auto* in = reinterpret_cast<const Pack<T>*>(row);
    auto* out = reinterpret_cast<Pack<T>*>(drow);
    for (std::int64_t i = threadIdx.x; i < cols / K; i += blockDim.x) {
      const Pack<T> p = in[i];
      Pack<T> d;
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const float onehot = (i * K + k == t) ? 1.f : 0.f;
        d.v[k] = from_float<T>((__expf(to_float(p.v[k]) - l) - onehot) * g);
      }
      out[i] = d;
    }
  } else {
    for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float onehot = (j == t) ? 1.f : 0.f;
      drow[j] = from_float<T>((__expf(to_float(row[j]) - l) - onehot) * g);
    }
  }
}

// Whole 16-byte packs per row, every pointer on a 16-byte boundary.
template <typename T>
bool vectorizable(std::int64_t cols, const void* a, const void* b) {
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  return cols % Pack<T>::kSize == 0 && aligned(a) && aligned(b);
}

template <typename T>
int forward(const void* logits, const std::int64_t* targets, std::int64_t rows, std::int64_t cols,
            float* lse, float* loss, cudaStream_t stream) {
  const auto* x = static_cast<const T*>(logits);
  if (vectorizable<T>(cols, logits, logits)) {
    forward_kernel<T, true><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, targets, cols,
                                                                                 lse, loss);
  } else {
    forward_kernel<T, false><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        x, targets, cols, lse, loss);
  }
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int backward(const void* logits, const std::int64_t* targets, const float* lse,
             const float* grad_loss, float scale, std::int64_t rows, std::int64_t cols,
             void* dlogits, cudaStream_t stream) {
  const auto* x = static_cast<const T*>(logits);
  auto* d = static_cast<T*>(dlogits);
  if (vectorizable<T>(cols, logits, dlogits)) {
    backward_kernel<T, true><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        x, targets, lse, grad_loss, scale, cols, d);
  } else {
    backward_kernel<T, false><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        x, targets, lse, grad_loss, scale, cols, d);
  }
  return static_cast<int>(cudaGetLastError());
}

// Rows are blocks of a one-dimensional grid.
bool valid_shape(std::int64_t rows, std::int64_t cols) {
  return rows >= 0 && rows <= INT_MAX && cols > 0;
}

}  // namespace

int cross_entropy_forward(const void* logits, LogitType type, const std::int64_t* targets,
                          std::int64_t rows, std::int64_t cols, float* lse, float* loss,
                          void* stream) {
  if (!valid_shape(rows, cols)) return static_cast<int>(cudaErrorInvalidValue);
  if (rows == 0) return 0;
  const auto s = static_cast<cudaStream_t>(stream);
  return type == LogitType::kBFloat16
             ? forward<__nv_bfloat16>(logits, targets, rows, cols, lse, loss, s)
             : forward<float>(logits, targets, rows, cols, lse, loss, s);
}

int cross_entropy_backward(const void* logits, LogitType type, const std::int64_t* targets,
                           const float* lse, const float* grad_loss, float scale,
                           std::int64_t rows, std::int64_t cols, void* dlogits, void* stream) {
  if (!valid_shape(rows, cols)) return static_cast<int>(cudaErrorInvalidValue);
  if (rows == 0) return 0;
  const auto s = static_cast<cudaStream_t>(stream);
  return type == LogitType::kBFloat16
             ? backward<__nv_bfloat16>(logits, targets, lse, grad_loss, scale, rows, cols,
                                       dlogits, s)
             : backward<float>(logits, targets, lse, grad_loss, scale, rows, cols, dlogits, s);
}

const char* kernel_error_string(int error) {
  return cudaGetErrorString(static_cast<cudaError_t>(error));
}

}  // namespace saturn::worker::kernels
