// One-pass host AdamW; see host_adamw.h. Loops are written for the compiler to vectorise
// (no branches but the bf16 NaN select; built with -O3 -fno-math-errno so that sqrt
// vectorises); function clones give AVX2 and AVX-512 versions chosen at load time on x86-64.
#include "train/host_adamw.h"

#include <cmath>
#include <cstring>

namespace saturn::worker {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SATURN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SATURN_CLONES
#endif

inline float from_bf16(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float from(const float x) { return x; }
inline float from(const std::uint16_t x) { return from_bf16(x); }

// Round to nearest even; NaN stays a (quiet) NaN.
inline std::uint16_t to_bf16(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const std::uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  return f != f ? std::uint16_t{0x7FC0} : static_cast<std::uint16_t>(rounded);
}

template <bool kCompute, typename G>
inline void update(const AdamWUpdate& u, float* __restrict p, float* __restrict m,
                   float* __restrict v, const G* __restrict grad,
                   std::uint16_t* __restrict compute, std::int64_t n) {
  const double step = static_cast<double>(u.step);
  const float step_size = static_cast<float>(u.lr / (1.0 - std::pow(u.beta1, step)));
  const float inv_bias2_sqrt = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(u.beta2, step)));
  const float decay = 1.0f - u.lr * u.weight_decay;
  const float a1 = 1.0f - u.beta1, b2 = u.beta2, a2 = 1.0f - u.beta2, eps = u.eps;
  const float mult = u.grad_multiplier;
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = from(grad[i]) * mult;
    const float mi = m[i] + a1 * (g - m[i]);
    const float vi = b2 * v[i] + a2 * g * g;
    const float pi = p[i] * decay - step_size * mi / (std::sqrt(vi) * inv_bias2_sqrt + eps);
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
    if constexpr (kCompute) compute[i] = to_bf16(pi);
  }
}

template <typename G>
inline void update(const AdamWUpdate& u, float* p, float* m, float* v, const G* grad,
                   std::uint16_t* compute, std::int64_t n) {
  if (compute) {
    update<true>(u, p, m, v, grad, compute, n);
  } else {
    update<false>(u, p, m, v, grad, compute, n);
  }
}

template <typename G>
inline double squares(const G* __restrict grad, std::int64_t n) {
  // kLanes independent float sums (vectorisable without reassociating one sum), folded into
  // double every kRun elements.
  constexpr std::int64_t kLanes = 16, kRun = 1024;
  double total = 0;
  std::int64_t i = 0;
  for (; i + kRun <= n; i += kRun) {
    float lanes[kLanes] = {};
    for (std::int64_t j = 0; j < kRun; j += kLanes) {
      for (std::int64_t k = 0; k < kLanes; ++k) {
        const float g = from(grad[i + j + k]);
        lanes[k] += g * g;
      }
    }
    for (const float l : lanes) total += l;
  }
  for (; i < n; ++i) {
    const double g = from(grad[i]);
    total += g * g;
  }
  return total;
}

}  // namespace

SATURN_CLONES void host_adamw(const AdamWUpdate& u, float* p, float* m, float* v,
                              const float* grad, std::uint16_t* compute, std::int64_t n) {
  update(u, p, m, v, grad, compute, n);
}

SATURN_CLONES void host_adamw(const AdamWUpdate& u, float* p, float* m, float* v,
                              const std::uint16_t* grad, std::uint16_t* compute, std::int64_t n) {
  update(u, p, m, v, grad, compute, n);
}

SATURN_CLONES double sum_of_squares(const float* grad, std::int64_t n) { return squares(grad, n); }

SATURN_CLONES double sum_of_squares(const std::uint16_t* grad, std::int64_t n) {
  return squares(grad, n);
}

}  // namespace saturn::worker
