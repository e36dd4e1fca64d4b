// `saturn estimate` end to end: runs the built binary on the paper workloads and checks the
// table, the profile table it writes (which `saturn plan` must accept) and its exit codes.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "saturn/profile.h"
#include "support/cli_runner.h"

namespace {

namespace fs = std::filesystem;

using saturn::testing::CommandResult;
using saturn::testing::example;

CommandResult saturn(const std::string& args) {
  return saturn::testing::run_saturn(args);
}

fs::path temp_dir(const std::string& name) {
  return saturn::testing::fresh_temp_dir("estimate_" + name);
}

TEST(EstimateCommand, WritesAProfileTableThePlannerLoads) {
  const fs::path dir = temp_dir("wikitext");
  const std::string out = (dir / "profiles.json").string();
  const CommandResult run = saturn("estimate " + example("paper/wikitext.yaml") + " --cluster " +
                                   example("clusters/one-node-a100.yaml") + " --out " + out);
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("technique"), std::string::npos);
  EXPECT_NE(run.output.find("gptj-lr1e-5-bs16"), std::string::npos);
  EXPECT_NE(run.output.find("infeasible: needs"), std::string::npos);  // DDP of GPT-J
  auto table = saturn::load_profile_table(out);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_EQ(table->tasks.size(), 12u);
  for (const saturn::Task& task : table->tasks) EXPECT_GT(task.restart_s, 0);

  const CommandResult plan =
      saturn("plan --profiles " + out + " --solver heuristic --time-limit 1");
  EXPECT_EQ(plan.code, 0) << plan.output;
  EXPECT_NE(plan.output.find("makespan"), std::string::npos);
}

TEST(EstimateCommand, JsonFlagPrintsTheSameTable) {
  const fs::path dir = temp_dir("json");
  const std::string out = (dir / "profiles.json").string();
  const CommandResult run = saturn("estimate " + example("paper/imagenet.yaml") + " --cluster " +
                                   example("clusters/one-node-a100.yaml") + " --json --out " + out);
  ASSERT_EQ(run.code, 0) << run.output;
  const nlohmann::json printed = nlohmann::json::parse(run.output);
  std::ifstream in(out);
  EXPECT_EQ(printed, nlohmann::json::parse(in));
  EXPECT_EQ(printed["tasks"].size(), 12u);
  EXPECT_EQ(printed["meta"]["tool"], "saturn estimate");
}

TEST(EstimateCommand, BadCalibrationExitsTwoWithFileLineField) {
  const fs::path dir = temp_dir("badcal");
  const std::string cal = (dir / "cal.yaml").string();
  std::ofstream(cal) << "text_bytes_per_token: {value: -4, source: x}\n";
  const CommandResult run =
      saturn("estimate " + example("paper/wikitext.yaml") + " --cluster " +
             example("clusters/one-node-a100.yaml") + " --calibration " + cal);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_NE(run.output.find(cal + ":1: text_bytes_per_token.value: must be > 0, got -4"),
            std::string::npos)
      << run.output;
}

TEST(EstimateCommand, JobThatFitsNowhereExitsTwo) {
  const fs::path dir = temp_dir("nowhere");
  const std::string workload = (dir / "w.yaml").string();
  std::ofstream(workload) << "jobs:\n  - name: big\n    model: gptj-6b\n    lr: 1e-4\n"
                             "    batch_size: 16\n    steps: 10\n    gpus: 1\n"
                             "    techniques: ddp\n";
  const CommandResult run =
      saturn("estimate " + workload + " --cluster " + example("clusters/one-node-a100.yaml"));
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_NE(run.output.find(workload + ":2: jobs[0]: job \"big\" fits on no GPU of the cluster"),
            std::string::npos)
      << run.output;
}

TEST(EstimateCommand, UnwritableOutputExitsThree) {
  const CommandResult run =
      saturn("estimate " + example("paper/imagenet.yaml") + " --cluster " +
             example("clusters/one-node-a100.yaml") + " --out /nonexistent/dir/p.json");
  EXPECT_EQ(run.code, 3) << run.output;
}

}  // namespace
