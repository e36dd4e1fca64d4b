// ShardedParameters over two Gloo ranks in this process: the shards put back together are the
// model (parameters, gathered blocks), reduce_grad leaves each rank the mean of its part, the
// decay slices are the model's, and AdamW with clipping over the shards (norm summed over
// ranks) takes the same step as over the whole model; gathered to one rank, only that rank
// holds the whole.
#include <gtest/gtest.h>

#include <thread>

#include "local_group.h"
#include "models/model.h"
#include "train/sharded_parameters.h"

namespace saturn::worker {
namespace {

std::shared_ptr<Model> tiny_gpt() {
  auto arch = find_architecture("gpt2-tiny");
  EXPECT_TRUE(arch.ok());
  // Vocabulary 250: blocks whose sizes do not divide by the world size (padding).
  auto m = build_model(*arch, {16, 250, 0}, 7);
  EXPECT_TRUE(m.ok());
  return *m;
}

TEST(ShardedParameters, ShardsRebuildTheModelAndStepAsTheWhole) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  constexpr int kWorld = 2;
  auto comms = local_group(kWorld, 29757);
  ASSERT_EQ(comms.size(), static_cast<std::size_t>(kWorld));
  // The whole model, and the gradients every rank will see (rank r: (r + 1) x base).
  auto whole_model = tiny_gpt();
  FlatParameters whole(*whole_model, torch::kCPU, torch::kFloat);
  torch::manual_seed(3);
  const torch::Tensor base = torch::randn({whole.numel()}) * 0.05;
  // The whole model's AdamW step on the mean gradient, 1.5 x base, clipped at 1.
  OptimizerConfig config;
  config.weight_decay = 0.1;
  config.fused = false;
  FlatOptimizer whole_opt(whole, config);
  whole.grad().copy_(base * 1.5);
  const double whole_norm = whole_opt.step(1e-2, 1.0);
  ASSERT_GT(whole_norm, 1.0);  // clipping is exercised

  std::vector<std::thread> threads;
  for (int r = 0; r < kWorld; ++r) {
    threads.emplace_back([&, r] {
      Communicator& comm = *comms[static_cast<std::size_t>(r)];
      auto model = tiny_gpt();
      FlatParameters full(*model, torch::kCPU, torch::kFloat);
      const torch::Tensor initial = full.master().clone();
      ShardedParameters shard(full, r, kWorld, torch::kCPU, torch::kFloat);
      EXPECT_EQ(shard.numel(), [&] {
        std::int64_t n = 0;
        for (const auto& u : shard.units()) n += u.shard_numel;
        return n;
      }());
      // Gathering every shard gives the model back, as a whole and block by block.
      EXPECT_TRUE(torch::equal(shard.gather_full(shard.master(), &comm), initial));
      // Gathered to one rank (checkpoints), only that rank holds it.
      const torch::Tensor at_one = shard.gather_full(shard.master(), &comm, /*root=*/1);
      EXPECT_EQ(at_one.defined(), r == 1);
      if (r == 1) {
        EXPECT_TRUE(torch::equal(at_one, initial));
      }
      for (std::size_t u = 0; u < shard.units().size(); ++u) {
        const auto& unit = shard.units()[u];
        torch::Tensor block = torch::empty({unit.shard_numel * kWorld});
        shard.gather(u, block, &comm);
        EXPECT_TRUE(torch::equal(block.narrow(0, 0, unit.numel),
                                 initial.narrow(0, unit.offset, unit.numel)))
            << unit.block;
        // From a copy of the shard handed in (an offloaded shard copied to the device first).
        torch::Tensor from_copy = torch::empty_like(block);
        shard.start_gather(u, from_copy, &comm, shard.compute_shard(u).clone())->wait();
        EXPECT_TRUE(torch::equal(from_copy, block)) << unit.block;
      }
      // The decay slices are the model's.
      torch::Tensor mask = torch::zeros({full.numel()});
      for (const auto& d : full.decay_ranges()) mask.narrow(0, d.offset, d.numel).fill_(1);
      torch::Tensor shard_mask = torch::zeros({shard.numel()});
      for (const auto& d : shard.decay_ranges()) shard_mask.narrow(0, d.offset, d.numel).fill_(1);
      EXPECT_TRUE(torch::equal(shard_mask, shard.shard_of(mask)));
      // Each rank's full gradient (r + 1) x base, reduced block by block: the mean, 1.5 x base.
      const torch::Tensor mine = base * (r + 1);
      for (std::size_t u = 0; u < shard.units().size(); ++u) {
        const auto& unit = shard.units()[u];
        torch::Tensor padded = torch::zeros({unit.shard_numel * kWorld});
        padded.narrow(0, 0, unit.numel).copy_(mine.narrow(0, unit.offset, unit.numel));
        shard.reduce_grad(u, padded, &comm);
      }
      EXPECT_TRUE(torch::allclose(shard.grad(), shard.shard_of(base * 1.5), 1e-6, 1e-7));
      // One clipped AdamW step over the shard, the norm summed over ranks.
      FlatOptimizer opt(shard, config);
      opt.set_norm_reduction([&comm](torch::Tensor squares) {
        comm.start_sum(squares)->wait();
        return squares;
      });
      EXPECT_NEAR(opt.step(1e-2, 1.0), whole_norm, 1e-5 * whole_norm);
      EXPECT_TRUE(torch::allclose(shard.gather_full(shard.master(), &comm), whole.master(), 1e-6,
                                  1e-7));
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace saturn::worker
