// RunStore: trials persist across opens, replace by key, clear; a schema version 1 database is
// upgraded in place; fingerprints ignore what does not change a step's speed; a file that is not
// a database is an error naming it.
#include "saturn/run_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

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
  r.startup_s = 1.5;
  r.eval_s = 0.75;
  r.checkpoint_s = 2.25;
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
  EXPECT_DOUBLE_EQ((*ddp)->startup_s, 1.5);
  EXPECT_DOUBLE_EQ((*ddp)->eval_s, 0.75);
  EXPECT_DOUBLE_EQ((*ddp)->checkpoint_s, 2.25);
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

TEST(RunStore, ASchemaVersion1DatabaseIsUpgradedKeepingItsTrials) {
  const std::string db = (fresh("v1") / "saturn.db").string();
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    // The version 1 trials table, as Saturn wrote it before eval_s and checkpoint_s.
    const char* v1 =
        "CREATE TABLE trials (fingerprint TEXT NOT NULL, technique TEXT NOT NULL,"
        " gpus INTEGER NOT NULL, device_type TEXT NOT NULL, job TEXT NOT NULL,"
        " feasible INTEGER NOT NULL, params TEXT NOT NULL, step_s REAL NOT NULL,"
        " peak_memory_bytes REAL NOT NULL, total_steps INTEGER NOT NULL, reason TEXT NOT NULL,"
        " error TEXT NOT NULL, trial_s REAL NOT NULL, startup_s REAL NOT NULL DEFAULT 0,"
        " measured_at TEXT NOT NULL DEFAULT (datetime('now')),"
        " PRIMARY KEY (fingerprint, technique, gpus, device_type));"
        "INSERT INTO trials VALUES ('00ff00ff00ff00ff', 'ddp', 2, 'cpu', 'job-a', 1, '{}', 0.25,"
        " 1.5e9, 300, '', '', 4, 1.5, datetime('now'));"
        "PRAGMA user_version = 1;";
    ASSERT_EQ(sqlite3_exec(h, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(h);
  }
  auto store = RunStore::open(db);
  ASSERT_TRUE(store.ok()) << store.error().to_string();
  auto old = (*store)->find_trial(sample("ddp", 2).key);
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_DOUBLE_EQ((*old)->step_s, 0.25);
  EXPECT_DOUBLE_EQ((*old)->startup_s, 1.5);
  EXPECT_DOUBLE_EQ((*old)->eval_s, 0);  // not measured then
  ASSERT_TRUE((*store)->put_trial(sample("ddp", 2)).ok());
  auto now = (*store)->find_trial(sample("ddp", 2).key);
  ASSERT_TRUE(now.ok() && now->has_value());
  EXPECT_DOUBLE_EQ((*now)->checkpoint_s, 2.25);
  store->reset();
  EXPECT_TRUE(RunStore::open(db).ok());  // opening again does not upgrade twice
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
