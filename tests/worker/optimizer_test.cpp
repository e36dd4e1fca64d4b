// The flat optimizer's AdamW paths agree (PyTorch's fused kernel, where this libtorch has it,
// and the one-pass host kernel, against the portable update), including clipping, weight decay only on matrices, and a
// step count restored from a checkpoint; a CUDA-graph step equals eager steps (CUDA machines);
// asking for a CUDA graph where none can run is a configuration error.
#include <gtest/gtest.h>

#include <filesystem>

#include "compat.h"
#include "train/parameters.h"
#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<torch::nn::Sequential> small_module() {
  torch::manual_seed(11);
  return std::make_shared<torch::nn::Sequential>(torch::nn::Linear(8, 16), torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({16})), torch::nn::Linear(16, 4));
}

// Steps `a` and `b` (over equal modules' buffers) with the same gradients, clipped and not, from
// step 5 (as after a checkpoint restore); expects equal norms (within `norm_tolerance`,
// relative: PyTorch sums squares in fp32, the host kernel in double), weights and moments.
void expect_equal_updates(FlatParameters& pa, FlatOptimizer& a, FlatParameters& pb,
                          FlatOptimizer& b, double norm_tolerance = 3e-6) {
  a.set_steps(5);
  b.set_steps(5);
  torch::manual_seed(12);
  // Norms of about 4: clipped at 1.0, not at 100.
  for (const double max_norm : {1.0, 100.0, 1.0, 0.0}) {
    const torch::Tensor g = torch::randn({pa.numel()}) * 4.0 / std::sqrt(pa.numel());
    pa.grad().copy_(g);
    pb.grad().copy_(g);
    const double na = a.step(1e-2, max_norm), nb = b.step(1e-2, max_norm);
    EXPECT_NEAR(na, nb, norm_tolerance * nb);
  }
  EXPECT_EQ(a.steps(), 9);
  EXPECT_TRUE(torch::allclose(pa.master(), pb.master(), 1e-5, 1e-6));
  for (std::size_t i = 0; i < a.state().size(); ++i) {
    EXPECT_TRUE(torch::allclose(*a.state()[i].second, *b.state()[i].second, 1e-5, 1e-7))
        << a.state()[i].first;
  }
}

OptimizerConfig adamw(bool host_kernel, bool fused) {
  OptimizerConfig config;
  config.weight_decay = 0.1;
  config.host_kernel = host_kernel;
  config.fused = fused;
  return config;
}

TEST(FlatOptimizer, FusedAdamWEqualsThePortableUpdate) {
  if (!compat::kHasFusedAdamW) GTEST_SKIP() << "this libtorch has no fused AdamW kernel";
  auto a = small_module(), b = small_module();
  FlatParameters pa(**a, torch::kCPU, torch::kFloat), pb(**b, torch::kCPU, torch::kFloat);
  FlatOptimizer fused(pa, adamw(false, true)), plain(pb, adamw(false, false));
  ASSERT_TRUE(fused.fused());
  ASSERT_FALSE(plain.fused() || plain.host_kernel());
  expect_equal_updates(pa, fused, pb, plain);
}

// The one-pass host kernel (host_adamw.h) is AdamW: fp32 buffers, and a bf16 gradient and
// compute copy (offloading's layout) whose compute copy is the rounded master.
TEST(FlatOptimizer, HostKernelEqualsThePortableUpdate) {
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    auto a = small_module(), b = small_module();
    FlatParameters pa(**a, torch::kCPU, dtype), pb(**b, torch::kCPU, dtype);
    FlatOptimizer host(pa, adamw(true, true)), plain(pb, adamw(false, false));
    ASSERT_TRUE(host.host_kernel());
    ASSERT_FALSE(host.fused());
    expect_equal_updates(pa, host, pb, plain);
    EXPECT_TRUE(torch::equal(pa.compute(), pa.master().to(dtype))) << dtype;
  }
}

// Large buffers split over threads and slices with and without decay in one parallel loop, on
// as many threads as asked for (one, whatever was asked, in a worker built without OpenMP: the
// step ran at half the speed of PyTorch's fused AdamW on the H200 host's 16 cores, 2026-12-04).
TEST(FlatOptimizer, HostKernelOverManyThreadsEqualsThePortableUpdate) {
  torch::manual_seed(13);
  auto make = [] {
    torch::manual_seed(13);
    return std::make_shared<torch::nn::Sequential>(
        torch::nn::Linear(512, 600), torch::nn::LayerNorm(torch::nn::LayerNormOptions({600})),
        torch::nn::Linear(600, 300));
  };
  auto a = make(), b = make();
  FlatParameters pa(**a, torch::kCPU, torch::kBFloat16), pb(**b, torch::kCPU, torch::kBFloat16);
  FlatOptimizer host(pa, adamw(true, true)), plain(pb, adamw(false, false));
  const int threads = torch::get_num_threads();
  torch::set_num_threads(4);
  EXPECT_EQ(host_loop_threads(), 4);
  expect_equal_updates(pa, host, pb, plain, /*norm_tolerance=*/1e-4);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(pa.compute(), pa.master().to(torch::kBFloat16)));
}

fs::path workdir() { return text_workdir("optimizer"); }

JobSpec tiny_job(int accum) { return tiny_text_job(8, accum, /*steps=*/8); }

TEST(Training, CudaGraphIsAConfigurationErrorWhereItCannotRun) {
  TrainerSetup setup{tiny_job(1), workdir().string(), torch::kCPU, nullptr, 0, true};
  auto t = Trainer::create(setup);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().field, "cuda_graph");
}

TEST(Training, CudaGraphStepsEqualEagerSteps) {
  if (!GraphedStep::kAvailable || !torch::cuda::is_available()) {
    GTEST_SKIP() << "needs a CUDA device and a CUDA PyTorch >= 2.4";
  }
  for (const int accum : {1, 2}) {
    TrainerSetup setup{tiny_job(accum), workdir().string(), torch::Device("cuda:0"), nullptr, 0};
    auto eager = Trainer::create(setup);
    setup.cuda_graph = true;
    auto graphed = Trainer::create(setup);
    ASSERT_TRUE(eager.ok() && graphed.ok());
    ASSERT_TRUE((*graphed)->cuda_graph());
    while ((*eager)->step() < (*eager)->total_steps()) {
      const StepStats e = (*eager)->train_step();
      const StepStats g = (*graphed)->train_step();
      // bf16 kernels may accumulate in another order from run to run: close, not equal.
      EXPECT_NEAR(e.loss, g.loss, 1e-2 * std::abs(e.loss)) << "step " << e.step;
      EXPECT_NEAR(e.grad_norm, g.grad_norm, 5e-2 * e.grad_norm) << "step " << e.step;
    }
    const torch::Tensor a = (*eager)->parameters().master();
    const torch::Tensor b = (*graphed)->parameters().master();
    EXPECT_LT((a - b).norm().item<double>(), 1e-2 * a.norm().item<double>());
  }
}

}  // namespace
}  // namespace saturn::worker
