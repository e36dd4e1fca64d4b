// same_weights() (same_weights.h), the bound every training-equality test uses: it accepts two
// runs of one job that round differently and rejects a run one step short or without weight
// decay.
#include "same_weights.h"

#include <gtest/gtest.h>

#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

std::unique_ptr<Trainer> make(const JobSpec& job) {
  auto t = Trainer::create({job, text_workdir("same_weights").string(), torch::kCPU, nullptr});
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(SameWeights, AcceptsRoundingAndRejectsAMissedStep) {
  const JobSpec job = tiny_text_job(8, 2);  // 6 AdamW steps, lr 3e-3, weight decay 0.1
  JobSpec no_decay = job;
  no_decay.weight_decay = 0;
  auto reference = make(job), nudged = make(job), short_one = make(job), undecayed = make(no_decay);
  ASSERT_TRUE(reference && nudged && short_one && undecayed);
  {
    // About one ulp (fp32's is 1.2e-7 relative) on every initial weight: the size of the
    // difference another BLAS or summation order makes.
    torch::NoGradGuard no_grad;
    torch::manual_seed(7);
    torch::Tensor master = nudged->parameters().master();
    master.mul_(1 + 1.2e-7 * torch::randn_like(master));
  }
  while (reference->step() < reference->total_steps()) {
    reference->train_step();
    nudged->train_step();
    undecayed->train_step();
    if (short_one->step() + 1 < reference->total_steps()) short_one->train_step();
  }
  const torch::Tensor want = reference->full_master();
  EXPECT_TRUE(same_weights(nudged->full_master(), want));
  EXPECT_FALSE(same_weights(short_one->full_master(), want));
  // Weight decay skipped (as a shard or stage that missed it would): each weight off by about
  // 6 x lr x 0.1 x |w|, under the per-weight bound but past the tight one almost everywhere.
  EXPECT_FALSE(same_weights(undecayed->full_master(), want));
  EXPECT_FALSE(same_weights(want.narrow(0, 0, 10), want));  // shapes differ
}

}  // namespace
}  // namespace saturn::worker
