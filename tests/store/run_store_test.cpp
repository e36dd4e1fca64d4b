// RunStore: trials persist across opens, replace by key, clear; fingerprints ignore what does
// not change a step's speed; a file that is not a database is an error naming it.
#include "saturn/run_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace saturn {
namespace {

namespace fs = std::filesystem;

fs::path fresh(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("saturn_store_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TrialRecord sample(const std::string& technique, int gpus) {
  TrialRecord r;
  r.key = {"00ff00ff00ff00ff", technique, gpus, "cpu"};
  r.job = "job-a";
  r.feasible = true;
  r.params = {{"grad_accum", 2}};
  r.step_s = 0.25;
  r.peak_memory_bytes = 1.5e9;
  r.total_steps = 300;
  r.trial_s = 4;
  return r;
}

TEST(RunStore, TrialsPersistAndReplaceByKey) {
  const std::string db = (fresh("persist") / "saturn.db").string();
  {
    auto store = RunStore::open(db);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    ASSERT_TRUE((*store)->put_trial(sample("ddp", 2)).ok());
    TrialRecord oom = sample("single", 1);
    oom.feasible = false;
    oom.reason = "out of memory at every setting tried";
    ASSERT_TRUE((*store)->put_trial(oom).ok());
    TrialRecord again = sample("ddp", 2);
    again.step_s = 0.5;
    ASSERT_TRUE((*store)->put_trial(again).ok());
  }
  auto store = RunStore::open(db);
  ASSERT_TRUE(store.ok());
  auto all = (*store)->trials();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  auto ddp = (*store)->find_trial(sample("ddp", 2).key);
  ASSERT_TRUE(ddp.ok());
  ASSERT_TRUE(ddp->has_value());
  EXPECT_DOUBLE_EQ((*ddp)->step_s, 0.5);
  EXPECT_EQ((*ddp)->params, nlohmann::json({{"grad_accum", 2}}));
  EXPECT_EQ((*ddp)->total_steps, 300);
  auto single = (*store)->find_trial(sample("single", 1).key);
  ASSERT_TRUE(single.ok() && single->has_value());
  EXPECT_FALSE((*single)->feasible);
  EXPECT_EQ((*single)->reason, "out of memory at every setting tried");
  auto missing = (*store)->find_trial(sample("ddp", 4).key);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE((*store)->clear_trials().ok());
  EXPECT_TRUE((*store)->trials()->empty());
}

TEST(RunStore, AFileThatIsNotADatabaseIsAnErrorNamingIt) {
  const std::string path = (fresh("garbage") / "saturn.db").string();
  std::ofstream(path) << "this is not an SQLite database, just some text that is long enough\n";
  auto store = RunStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().to_string().find(path), std::string::npos) << store.error().to_string();
}

TEST(JobFingerprint, IgnoresLearningRateAndNameButNotBatchOrModel) {
  JobSpec a;
  a.name = "a";
  a.model = "gpt2-tiny";
  a.data.format = "synthetic-text";
  a.data.seq_len = 64;
  a.optimizer = "adamw";
  a.lr = 1e-3;
  a.batch_size = 8;
  a.steps = 100;
  a.gpus = {1, 2};
  a.techniques = {"ddp"};
  JobSpec b = a;
  b.name = "b";
  b.lr = 3e-3;
  b.seed = 7;
  b.steps = 500;
  EXPECT_EQ(job_fingerprint(a, "."), job_fingerprint(b, "."));
  EXPECT_EQ(job_fingerprint(a, ".").size(), 16u);
  JobSpec c = a;
  c.batch_size = 16;
  EXPECT_NE(job_fingerprint(a, "."), job_fingerprint(c, "."));
  JobSpec d = a;
  d.model = "gpt2-mini";
  EXPECT_NE(job_fingerprint(a, "."), job_fingerprint(d, "."));
}

}  // namespace
}  // namespace saturn
