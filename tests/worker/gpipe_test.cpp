// GPipe (TrainerSetup::pipeline): stages balanced over the block sequence; two Gloo stages in
// this process give the same losses, weights and evaluation as `single` on the same batch
// (GPT with its LM head tied across stages, ResNet with BatchNorm; with and without activation
// checkpointing; two and four micro-batches); one stage equals `single` too; a pipeline's
// checkpoint holds the whole model and resumes under `single`, and the reverse.
#include <gtest/gtest.h>


#include "local_group.h"
#include "same_weights.h"
#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

struct PipelineOptions {
  bool pipeline = true;
  bool checkpointing = false;
  std::string balance = "time";
};

std::unique_ptr<Trainer> make(const JobSpec& job, PipelineOptions o, Communicator* comm = nullptr) {
  TrainerSetup setup{job, text_workdir("gpipe").string(), torch::kCPU, comm};
  setup.pipeline = o.pipeline;
  setup.activation_checkpointing = o.checkpointing;
  setup.balance = o.balance;
  auto t = Trainer::create(setup);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return t.ok() ? std::move(*t) : nullptr;
}

std::unique_ptr<Trainer> make_single(const JobSpec& job) {
  return make(job, PipelineOptions{false});
}

// Runs `steps` steps of `job` on two stages (threads); calls `after(rank, trainer)` on both at
// the end (collectives allowed). Losses as rank 0 reports them.
template <typename After>
void two_stages(const JobSpec& job, PipelineOptions o, int port, int steps,
                std::vector<double>* losses, After after) {
  train_on_ranks(
      2, port, steps, [&](Communicator* comm) { return make(job, o, comm); }, losses, after);
}

TEST(BalancedStages, LeastLargestStage) {
  EXPECT_EQ(balanced_stages({1, 1, 1, 1}, 2), (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(balanced_stages({0, 5, 5, 5, 5, 10}, 2), (std::vector<int>{0, 4, 6}));
  EXPECT_EQ(balanced_stages({3, 1, 1, 1}, 3), (std::vector<int>{0, 1, 2, 4}));
  EXPECT_EQ(balanced_stages({7}, 1), (std::vector<int>{0, 1}));
  // Every stage keeps at least one block, even of zero cost.
  const std::vector<int> b = balanced_stages({0, 0, 0, 9}, 4);
  EXPECT_EQ(b, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Gpipe, OneStageEqualsSingle) {
  const JobSpec job = tiny_text_job(8, 2);
  auto single = make_single(job), pipe = make(job, {});
  ASSERT_TRUE(pipe);
  EXPECT_EQ(pipe->stage_bounds(), (std::vector<int>{0, 4}));
  while (single->step() < single->total_steps()) {
    EXPECT_NEAR(single->train_step().loss, pipe->train_step().loss, 1e-5);
  }
  EXPECT_TRUE(same_weights(pipe->full_master(), single->full_master()));
  EXPECT_NEAR(single->evaluate(16), pipe->evaluate(16), 1e-5);
}

void expect_two_stages_equal_single(const JobSpec& job, PipelineOptions o, int port) {
  auto single = make_single(job);
  std::vector<double> expected;
  while (single->step() < single->total_steps()) expected.push_back(single->train_step().loss);
  const torch::Tensor want = single->full_master();
  const double want_eval = single->evaluate(16);
  std::vector<double> losses;
  two_stages(job, o, port, static_cast<int>(expected.size()), &losses, [&](int r, Trainer& t) {
    EXPECT_EQ(t.stage_bounds().size(), 3u);
    // Each stage holds its own part; the whole model's buffers are released.
    EXPECT_EQ(t.parameters().master().numel(), 0);
    EXPECT_TRUE(same_weights(t.full_master(), want))
        << "rank " << r << ", checkpointing " << o.checkpointing << ", " << o.balance;
    EXPECT_NEAR(t.evaluate(16), want_eval, 1e-4) << "rank " << r;
  });
  ASSERT_EQ(losses.size(), expected.size());
  for (std::size_t i = 0; i < losses.size(); ++i) {
    EXPECT_NEAR(losses[i], expected[i], 1e-4) << "step " << i + 1 << ", " << o.balance;
  }
}

TEST(Gpipe, TwoStagesEqualSingleOnGptWithItsTiedHead) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  JobSpec job = tiny_text_job(8, 4);  // four micro-batches of two
  job.steps = 4;
  expect_two_stages_equal_single(job, {true, false, "time"}, 29781);
  job.grad_accum = 2;
  expect_two_stages_equal_single(job, {true, true, "memory"}, 29783);
}

TEST(Gpipe, TwoStagesEqualSingleOnResNetWithBatchNorm) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  expect_two_stages_equal_single(tiny_resnet_job(/*accum=*/2, /*steps=*/3), {true, true, "time"}, 29785);
}

TEST(Gpipe, CheckpointsResumeAcrossTechniques) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  const JobSpec job = tiny_text_job(8, 2);
  auto reference = make_single(job);
  std::vector<double> expected;
  while (reference->step() < reference->total_steps()) {
    expected.push_back(reference->train_step().loss);
  }
  // Two stages for 3 steps, then `single` to the end.
  const fs::path from_pipe = text_workdir("gpipe") / "from-gpipe";
  fs::remove_all(from_pipe);
  two_stages(job, {}, 29787, 3, nullptr, [&](int, Trainer& t) {
    ASSERT_TRUE(t.save_checkpoint(from_pipe.string()).ok());
  });
  auto single = make_single(job);
  auto restored = single->restore_checkpoint(from_pipe.string());
  ASSERT_TRUE(restored.ok() && *restored) << (restored.ok() ? "" : restored.error().to_string());
  for (std::size_t i = 3; i < expected.size(); ++i) {
    EXPECT_NEAR(single->train_step().loss, expected[i], 1e-4) << "step " << i + 1;
  }
  // `single` for 3 steps, then two stages to the end.
  const fs::path from_single = text_workdir("gpipe") / "from-single";
  fs::remove_all(from_single);
  auto first = make_single(job);
  for (int i = 0; i < 3; ++i) first->train_step();
  ASSERT_TRUE(first->save_checkpoint(from_single.string()).ok());
  std::vector<double> losses;  // from step 4
  train_on_ranks(
      2, 29789, static_cast<int>(expected.size()) - 3,
      [&](Communicator* comm) {
        auto t = make(job, {}, comm);
        if (t) {
          auto found = t->restore_checkpoint(from_single.string());
          EXPECT_TRUE(found.ok() && *found);
        }
        return t;
      },
      &losses,
      [&](int r, Trainer& t) {
        const torch::Tensor master = t.full_master();
        if (r == 0) {
          EXPECT_TRUE(same_weights(master, reference->full_master()));
        }
      });
  ASSERT_EQ(losses.size() + 3, expected.size());
  for (std::size_t i = 3; i < expected.size(); ++i) {
    EXPECT_NEAR(losses[i - 3], expected[i], 1e-4) << "step " << i + 1;
  }
}

TEST(BalancedStages, RejectsMoreStagesThanBlocks) {
  EXPECT_THROW(balanced_stages({1, 1}, 3), c10::Error);
}

}  // namespace
}  // namespace saturn::worker
