// Offloading (train/block_streamer.h): training with parameters in host memory and blocks
// streamed to the device gives the same parameters as `single` on the same batches (GPT with
// gradient accumulation, ResNet with BatchNorm statistics), with or without the last blocks
// kept on the device; checkpoints written under one technique, or one count of kept blocks,
// resume under another.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "events.h"
#include "same_weights.h"
#include "saturn/model_zoo.h"
#include "techniques/offload.h"
#include "techniques/technique.h"
#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

fs::path workdir() { return text_workdir("offload"); }

JobSpec gpt_job(int accum) { return tiny_text_job(8, accum, /*steps=*/6, /*seed=*/5); }

std::unique_ptr<Trainer> make(const JobSpec& job, bool offload,
                              torch::Device device = torch::kCPU, int blocks_in_flight = 2,
                              int device_blocks = 0) {
  TrainerSetup setup{job, workdir().string(), device, nullptr};
  setup.offload = offload;
  setup.blocks_in_flight = blocks_in_flight;
  setup.device_blocks = device_blocks;
  auto t = Trainer::create(setup);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return std::move(*t);
}

// |a - b| / |a| over whole tensors.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).norm() / a.norm()).item<double>();
}

void expect_same_training(const JobSpec& job, int device_blocks = 0) {
  auto single = make(job, false);
  auto offload = make(job, true, torch::kCPU, 2, device_blocks);
  // Kept blocks: the clipping norm is summed from two parts in another order, and AdamW turns
  // that rounding into steps of about lr on weights whose gradient is noise (GPT's key biases),
  // so the weights are compared as a whole there.
  const double norm_tolerance = device_blocks > 0 ? 1e-3 : 1e-4;
  while (single->step() < single->total_steps()) {
    const StepStats a = single->train_step();
    const StepStats b = offload->train_step();
    EXPECT_NEAR(a.loss, b.loss, 1e-5 * std::max(1.0, std::abs(a.loss)))
        << "step " << a.step << ", " << device_blocks << " blocks kept";
    EXPECT_NEAR(a.grad_norm, b.grad_norm, norm_tolerance * std::max(1.0, a.grad_norm))
        << "step " << a.step << ", " << device_blocks << " blocks kept";
  }
  const torch::Tensor a = single->full_master(), b = offload->full_master();
  if (device_blocks == 0) {
    EXPECT_TRUE(same_weights(b, a));
  } else {
    EXPECT_LT(relative_difference(a, b), 1e-5) << device_blocks << " blocks kept";
  }
  EXPECT_NEAR(single->evaluate(16), offload->evaluate(16), 1e-5);
}

int block_count(const JobSpec& job) {
  return static_cast<int>(make(job, false)->model().blocks().size());
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

// The last blocks kept on the device with their optimizer state: one block (GPT's head), some
// transformer blocks, and all but block 0 (nothing streamed). Clipping (grad_clip 1) needs the
// norm over both parts.
TEST(Offload, EqualsSingleWithBlocksKeptOnTheDevice) {
  JobSpec job = gpt_job(2);
  job.model = "gpt2-mini";
  const int blocks = block_count(job);
  for (const int kept : {1, 3, blocks - 1}) expect_same_training(job, kept);
}

TEST(Offload, EqualsSingleOnResNetWithBlocksKeptOnTheDevice) {
  const JobSpec job = tiny_resnet_job();
  expect_same_training(job, block_count(job) / 2);
}

// The kept blocks live in their own buffers only: the host buffers hold the blocks before
// them, and the model's kept parameters compute with (and accumulate into) the kept buffers,
// also after a step.
TEST(Offload, HostBuffersHoldOnlyTheStreamedBlocks) {
  JobSpec job = gpt_job(1);
  job.model = "gpt2-mini";
  const int blocks = block_count(job);
  for (const int kept : {1, 3, blocks - 1}) {
    // "cpu:0", as the Trial Runner's device slots name it (its tensors say "cpu").
    auto t = make(job, true, torch::Device(torch::kCPU, 0), 2, kept);
    t->train_step();  // the streamer leaves kept parameters where FlatParameters put them
    FlatParameters& params = t->parameters();
    ASSERT_NE(params.kept(), nullptr) << kept;
    const auto& names = t->model().block_names();
    const std::string first_kept = names[names.size() - static_cast<std::size_t>(kept)];
    const auto& entries = params.entries();
    const auto first = std::find_if(entries.begin(), entries.end(),
                                    [&](const auto& e) { return e.block == first_kept; });
    ASSERT_NE(first, entries.end());
    EXPECT_EQ(params.held(), first->offset) << kept;
    EXPECT_EQ(params.master().numel(), params.held()) << kept;
    EXPECT_EQ(params.grad().numel(), params.held()) << kept;
    EXPECT_EQ(params.kept()->offset() + params.kept()->numel(), params.numel()) << kept;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      FlatBuffers& owner = entries[i].offset < params.held() ? static_cast<FlatBuffers&>(params)
                                                              : *params.kept();
      const torch::Tensor& p = params.parameter(i);
      EXPECT_TRUE(p.storage().is_alias_of(owner.compute().storage())) << entries[i].name;
      EXPECT_TRUE(p.grad().storage().is_alias_of(owner.grad().storage())) << entries[i].name;
    }
  }
  auto none = make(job, true);
  EXPECT_EQ(none->parameters().kept(), nullptr);
  EXPECT_EQ(none->parameters().master().numel(), none->parameters().numel());
}

