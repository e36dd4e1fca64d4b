// `saturn plan` end to end: runs the built binary and checks its output, files and exit codes.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace {

namespace fs = std::filesystem;

using saturn::testing::CommandResult;
using saturn::testing::example;

CommandResult saturn(const std::string& args) {
  return saturn::testing::run_saturn(args);
}
fs::path temp_dir(const std::string& name) {
  return saturn::testing::fresh_temp_dir(name);
}

TEST(PlanCommand, PrintsATable) {
  const CommandResult run =
      saturn("plan --profiles " + example("profiles/sweep-12jobs-2nodes.json") + " --time-limit 1");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("technique"), std::string::npos);
  EXPECT_NE(run.output.find("makespan"), std::string::npos);
  EXPECT_NE(run.output.find("lower bound"), std::string::npos);
  EXPECT_NE(run.output.find("gap"), std::string::npos);
  EXPECT_NE(run.output.find("job011"), std::string::npos);
}

TEST(PlanCommand, WritesJsonAndGantt) {
  const fs::path dir = temp_dir("outputs");
  const CommandResult run =
      saturn("plan --profiles " + example("profiles/sweep-12jobs-1node.json") +
             " --solver heuristic --time-limit 1 --json --out " + (dir / "plan.json").string() +
             " --gantt " + (dir / "plan.html").string());
  ASSERT_EQ(run.code, 0) << run.output;
  const nlohmann::json printed = nlohmann::json::parse(run.output);
  std::ifstream in(dir / "plan.json");
  const nlohmann::json written = nlohmann::json::parse(in);
  EXPECT_EQ(printed, written);
  EXPECT_EQ(written["assignments"].size(), 12u);
  EXPECT_LE(written["lower_bound_s"].get<double>(), written["makespan_s"].get<double>());
  EXPECT_EQ(written["solver"]["name"], "heuristic");
  std::ifstream html(dir / "plan.html");
  std::stringstream page;
  page << html.rdbuf();
  EXPECT_NE(page.str().find("<svg"), std::string::npos);
}

TEST(PlanCommand, ClusterOverride) {
  const CommandResult run =
      saturn("plan --profiles " + example("profiles/sweep-12jobs-1node.json") + " --cluster " +
             example("clusters/two-nodes-a100.yaml") + " --solver heuristic --time-limit 1 --json");
  ASSERT_EQ(run.code, 0) << run.output;
  const nlohmann::json plan = nlohmann::json::parse(run.output);
  bool second_node = false;
  for (const auto& a : plan["assignments"]) second_node = second_node || a["node"] == "n1";
  EXPECT_TRUE(second_node);
}

TEST(PlanCommand, BadInputExitsTwoNamingTheFile) {
  const fs::path dir = temp_dir("bad");
  {
    std::ofstream(dir / "broken.json")
        << "{\"cluster\": {\"nodes\": [\n  {\"name\": \"n0\", }\n]}}";
  }
  CommandResult run = saturn("plan --profiles " + (dir / "broken.json").string());
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_NE(run.output.find("broken.json:2"), std::string::npos) << run.output;

  run = saturn("plan --profiles " + (dir / "missing.json").string());
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.output.find("missing.json"), std::string::npos) << run.output;

  run =
      saturn("plan --profiles " + example("profiles/sweep-12jobs-1node.json") + " --solver gurobi");
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.output.find("gurobi"), std::string::npos) << run.output;

  run =
      saturn("plan --profiles " + example("profiles/sweep-12jobs-1node.json") + " --time-limit -1");
  EXPECT_EQ(run.code, 2) << run.output;

  run = saturn("plan --bogus-flag");
  EXPECT_EQ(run.code, 2) << run.output;
}

// Options that are not numbers of their kind are usage errors (exit 2), named in one short line
// with the command: NaN slipped through CLI11's own checks, a negative seed wrapped around, a bad
// --runtime-uncertainty exited 1, and `--interval 0` printed the largest double in 309 digits.
TEST(PlanCommand, BadOptionValuesAreUsageErrorsInOneShortLine) {
  const std::string profiles = example("profiles/sweep-12jobs-1node.json");
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"plan --profiles " + profiles + " --time-limit nan",
            "saturn plan: --time-limit: nan is not a finite number > 0"},
           {"plan --profiles " + profiles + " --seed -1",
            "saturn plan: --seed: -1 is not a whole number >= 0"},
           {"plan --profiles " + profiles + " --runtime-uncertainty 2",
            "saturn plan: --runtime-uncertainty: 2 is not a share in [0, 1)"},
           {"simulate --profiles " + profiles + " --interval 0",
            "saturn simulate: --interval: 0 is not a finite number > 0"},
           {"simulate --profiles " + profiles + " --planner-evaluations -5",
            "saturn simulate: --planner-evaluations: -5 is not a whole number >= 0"},
           {"run w.yaml --interval nan", "saturn run: --interval: nan is not a finite number > 0"},
           {"run w.yaml --checkpoint-interval inf",
            "saturn run: --checkpoint-interval: inf is not a finite number > 0"},
       }) {
    const CommandResult r = saturn(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_LT(r.output.size(), 200u) << r.output;
  }
}

TEST(PlanCommand, UnwritableOutputExitsThree) {
  const CommandResult run =
      saturn("plan --profiles " + example("profiles/sweep-12jobs-1node.json") +
             " --solver heuristic --time-limit 1 --out /nonexistent-dir/plan.json");
  EXPECT_EQ(run.code, 3) << run.output;
  EXPECT_NE(run.output.find("/nonexistent-dir/plan.json"), std::string::npos) << run.output;
}

}  // namespace
