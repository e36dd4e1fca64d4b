// Shared by the worker's training tests: whether two runs that should train alike (a technique
// against `single` on the same global batch, a resumed run against an uninterrupted one) reached
// the same fp32 weights.
//
// Two such runs need not round alike: another BLAS (MKL picks kernels by alignment and thread
// count), other threads, sums taken in another order. AdamW then turns a rounding difference in
// a near-zero gradient into a visible step: nudging tiny_text_job's initial weights by one ulp
// (relative 1.2e-7) moves 25 of its 118,528 weights past allclose(rtol 1e-4, atol 1e-6) after
// its 6 steps, the worst by 6.6e-6 (SameWeights.AcceptsRoundingAndRejectsAMissedStep). A bug
// moves weights by about lr (3e-3 in the tests' jobs) per step: a wrong batch, a lost micro-step,
// a stage or shard not updated. The bound sits between: |actual - expected| <= 2e-4 + 1e-3
// |expected| for every weight, 30x the one-ulp worst.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

namespace saturn::worker {

// Passes when every element of `actual` is within 2e-4 + 1e-3 |expected| of `expected` (same
// shape); the failure names the worst element and how many are out.
inline ::testing::AssertionResult same_weights(const torch::Tensor& actual,
                                               const torch::Tensor& expected) {
  if (!actual.sizes().equals(expected.sizes())) {
    return ::testing::AssertionFailure()
           << "shapes differ: " << actual.sizes() << " against " << expected.sizes();
  }
  const torch::Tensor a = actual.detach().to(torch::kCPU, torch::kDouble).reshape({-1});
  const torch::Tensor e = expected.detach().to(torch::kCPU, torch::kDouble).reshape({-1});
  if (a.numel() == 0) return ::testing::AssertionSuccess();
  // Per element: |a - e| / bound; within when <= 1.
  const torch::Tensor ratio = (a - e).abs() / (2e-4 + 1e-3 * e.abs());
  const std::int64_t out = (ratio > 1).logical_or(ratio.isnan()).sum().item<std::int64_t>();
  if (out == 0) return ::testing::AssertionSuccess();
  const std::int64_t worst = ratio.nan_to_num(1e30).argmax().item<std::int64_t>();
  return ::testing::AssertionFailure() << fmt::format(
             "{} of {} weights differ by more than 2e-4 + 1e-3 |expected|; the worst, element {}, "
             "is {} against {}",
             out, a.numel(), worst, a[worst].item<double>(), e[worst].item<double>());
}

}  // namespace saturn::worker