TEST(Offload, RejectsBlocksKeptWithoutOffloadingOrTooMany) {
  const JobSpec job = gpt_job(1);
  const int blocks = block_count(job);
  for (const auto& [offload, kept] : std::vector<std::pair<bool, int>>{
           {false, 1}, {true, blocks}, {true, -1}}) {
    TrainerSetup setup{job, workdir().string(), torch::kCPU, nullptr};
    setup.offload = offload;
    setup.device_blocks = kept;
    auto t = Trainer::create(setup);
    ASSERT_FALSE(t.ok()) << offload << " " << kept;
    EXPECT_EQ(t.error().field, "device_blocks");
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

// Offloading with blocks kept on the device, on a GPU: the kept blocks' AdamW runs there
// (fused), the rest on the host. Still `single`'s training within bf16 tolerance.
TEST(Offload, OnCudaEqualsSingleWithBlocksKeptOnTheDevice) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  JobSpec job = gpt_job(2);
  job.model = "gpt2-mini";
  const torch::Device cuda(torch::kCUDA, 0);
  auto single = make(job, false, cuda);
  auto offload = make(job, true, cuda, 2, 3);
  while (single->step() < single->total_steps()) {
    const StepStats a = single->train_step();
    const StepStats b = offload->train_step();
    EXPECT_NEAR(a.loss, b.loss, 2e-2 * std::max(1.0, std::abs(a.loss))) << "step " << a.step;
  }
  const torch::Tensor a = single->full_master().cpu();
  const torch::Tensor b = offload->full_master().cpu();
  EXPECT_LT(((a - b).norm() / a.norm()).item<double>(), 1e-2);
}

// The checkpoint layout does not depend on how many blocks were kept on the device.
TEST(Offload, CheckpointsResumeWithAnotherCountOfBlocksKept) {
  JobSpec job = gpt_job(1);
  job.model = "gpt2-mini";
  auto reference = make(job, false);
  std::vector<double> losses;
  while (reference->step() < reference->total_steps()) {
    losses.push_back(reference->train_step().loss);
  }
  // {offloading?, blocks kept} of the run that writes, then of the one that resumes.
  const std::vector<std::pair<std::pair<bool, int>, std::pair<bool, int>>> moves = {
      {{true, 3}, {false, 0}}, {{false, 0}, {true, 2}}, {{true, 1}, {true, 4}}};
  for (const auto& [from, to] : moves) {
    const fs::path ck = workdir() / fmt::format("kept-{}-{}", from.second, to.second);
    fs::remove_all(ck);
    auto first = make(job, from.first, torch::kCPU, 2, from.second);
    for (int i = 0; i < 3; ++i) first->train_step();
    ASSERT_TRUE(first->save_checkpoint(ck.string()).ok());
    auto second = make(job, to.first, torch::kCPU, 2, to.second);
    auto restored = second->restore_checkpoint(ck.string());
    ASSERT_TRUE(restored.ok() && *restored) << (restored.ok() ? "" : restored.error().to_string());
    for (std::size_t i = 3; i < losses.size(); ++i) {
      EXPECT_NEAR(second->train_step().loss, losses[i], 1e-5)
          << "step " << i + 1 << ", kept " << from.second << " then " << to.second;
    }
    EXPECT_LT(relative_difference(second->full_master(), reference->full_master()), 1e-5)
        << "kept " << from.second << " then " << to.second;
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
    EXPECT_TRUE(same_weights(second->parameters().master(), reference->parameters().master()));
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

TEST(BlockStreamer, KeepsTheLastBlocksOnTheDevice) {
  JobSpec job = gpt_job(1);
  job.model = "gpt2-mini";
  auto plain = make(job, false);
  auto t = make(job, true, torch::kCPU, 2, 2);
  const BlockStreamer& streamer = *t->streamer();
  const int blocks = streamer.blocks();
  EXPECT_TRUE(streamer.resident(0));
  EXPECT_FALSE(streamer.kept(0));
  for (int b = 1; b < blocks; ++b) {
    EXPECT_EQ(streamer.kept(b), b >= blocks - 2) << b;
    EXPECT_EQ(streamer.resident(b), b >= blocks - 2) << b;
  }
  // Copied in a step: block 0 once, the streamed blocks twice; the kept ones never.
  std::int64_t block0 = 0, streamed = 0;
  const auto& names = t->model().block_names();
  for (const auto& e : t->parameters().entries()) {
    const auto b = std::find(names.begin(), names.end(), e.block) - names.begin();
    if (b == 0) block0 += e.numel;
    if (b > 0 && b < blocks - 2) streamed += e.numel;
  }
  t->train_step();
  EXPECT_EQ(streamer.bytes_to_device(), (block0 + 2 * streamed) * 4);
}

// The memory check that rules out counts of kept blocks before building the model: more kept
// blocks need more; none need nothing; an Error says it is out of memory and how much is needed.
TEST(Offload, KeptBlocksFitOnlyWhenTheirStateAndActivationsDo) {
  JobSpec job = gpt_job(1);
  job.model = "gpt2-medium";
  job.data.seq_len = 1024;
  const std::size_t gib = std::size_t{1} << 30;
  EXPECT_TRUE(kept_blocks_fit(job, 0, 8, 20, 0).ok());
  EXPECT_TRUE(kept_blocks_fit(job, 25, 8, 20, 1000 * gib).ok());
  const Status none = kept_blocks_fit(job, 25, 8, 20, gib);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().field, kOutOfMemoryField);
  EXPECT_NE(none.error().message.find("device_blocks 25"), std::string::npos)
      << none.error().message;
  // GPT-2 355M's 24 layers hold ~12.6M parameters each: 2 layers' state is ~0.5 GiB.
  int most = 0;
  for (int k = 0; k <= 25; ++k) {
    if (kept_blocks_fit(job, k, 1, 20, gib).ok()) most = k;
  }
  EXPECT_GT(most, 0);
  EXPECT_LT(most, 25);
  EXPECT_FALSE(kept_blocks_fit(job, most + 1, 1, 20, gib).ok());
  // Activations count: a larger micro-batch fits fewer blocks.
  EXPECT_FALSE(kept_blocks_fit(job, most, 64, 20, gib).ok());
}

// The host memory check (offload.h's figures): on a GPU the host holds the blocks not kept,
// their pinned buffers rounded up to a power of two; on the CPU every block. Keeping blocks on
// a GPU lowers the need until building the model bounds it; SGD needs less than AdamW.
TEST(Offload, HostMemoryFitsOnlyWhenTheHostPartDoes) {
  JobSpec job = gpt_job(1);
  job.model = "gpt2-medium";
  job.data.seq_len = 1024;
  const auto shape = find_model(job.model, ModelInput{1024, 0, 0});
  ASSERT_TRUE(shape.ok());
  const double all = static_cast<double>(shape->params);
  const double embed = static_cast<double>(shape->blocks.front().params);
  const int keepable = static_cast<int>(shape->blocks.size()) - 1;
  const auto pinned = [](double bytes) { return std::exp2(std::ceil(std::log2(bytes))); };
  // Fits with a byte to spare, not with a MB less.
  const auto fits_exactly = [&](const JobSpec& j, int kept, bool on_cpu, double need) {
    EXPECT_TRUE(host_memory_fits(j, kept, on_cpu, static_cast<std::size_t>(need + 1)).ok())
        << kept << " kept, on_cpu " << on_cpu;
    const Status short_of =
        host_memory_fits(j, kept, on_cpu, static_cast<std::size_t>(need - 1e6));
    ASSERT_FALSE(short_of.ok()) << kept << " kept, on_cpu " << on_cpu;
    EXPECT_EQ(short_of.error().field, kOutOfMemoryField);
    EXPECT_NE(short_of.error().message.find("host memory"), std::string::npos)
        << short_of.error().message;
  };
  // AdamW on a GPU, none kept: master 4, pinned compute and gradient, moments 8.
  fits_exactly(job, 0, false, 4 * all + 2 * pinned(2 * all) + 8 * all);
  // All but block 0 kept: the embedding's state, but the whole model's fp32 values while it
  // is built.
  fits_exactly(job, keepable, false, 4 * all + 4 * embed + 2 * pinned(2 * embed));
  // On the CPU everything is in host memory, whatever is kept: 16 bytes per parameter.
  fits_exactly(job, keepable, true, 16 * all);
  // SGD without momentum: on the CPU 8 bytes of training state, so building (12) bounds it; on
  // a GPU the fp32 gradient copy (4) takes the moments' place.
  job.optimizer = "sgd";
  fits_exactly(job, 0, true, 12 * all);
  fits_exactly(job, 0, false, 8 * all + 2 * pinned(2 * all));
  // Out of range: the trainer's config error, not this check's.
  EXPECT_TRUE(host_memory_fits(job, -1, false, 0).ok());
  EXPECT_TRUE(host_memory_fits(job, keepable + 1, false, 0).ok());
}

// Search tries the most blocks kept first: all but block 0, then fewer, down to none.
TEST(Offload, SearchTriesTheMostBlocksKeptFirst) {
  JobSpec job = gpt_job(1);
  job.model = "gpt2-mini";
  const int keepable = block_count(job) - 1;
  const auto candidates = find_technique("offload")->candidates(job, 1);
  ASSERT_FALSE(candidates.empty());
  EXPECT_EQ(candidates.front()["device_blocks"], keepable);
  int previous = keepable;
  bool none = false;
  for (const auto& c : candidates) {
    if (c["grad_accum"] != candidates.front()["grad_accum"]) break;
    EXPECT_LE(c["device_blocks"].get<int>(), previous);
    previous = c["device_blocks"].get<int>();
    none = none || previous == 0;
  }
  EXPECT_TRUE(none);
}

}  // namespace
}  // namespace saturn::worker
