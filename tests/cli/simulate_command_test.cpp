// `saturn simulate` end to end: runs the built binary on shipped examples and bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace saturn::testing {
namespace {

TEST(SimulateCommand, ComparesEveryPolicyAsJson) {
  const std::filesystem::path dir = fresh_temp_dir("simulate_json");
  const CommandResult run =
      run_saturn("simulate --profiles " + example("profiles/sweep-12jobs-2nodes.json") +
                 " --runtime-error 0.2 --planner-evaluations 3000 --json --gantt " +
                 (dir / "sim.html").string());
  ASSERT_EQ(run.code, 0) << run.output;
  const nlohmann::json doc = nlohmann::json::parse(run.output);
  ASSERT_EQ(doc["policies"].size(), 6u);
  for (const char* policy :
       {"saturn", "current-practice", "longest-first", "random", "optimus", "optimus-dynamic"}) {
    const nlohmann::json& p = doc["policies"][policy];
    EXPECT_GT(p["makespan_s"].get<double>(), 0) << policy;
    EXPECT_GE(p["makespan_s"].get<double>(), p["true_lower_bound_s"].get<double>()) << policy;
    EXPECT_GT(p["gpu_utilisation"].get<double>(), 0) << policy;
    EXPECT_TRUE(std::filesystem::exists(dir / (std::string("sim-") + policy + ".html"))) << policy;
  }
}

TEST(SimulateCommand, PrintsATimelineForOnePolicy) {
  const CommandResult run =
      run_saturn("simulate --profiles " + example("profiles/sweep-12jobs-1node.json") +
                 " --policy current-practice");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("job000"), std::string::npos);
  EXPECT_NE(run.output.find("current-practice"), std::string::npos);
  EXPECT_NE(run.output.find("lower bound"), std::string::npos);
}

TEST(SimulateCommand, BadInputExitsWithTwo) {
  const std::string profiles = example("profiles/sweep-12jobs-1node.json");
  for (const std::string& args : {
           std::string("simulate --profiles /nonexistent/p.json"),
           "simulate --profiles " + profiles + " --policy fastest",
           "simulate --profiles " + profiles + " --runtime-error 1.5",
           "simulate --profiles " + profiles + " --interval 0",
           "simulate --profiles " + profiles + " --workload w.yaml",
           "simulate --workload " + example("paper/wikitext.yaml"),
           std::string("simulate"),
       }) {
    const CommandResult run = run_saturn(args);
    EXPECT_EQ(run.code, 2) << args << "\n" << run.output;
    EXPECT_NE(run.output.find("simulate"), std::string::npos) << args << "\n" << run.output;
  }
}

}  // namespace
}  // namespace saturn::testing
