// FSDP (TrainerSetup::fsdp): two Gloo ranks in this process, each with a shard of every block,
// give the same weights and losses as `single` on the same global batch (two micro-steps, with
// activation checkpointing and without), evaluation included;
// one rank equals `single` too; an FSDP checkpoint holds the whole model and resumes under
// `single`, and a `single` checkpoint resumes under FSDP.
#include <gtest/gtest.h>

#include <thread>

#include "local_group.h"
#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Trainer> make(const JobSpec& job, bool fsdp, Communicator* comm = nullptr,
                              bool checkpointing = true) {
  TrainerSetup setup{job, text_workdir("fsdp").string(), torch::kCPU, comm};
  setup.fsdp = fsdp;
  setup.activation_checkpointing = checkpointing;
  auto t = Trainer::create(setup);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return std::move(*t);
}

// Runs `steps` steps of `job` under FSDP on two ranks (threads); calls `after(rank, trainer)`
// on every rank at the end (collectives allowed).
template <typename After>
void two_rank_fsdp(const JobSpec& job, int port, int steps, std::vector<double>* losses,
                   After after, bool checkpointing = true) {
  auto comms = local_group(2, port);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      auto t = make(job, true, comms[static_cast<std::size_t>(r)].get(), checkpointing);
      for (int i = 0; i < steps; ++i) {
        const double loss = t->train_step().loss;
        if (r == 0 && losses) losses->push_back(loss);
      }
      after(r, *t);
    });
  }
  for (auto& t : threads) t.join();
}

TEST(Fsdp, OneRankEqualsSingle) {
  const JobSpec job = tiny_text_job(8, 2);
  auto single = make(job, false), fsdp = make(job, true, nullptr, /*checkpointing=*/false);
  while (single->step() < single->total_steps()) {
    EXPECT_NEAR(single->train_step().loss, fsdp->train_step().loss, 1e-5);
  }
  EXPECT_TRUE(torch::allclose(single->full_master(), fsdp->full_master(), 1e-4, 1e-6));
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
  // With activation checkpointing and without: blocks gathered twice, or kept from forward to
  // backward.
  for (const bool checkpointing : {true, false}) {
    std::vector<double> losses;
    two_rank_fsdp(
        job, checkpointing ? 29771 : 29775, 4, &losses,
        [&](int r, Trainer& t) {
          EXPECT_EQ(t.micro_batch(), 2);
          const torch::Tensor master = t.full_master();
          EXPECT_TRUE(torch::allclose(master, single->full_master(), 1e-4, 1e-5))
              << "rank " << r << ", checkpointing " << checkpointing;
          EXPECT_NEAR(t.evaluate(16), single_eval, 1e-4) << "rank " << r;
        },
        checkpointing);
    ASSERT_EQ(losses.size(), expected.size());
    for (std::size_t i = 0; i < losses.size(); ++i) {
      EXPECT_NEAR(losses[i], expected[i], 1e-4) << i << ", checkpointing " << checkpointing;
    }
  }
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
  EXPECT_TRUE(torch::allclose(single->full_master(), reference->full_master(), 1e-4, 1e-5));
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
  EXPECT_TRUE(torch::allclose(fsdp->full_master(), reference->full_master(), 1e-4, 1e-5));
}

}  // namespace
}  // namespace saturn::worker
