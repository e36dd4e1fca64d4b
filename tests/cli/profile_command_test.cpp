// `saturn profile` and `saturn library` end to end, with a stand-in worker (tests/cli/
// fake_worker.sh) so they need no libtorch: the profile table the planner reads, the cache on a
// second run, registered techniques, and bad input as exit code 2 with a named file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "saturn/profile.h"
#include "support/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using saturn::testing::CommandResult;
using saturn::testing::fresh_temp_dir;
using saturn::testing::run_saturn;

class ProfileCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(
        "profile_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ::setenv("SATURN_WORKER",
             (std::string(SATURN_SOURCE_DIR) + "/tests/cli/fake_worker.sh").c_str(), 1);
    ::setenv("SATURN_LIBRARY_PATH", (dir_ / "library").c_str(), 1);
    std::ofstream(dir_ / "w.yaml")
        << "name: w\n"
           "jobs:\n"
           "  - name: j\n"
           "    model: gpt2-tiny\n"
           "    data: {format: synthetic-text, seq_len: 32, samples: 64}\n"
           "    optimizer: adamw\n"
           "    lr: [1.0e-3, 2.0e-3]\n"
           "    batch_size: 8\n"
           "    epochs: 1\n"
           "    gpus: [1, 2]\n"
           "    techniques: [single, ddp]\n";
  }
  void TearDown() override {
    ::unsetenv("SATURN_WORKER");
    ::unsetenv("SATURN_LIBRARY_PATH");
  }
  fs::path dir_;
};

TEST_F(ProfileCommand, WritesAProfileTableThePlannerReadsAndCachesIt) {
  const std::string run_dir = (dir_ / "run").string();
  const std::string args =
      "profile " + (dir_ / "w.yaml").string() + " --dir " + run_dir + " --cpu-slots 2";
  const CommandResult first = run_saturn(args);
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("3 configurations: 3 measured, 0 cached"), std::string::npos)
      << first.output;
  auto table = saturn::load_profile_table(run_dir + "/profiles.json");
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tasks.size(), 2u);
  // single x1, ddp x1, ddp x2: 0.8 s x 50 steps on one slot, half that on two.
  ASSERT_EQ(table->tasks[0].configs.size(), 3u);
  EXPECT_DOUBLE_EQ(table->tasks[0].configs[2].runtime_s, 0.4 * 50);

  const CommandResult second = run_saturn(args);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("0 measured, 3 cached"), std::string::npos) << second.output;

  const CommandResult plan = run_saturn("plan --profiles " + run_dir + "/profiles.json");
  ASSERT_EQ(plan.code, 0) << plan.output;
}

TEST_F(ProfileCommand, BadWorkloadExitsTwoNamingTheFile) {
  std::ofstream(dir_ / "bad.yaml") << "name: w\njobs: [{name: j, model: gpt2-tiny, lr: -1}]\n";
  const CommandResult r =
      run_saturn("profile " + (dir_ / "bad.yaml").string() + " --dir " + (dir_ / "run").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.yaml:2"), std::string::npos) << r.output;
}

TEST_F(ProfileCommand, LibraryAddListShowRemove) {
  std::ofstream(dir_ / "mine.yaml")
      << "name: mine\ndescription: my technique\nsearch: [\"{dir}/mine.sh\", \"{job}\"]\n"
         "execute: [\"{dir}/mine.sh\", run]\n";
  CommandResult r = run_saturn("library add " + (dir_ / "mine.yaml").string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_saturn("library list");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("mine"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ddp"), std::string::npos) << r.output;
  r = run_saturn("library show mine");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("dir:         " + dir_.string()), std::string::npos) << r.output;
  r = run_saturn("library remove ddp");
  EXPECT_EQ(r.code, 2) << r.output;
  r = run_saturn("library remove mine");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ofstream(dir_ / "bad.yaml") << "name: bad\nsearch: [x, \"{nope}\"]\nexecute: [y]\n";
  r = run_saturn("library add " + (dir_ / "bad.yaml").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.yaml:2: search[1]: unknown placeholder {nope}"), std::string::npos)
      << r.output;
}

}  // namespace
