// The main job end to end with the real saturn-worker: `saturn run examples/quickstart.yaml`
// profiles, plans and trains every job of the quickstart on CPU device slots; every job ends
// done with checkpoints written and a loss well below its starting value; `saturn status --json`
// and the HTML report agree.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using saturn::testing::run_saturn;

TEST(Quickstart, EveryJobTrainsToTheEndWithCheckpointsAndFallingLoss) {
  const fs::path dir = saturn::testing::fresh_temp_dir("quickstart");
  ::setenv("SATURN_LIBRARY_PATH", (dir / "library").c_str(), 1);
  ::setenv("SATURN_WORKER", SATURN_WORKER_PATH, 1);
  const std::string run_dir = (dir / "run").string();
  const auto r = run_saturn("run " + saturn::testing::example("quickstart.yaml") + " --dir " +
                            run_dir + " --cpu-slots 2 --checkpoint-interval 20");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("4 done, 0 failed"), std::string::npos) << r.output;

  const auto status = run_saturn("status " + run_dir + " --json");
  ASSERT_EQ(status.code, 0) << status.output;
  const auto doc = nlohmann::json::parse(status.output);
  ASSERT_EQ(doc["jobs"].size(), 4u);
  const double initial = std::log(256.0);  // a byte-level model's loss before training
  for (const auto& job : doc["jobs"]) {
    const std::string name = job["name"];
    EXPECT_EQ(job["state"], "done") << name;
    EXPECT_EQ(job["step"], job["total_steps"]) << name;
    EXPECT_LT(job["loss"].get<double>(), 0.65 * initial) << name;
    EXPECT_LT(job["eval_loss"].get<double>(), 0.7 * initial) << name;
    EXPECT_TRUE(fs::exists(fs::path(run_dir) / "checkpoints" / name / "LATEST")) << name;
  }
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "report.html"));
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "plan.html"));
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "actual.html"));
  ::unsetenv("SATURN_LIBRARY_PATH");
  ::unsetenv("SATURN_WORKER");
}

}  // namespace
