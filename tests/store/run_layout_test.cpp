// The run directory's paths: one place, and no job name becomes a path outside its directory.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "saturn/run_layout.h"

namespace saturn {
namespace {

TEST(RunLayout, JobPathsLieInTheirDirectories) {
  EXPECT_EQ(*RunDir("r").job_file("a-lr1e-3"), "r/jobs/a-lr1e-3.json");
  EXPECT_EQ(*RunDir("r").checkpoint_dir("a"), "r/checkpoints/a");
  EXPECT_EQ(*RunDir("r").job_log("a"), "r/logs/a.log");
  EXPECT_EQ(*RunDir("r").trial_log("a", "ddp", 2), "r/logs/trial-a-ddp-2.log");
}

TEST(RunLayout, UnsafeNamesAreRefusedEverywhere) {
  for (const std::string& name : std::vector<std::string>{".", "..", "", "a/b", "../a", ".hidden",
                                                          "-x", "a b", std::string(129, 'a')}) {
    EXPECT_FALSE(RunDir("r").job_file(name).ok()) << name;
    EXPECT_FALSE(RunDir("r").checkpoint_dir(name).ok()) << name;
    EXPECT_FALSE(RunDir("r").job_log(name).ok()) << name;
    EXPECT_FALSE(RunDir("r").trial_log(name, "ddp", 1).ok()) << name;
  }
  EXPECT_FALSE(RunDir("r").trial_log("a", "../ddp", 1).ok());
  auto e = RunDir("r").checkpoint_dir(".");
  EXPECT_NE(e.error().message.find("job \".\": not a job name"), std::string::npos)
      << e.error().message;
}

}  // namespace
}  // namespace saturn
