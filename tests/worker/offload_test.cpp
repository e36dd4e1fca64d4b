// Offloading (train/block_streamer.h): training with parameters in host memory and blocks
// streamed to the device gives the same parameters as `single` on the same batches (GPT with
// gradient accumulation, ResNet with BatchNorm statistics); checkpoints written under one
// technique resume under the other.
#include <gtest/gtest.h>

#include <filesystem>

#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

fs::path workdir() { return text_workdir("offload"); }

JobSpec gpt_job(int accum) { return tiny_text_job(8, accum, /*steps=*/6, /*seed=*/5); }

std::unique_ptr<Trainer> make(const JobSpec& job, bool offload,
                              torch::Device device = torch::kCPU, int blocks_in_flight = 2) {
  TrainerSetup setup{job, workdir().string(), device, nullptr};
  setup.offload = offload;
  setup.blocks_in_flight = blocks_in_flight;
  auto t = Trainer::create(setup);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return std::move(*t);
}

void expect_same_training(const JobSpec& job) {
  auto single = make(job, false);
  auto offload = make(job, true);
  while (single->step() < single->total_steps()) {
    const StepStats a = single->train_step();
    const StepStats b = offload->train_step();
    EXPECT_NEAR(a.loss, b.loss, 1e-5 * std::max(1.0, std::abs(a.loss))) << "step " << a.step;
    EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-4 * std::max(1.0, a.grad_norm)) << "step " << a.step;
  }
  EXPECT_TRUE(torch::allclose(single->parameters().master(), offload->parameters().master(), 1e-4,
                              1e-6));
  EXPECT_NEAR(single->evaluate(16), offload->evaluate(16), 1e-5);
}

TEST(Offload, EqualsSingleOnGpt) { expect_same_training(gpt_job(1)); }

TEST(Offload, EqualsSingleWithGradientAccumulation) { expect_same_training(gpt_job(2)); }

TEST(Offload, EqualsSingleOnResNetWithBatchNorm) {
  const JobSpec job = tiny_resnet_job();
  expect_same_training(job);
  // BatchNorm statistics moved once per forward, as without streaming.
  auto single = make(job, false), offload = make(job, true);
  single->train_step();
  offload->train_step();
  auto a = single->model().named_buffers(), b = offload->model().named_buffers();
  for (const auto& item : a) {
    EXPECT_TRUE(torch::allclose(item.value(), b[item.key()], 1e-5, 1e-6)) << item.key();
  }
}

TEST(Offload, EqualsSingleWithBlocksCopiedAhead) {
  JobSpec job = gpt_job(2);
  job.model = "gpt2-mini";  // four streamed blocks
  for (const int in_flight : {1, 3}) {
    auto single = make(job, false);
    auto offload = make(job, true, torch::kCPU, in_flight);
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(single->train_step().loss, offload->train_step().loss, 1e-5)
          << "step " << i + 1 << ", " << in_flight << " blocks in flight";
    }
  }
}

// On a GPU, copies run on side streams (train/transfer_streams.h): blocks copied in ahead of
// use, gradients copied out while earlier blocks run backward. Still `single`'s training on the
// same GPU, within bf16 tolerance (the host's AdamW against the GPU's).
TEST(Offload, OnCudaEqualsSingleWithCopiesOverlapped) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  JobSpec job = gpt_job(2);
  job.model = "gpt2-mini";
  const torch::Device cuda(torch::kCUDA, 0);
  for (const int in_flight : {1, 3}) {
    auto single = make(job, false, cuda);
    auto offload = make(job, true, cuda, in_flight);
    while (single->step() < single->total_steps()) {
      const StepStats a = single->train_step();
      const StepStats b = offload->train_step();
      EXPECT_NEAR(a.loss, b.loss, 2e-2 * std::max(1.0, std::abs(a.loss)))
          << "step " << a.step << ", " << in_flight << " blocks in flight";
    }
    // AdamW moves a weight whose gradient is noise by about lr either way, so single weights
    // may differ by a few lr; the weights as a whole agree closely.
    const torch::Tensor a = single->parameters().master().cpu();
    const torch::Tensor b = offload->parameters().master().cpu();
    const double relative = ((a - b).norm() / a.norm()).item<double>();
    EXPECT_LT(relative, 1e-2) << in_flight << " blocks in flight; largest difference "
                              << (a - b).abs().max().item<double>();
  }
}

TEST(Offload, CheckpointsResumeUnderTheOtherTechnique) {
  const JobSpec job = gpt_job(1);
  auto reference = make(job, false);
  std::vector<double> losses;
  while (reference->step() < reference->total_steps()) losses.push_back(reference->train_step().loss);
  for (const bool first_offload : {true, false}) {
    const fs::path ck = workdir() / (first_offload ? "from-offload" : "from-single");
    fs::remove_all(ck);
    auto first = make(job, first_offload);
    for (int i = 0; i < 3; ++i) first->train_step();
    ASSERT_TRUE(first->save_checkpoint(ck.string()).ok());
    auto second = make(job, !first_offload);
    auto restored = second->restore_checkpoint(ck.string());
    ASSERT_TRUE(restored.ok() && *restored) << (restored.ok() ? "" : restored.error().to_string());
    for (std::size_t i = 3; i < losses.size(); ++i) {
      EXPECT_NEAR(second->train_step().loss, losses[i], 1e-5) << "step " << i + 1;
    }
    EXPECT_TRUE(torch::allclose(second->parameters().master(), reference->parameters().master(),
                                1e-4, 1e-6));
  }
}

TEST(BlockStreamer, StreamsEveryBlockButTheFirstAndLast) {
  auto t = make(gpt_job(1), false);  // a streamer of its own over a plain trainer's buffers
  FlatParameters& params = t->parameters();
  BlockStreamer streamer(t->model(), params, torch::kCPU);
  streamer.set_blocks_in_flight(3);  // copied ahead of use, still counted once when used
  const int blocks = streamer.blocks();
  ASSERT_GE(blocks, 3);
  EXPECT_TRUE(streamer.resident(0));
  EXPECT_TRUE(streamer.resident(blocks - 1));
  for (int b = 1; b + 1 < blocks; ++b) EXPECT_FALSE(streamer.resident(b));
  // One step copies every block once for the forward pass and the streamed ones once more for
  // the backward pass: (all + streamed) x 4 bytes (fp32 on the CPU).
  std::int64_t streamed = 0;
  for (const auto& e : params.entries()) {
    if (e.block != "embed" && e.block != "head") streamed += e.numel;
  }
  const torch::Tensor ids = torch::randint(0, 50, {2, 32}, torch::kLong);
  streamer.begin_step();
  t->model().loss(streamer.forward(ids), ids).backward();
  streamer.end_step();
  EXPECT_EQ(streamer.bytes_to_device(), (params.numel() + streamed) * 4);
  // Without recomputation every block is copied once, kept until its backward pass is done.
  streamer.set_recompute(false);
  const std::int64_t before = streamer.bytes_to_device();
  streamer.begin_step();
  t->model().loss(streamer.forward(ids), ids).backward();
  streamer.end_step();
  EXPECT_EQ(streamer.bytes_to_device() - before, params.numel() * 4);
}

}  // namespace
}  // namespace saturn::worker
