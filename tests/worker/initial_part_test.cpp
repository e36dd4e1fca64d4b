// InitialPart: a rank that keeps only its window of each block while the model is built ends up
// with the same layout, shards and pipeline stage as one that built the whole model, holds no
// more than its part, and leaves no block's values behind; stages assemble the whole on one
// rank as they do on every rank.
#include <gtest/gtest.h>

#include <thread>

#include "local_group.h"
#include "models/model.h"
#include "train/initial_part.h"
#include "train/sharded_parameters.h"
#include "train/stage_parameters.h"

namespace saturn::worker {
namespace {

// The zoo's tiny models; GPT with vocabulary 250, so that blocks do not divide by the world.
std::shared_ptr<Model> tiny(const std::string& name, BlockSink sink = {}) {
  auto arch = find_architecture(name);
  EXPECT_TRUE(arch.ok());
  auto m = build_model(*arch, {16, 250, 0}, 7, std::move(sink));
  EXPECT_TRUE(m.ok());
  return *m;
}

TEST(InitialPart, ShardsEqualThoseOfTheWholeModel) {
  constexpr int kWorld = 3;
  for (const std::string name : {"gpt2-tiny", "vit-tiny", "resnet-tiny"}) {
    auto whole_model = tiny(name);
    FlatParameters whole(*whole_model, torch::kCPU, torch::kFloat);
    for (int rank = 0; rank < kWorld; ++rank) {
      InitialPart part(InitialPart::shard(rank, kWorld));
      auto model = tiny(name, part.sink());
      // Every parameter is a placeholder: its shape, one element of memory.
      for (const torch::Tensor& p : model->parameters()) {
        EXPECT_LE(p.storage().nbytes(), 4u) << name;
      }
      FlatParameters layout(*model, torch::kCPU, torch::kFloat, /*pinned=*/false,
                            /*layout_only=*/true);
      ASSERT_EQ(layout.numel(), whole.numel()) << name;
      ASSERT_EQ(part.numel(), whole.numel()) << name;
      ASSERT_EQ(layout.entries().size(), whole.entries().size()) << name;
      for (std::size_t i = 0; i < whole.entries().size(); ++i) {
        EXPECT_EQ(layout.entries()[i].name, whole.entries()[i].name) << name;
        EXPECT_EQ(layout.entries()[i].offset, whole.entries()[i].offset) << name;
      }
      ShardedParameters expected(whole, rank, kWorld, torch::kCPU, torch::kFloat);
      ShardedParameters taken(layout, rank, kWorld, torch::kCPU, torch::kFloat,
                              /*offload=*/false, part.values());
      EXPECT_TRUE(torch::equal(taken.master(), expected.master())) << name << " rank " << rank;
      // The part holds the shard's values, not more (the padding is not kept).
      EXPECT_LE(part.kept_bytes(), expected.numel() * 4) << name;
      EXPECT_GE(part.kept_bytes(), (whole.numel() / kWorld - 16) * 4) << name;
      // Released, no parameter holds anything.
      layout.release_buffers();
      for (const torch::Tensor& p : model->parameters()) EXPECT_EQ(p.numel(), 0) << name;
    }
  }
}

TEST(InitialPart, ValuesAnswerOnlyRangesItKept) {
  InitialPart part(InitialPart::blocks(1, 2));  // gpt2-tiny's block h.0
  auto model = tiny("gpt2-tiny", part.sink());
  FlatParameters layout(*model, torch::kCPU, torch::kFloat, false, /*layout_only=*/true);
  std::int64_t first = -1, last = 0;
  for (const auto& e : layout.entries()) {
    if (e.block != "h.0") continue;
    if (first < 0) first = e.offset;
    last = e.offset + e.numel;
  }
  ASSERT_GT(last, first);
  EXPECT_EQ(part.kept_bytes(), (last - first) * 4);
  const InitialValues values = part.values();
  torch::Tensor dst = torch::full({last - first}, -1.0);
  EXPECT_TRUE(values(first, last - first, dst));
  EXPECT_GT(dst.abs().sum().item<double>(), 0);
  EXPECT_FALSE(values(first - 1, 2, torch::empty({2})));  // starts in the embedding
  EXPECT_FALSE(values(last - 1, 2, torch::empty({2})));   // runs into h.1
  EXPECT_FALSE(values(0, 1, torch::empty({1})));
}

TEST(InitialPart, ValuesSpanAdjacentBlocks) {
  // A stage of several blocks asks for their slices at once.
  auto whole_model = tiny("gpt2-tiny");
  FlatParameters whole(*whole_model, torch::kCPU, torch::kFloat);
  InitialPart part(InitialPart::blocks(0, 3));  // embed, h.0, h.1
  auto model = tiny("gpt2-tiny", part.sink());
  FlatParameters layout(*model, torch::kCPU, torch::kFloat, false, /*layout_only=*/true);
  std::int64_t end = 0;
  for (const auto& e : layout.entries()) {
    if (e.block != "head") end = e.offset + e.numel;
  }
  torch::Tensor dst = torch::empty({end - 5});
  ASSERT_TRUE(part.values()(5, end - 5, dst));
  EXPECT_TRUE(torch::equal(dst, whole.master().narrow(0, 5, end - 5)));
  EXPECT_FALSE(part.values()(5, end - 4, torch::empty({end - 4})));  // into the head
}

TEST(InitialPart, StagesTakeTheirBlocksAndTiedCopiesFromTheirOwner) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  // gpt2-tiny: embed, h.0, h.1, head; the head (stage 1) uses the embedding's token weights
  // (stage 0), which stage 1 never builds: it gets them from stage 0.
  constexpr int kStages = 2;
  const std::vector<int> bounds = {0, 2, 4};
  auto comms = local_group(kStages, 29769);
  ASSERT_EQ(comms.size(), static_cast<std::size_t>(kStages));
  std::vector<torch::Tensor> expected(kStages), taken(kStages), compute(kStages);
  for (int s = 0; s < kStages; ++s) {
    auto model = tiny("gpt2-tiny");
    FlatParameters whole(*model, torch::kCPU, torch::kFloat);
    expected[static_cast<std::size_t>(s)] =
        StageParameters(*model, whole, bounds, s, torch::kCPU, torch::kFloat).master().clone();
  }
  std::vector<std::thread> threads;
  for (int s = 0; s < kStages; ++s) {
    threads.emplace_back([&, s] {
      InitialPart part(InitialPart::blocks(static_cast<std::size_t>(bounds[s]),
                                           static_cast<std::size_t>(bounds[s + 1])));
      auto model = tiny("gpt2-tiny", part.sink());
      FlatParameters layout(*model, torch::kCPU, torch::kFloat, false, /*layout_only=*/true);
      StageParameters stage(*model, layout, bounds, s, torch::kCPU, torch::kBFloat16,
                            part.values());
      Communicator* comm = comms[static_cast<std::size_t>(s)].get();
      stage.share_tied_values(comm);
      taken[static_cast<std::size_t>(s)] = stage.master().clone();
      compute[static_cast<std::size_t>(s)] = stage.compute().clone();
      // Assembled on stage 0 alone (checkpoints): the same whole as assembled everywhere.
      const torch::Tensor everywhere = stage.gather_full(stage.master(), comm);
      const torch::Tensor at_root = stage.gather_full(stage.master(), comm, /*root=*/0);
      EXPECT_EQ(at_root.defined(), s == 0);
      if (s == 0) {
        EXPECT_TRUE(torch::equal(at_root, everywhere));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int s = 0; s < kStages; ++s) {
    const auto i = static_cast<std::size_t>(s);
    ASSERT_EQ(taken[i].numel(), expected[i].numel()) << "stage " << s;
    EXPECT_TRUE(torch::equal(taken[i], expected[i])) << "stage " << s;
    EXPECT_TRUE(torch::equal(compute[i], expected[i].to(torch::kBFloat16))) << "stage " << s;
  }
  // Stage 1 keeps a copy of the token embedding: more than its own blocks.
  EXPECT_GT(taken[1].numel(), 0);
}

}  // namespace
}  // namespace saturn::worker
