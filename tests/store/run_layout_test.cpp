// The run directory's paths: one place, and no job name becomes a path outside its directory.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "saturn/run_layout.h"

namespace saturn {
namespace {

TEST(RunLayout, JobPathsLieInTheirDirectories) {
  EXPECT_EQ(*run_layout::job_file("r", "a-lr1e-3"), "r/jobs/a-lr1e-3.json");
  EXPECT_EQ(*run_layout::checkpoint_dir("r", "a"), "r/checkpoints/a");
  EXPECT_EQ(*run_layout::job_log("r", "a"), "r/logs/a.log");
  EXPECT_EQ(*run_layout::trial_log("r", "a", "ddp", 2), "r/logs/trial-a-ddp-2.log");
}

TEST(RunLayout, UnsafeNamesAreRefusedEverywhere) {
  for (const std::string& name : std::vector<std::string>{".", "..", "", "a/b", "../a", ".hidden",
                                                          "-x", "a b", std::string(129, 'a')}) {
    EXPECT_FALSE(run_layout::job_file("r", name).ok()) << name;
    EXPECT_FALSE(run_layout::checkpoint_dir("r", name).ok()) << name;
    EXPECT_FALSE(run_layout::job_log("r", name).ok()) << name;
    EXPECT_FALSE(run_layout::trial_log("r", name, "ddp", 1).ok()) << name;
  }
  EXPECT_FALSE(run_layout::trial_log("r", "a", "../ddp", 1).ok());
  auto e = run_layout::checkpoint_dir("r", ".");
  EXPECT_NE(e.error().message.find("job \".\": not a job name"), std::string::npos)
      << e.error().message;
}

}  // namespace
}  // namespace saturn
