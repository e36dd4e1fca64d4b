// Shared by the worker's training tests: whether two runs that should train alike (a technique
// against `single` on the same global batch, a resumed run against an uninterrupted one) reached
// the same fp32 weights.
//
// Two such runs need not round alike: another BLAS (MKL picks kernels by alignment and thread
// count), other threads, sums taken in another order. AdamW then turns a rounding difference in
// a near-zero gradient into a visible step (GPT's key biases have only such gradients): nudging
// tiny_text_job's initial weights by one ulp (relative 1.2e-7) moves 25 of its 118,528 weights
// past allclose(rtol 1e-4, atol 1e-6) after its 6 steps, the worst by 6.6e-6
// (SameWeights.AcceptsRoundingAndRejectsAMissedStep). Measured on 2026-12-04 (OpenBLAS, 2
// cores): in-process equality tests at most 11 weights past it, worst 6.6e-6; ranks as
// processes of their own (fewer threads each) up to about 110 of 118,528, worst 4.9e-5.
//
// A bug moves weights by about lr (3e-3 in the tests' jobs) per step (a wrong batch, a lost
// micro-step, a stage or shard not updated), or every weight a little (weight decay skipped:
// 6 x lr x 0.1 x |w| over 6 steps). So two bounds: every weight within 2e-4 + 1e-3 |expected|
// (4x the worst rounding seen), and at most 1% of them past 1e-6 + 1e-4 |expected| (10x the
// most seen; skipped weight decay puts 92% past it).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

namespace saturn::worker {

// Passes when every element of `actual` is within 2e-4 + 1e-3 |expected| of `expected` (same
// shape) and at most 1% are farther than 1e-6 + 1e-4 |expected|; the failure says how many are
// out and names the worst element.
inline ::testing::AssertionResult same_weights(const torch::Tensor& actual,
                                               const torch::Tensor& expected) {
  if (!actual.sizes().equals(expected.sizes())) {
    return ::testing::AssertionFailure()
           << "shapes differ: " << actual.sizes() << " against " << expected.sizes();
  }
  const torch::Tensor a = actual.detach().to(torch::kCPU, torch::kDouble).reshape({-1});
  const torch::Tensor e = expected.detach().to(torch::kCPU, torch::kDouble).reshape({-1});
  if (a.numel() == 0) return ::testing::AssertionSuccess();
  const torch::Tensor diff = (a - e).abs();
  // Per element: |a - e| / bound; within when <= 1.
  const torch::Tensor ratio = diff / (2e-4 + 1e-3 * e.abs());
  const std::int64_t out = (ratio > 1).logical_or(ratio.isnan()).sum().item<std::int64_t>();
  const std::int64_t past_tight = (diff > 1e-6 + 1e-4 * e.abs()).sum().item<std::int64_t>();
  if (out == 0 && past_tight * 100 <= a.numel()) return ::testing::AssertionSuccess();
  const std::int64_t worst = ratio.nan_to_num(1e30).argmax().item<std::int64_t>();
  return ::testing::AssertionFailure() << fmt::format(
             "{} of {} weights differ by more than 2e-4 + 1e-3 |expected| (none may), {} by more "
             "than 1e-6 + 1e-4 |expected| (1% may); the worst, element {}, is {} against {}",
             out, a.numel(), past_tight, worst, a[worst].item<double>(), e[worst].item<double>());
}

}  // namespace saturn::worker
