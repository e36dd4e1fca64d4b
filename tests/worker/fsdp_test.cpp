// FSDP (TrainerSetup::fsdp): two Gloo ranks in this process, each with a shard of every block,
// give the same weights and losses as `single` on the same global batch (two micro-steps, with
// activation checkpointing and without, with the next block's gather prefetched and without,
// shards in host memory), evaluation included;
// one rank equals `single` too; an FSDP checkpoint holds the whole model and resumes under
// `single`, and a `single` checkpoint resumes under FSDP.
#include <gtest/gtest.h>


#include <fmt/format.h>

#include "local_group.h"
#include "same_weights.h"
#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

// FSDP's knobs.
struct Knobs {
  bool checkpointing = true;
  int in_flight = 2;  // 1: no prefetching
  bool offload_shards = false;
};

std::unique_ptr<Trainer> make(const JobSpec& job, bool fsdp, Communicator* comm = nullptr,
                              Knobs knobs = {}, torch::Device device = torch::kCPU) {
  TrainerSetup setup{job, text_workdir("fsdp").string(), device, comm};
  setup.fsdp = fsdp;
  setup.activation_checkpointing = knobs.checkpointing;
  setup.blocks_in_flight = knobs.in_flight;
  setup.offload_shards = fsdp && knobs.offload_shards;
  auto t = Trainer::create(setup);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return std::move(*t);
}

// Runs `steps` steps of `job` under FSDP on two ranks (threads); calls `after(rank, trainer)`
// on every rank at the end (collectives allowed).
template <typename After>
void two_rank_fsdp(const JobSpec& job, int port, int steps, std::vector<double>* losses,
                   After after, Knobs knobs = {}) {
  train_on_ranks(
      2, port, steps, [&](Communicator* comm) { return make(job, true, comm, knobs); }, losses,
      after);
}

TEST(Fsdp, OneRankEqualsSingle) {
  const JobSpec job = tiny_text_job(8, 2);
  auto single = make(job, false), fsdp = make(job, true, nullptr, {.checkpointing = false});
  while (single->step() < single->total_steps()) {
    EXPECT_NEAR(single->train_step().loss, fsdp->train_step().loss, 1e-5);
  }
  EXPECT_TRUE(same_weights(fsdp->full_master(), single->full_master()));
}

TEST(Fsdp, TwoRanksEqualSingleOnTheSameGlobalBatch) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  const JobSpec job = tiny_text_job(8, 2);
  auto single = make(job, false);
  std::vector<double> expected;
  for (int i = 0; i < 4; ++i) expected.push_back(single->train_step().loss);
  const double single_eval = single->evaluate(16);
  // With activation checkpointing (blocks gathered twice) and without (kept from forward to
  // backward); the next block's gather prefetched or not; shards on the host.
  int port = 29761;  // 29761, 29763, 29765, 29767
  for (const Knobs knobs : {Knobs{true, 2, false}, Knobs{false, 2, false}, Knobs{true, 1, false},
                            Knobs{true, 2, true}}) {
    const std::string what = fmt::format("checkpointing {}, {} in flight, offload {}",
                                         knobs.checkpointing, knobs.in_flight,
                                         knobs.offload_shards);
    std::vector<double> losses;
    two_rank_fsdp(
        job, port, 4, &losses,
        [&](int r, Trainer& t) {
          EXPECT_EQ(t.micro_batch(), 2);
          // Each rank holds its shards; the whole model's buffers are released.
          EXPECT_EQ(t.parameters().master().numel(), 0);
          const torch::Tensor master = t.full_master();
          EXPECT_TRUE(same_weights(master, single->full_master()))
              << "rank " << r << ", " << what;
          EXPECT_NEAR(t.evaluate(16), single_eval, 1e-4) << "rank " << r << ", " << what;
          // Prefetching: every streamed block but the first of each pass was on its way.
          if (knobs.in_flight > 1) {
            EXPECT_GT(t.streamer()->blocks_fetched_ahead(), 0) << what;
          } else {
            EXPECT_EQ(t.streamer()->blocks_fetched_ahead(), 0) << what;
          }
        },
        knobs);
    port += 2;
    ASSERT_EQ(losses.size(), expected.size());
    for (std::size_t i = 0; i < losses.size(); ++i) {
      EXPECT_NEAR(losses[i], expected[i], 1e-4) << i << ", " << what;
    }
  }
}

// On a GPU: one rank with its shard in pinned host memory (the optimizer on the host) and
// gathers prefetched equals `single` on the same GPU (bf16 compute: a relative check).
TEST(Fsdp, OnCudaWithShardsOnTheHostEqualsSingle) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  JobSpec job = tiny_text_job(8, 2);
  const torch::Device cuda(torch::kCUDA, 0);
  auto single = make(job, false, nullptr, {}, cuda);
  auto fsdp = make(job, true, nullptr, {.checkpointing = true, .in_flight = 2,
                                        .offload_shards = true}, cuda);
  while (single->step() < single->total_steps()) {
    const StepStats a = single->train_step();
    const StepStats b = fsdp->train_step();
    EXPECT_NEAR(a.loss, b.loss, 2e-2 * std::max(1.0, std::abs(a.loss))) << "step " << a.step;
  }
  const torch::Tensor a = single->full_master().cpu(), b = fsdp->full_master().cpu();
  EXPECT_LT(((a - b).norm() / a.norm()).item<double>(), 1e-2);
  EXPECT_GT(fsdp->streamer()->blocks_fetched_ahead(), 0);
}

TEST(Fsdp, CheckpointsResumeAcrossTechniques) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  const JobSpec job = tiny_text_job(8);
  auto reference = make(job, false);
  std::vector<double> expected;
  while (reference->step() < reference->total_steps()) {
    expected.push_back(reference->train_step().loss);
  }
  // FSDP (two ranks) for 3 steps, then `single` to the end.
  const fs::path from_fsdp = text_workdir("fsdp") / "from-fsdp";
  fs::remove_all(from_fsdp);
  two_rank_fsdp(job, 29773, 3, nullptr, [&](int, Trainer& t) {
    ASSERT_TRUE(t.save_checkpoint(from_fsdp.string()).ok());
  });
  auto single = make(job, false);
  auto restored = single->restore_checkpoint(from_fsdp.string());
  ASSERT_TRUE(restored.ok() && *restored) << (restored.ok() ? "" : restored.error().to_string());
  for (std::size_t i = 3; i < expected.size(); ++i) {
    EXPECT_NEAR(single->train_step().loss, expected[i], 1e-4) << "step " << i + 1;
  }
  EXPECT_TRUE(same_weights(single->full_master(), reference->full_master()));
  // `single` for 3 steps, then FSDP (one rank) to the end.
  const fs::path from_single = text_workdir("fsdp") / "from-single";
  fs::remove_all(from_single);
  auto first = make(job, false);
  for (int i = 0; i < 3; ++i) first->train_step();
  ASSERT_TRUE(first->save_checkpoint(from_single.string()).ok());
  auto fsdp = make(job, true);
  restored = fsdp->restore_checkpoint(from_single.string());
  ASSERT_TRUE(restored.ok() && *restored);
  for (std::size_t i = 3; i < expected.size(); ++i) {
    EXPECT_NEAR(fsdp->train_step().loss, expected[i], 1e-4) << "step " << i + 1;
  }
  EXPECT_TRUE(same_weights(fsdp->full_master(), reference->full_master()));
}

}  // namespace
}  // namespace saturn::worker
