// `saturn run` / `saturn status` as processes, with stand-ins for the worker (tests/cli/
// fake_worker.sh answers `info`) and for techniques (tests/profiler/fake_technique.sh searches,
// tests/executor/fake_trainer.sh trains): the orchestrator killed with SIGKILL mid-run and run
// again finishes without redoing finished jobs; a second orchestrator on the same run directory
// is refused; bad input exits 2.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "saturn/backend.h"
#include "support/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using saturn::testing::run_saturn;

class RunCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = saturn::testing::fresh_temp_dir(
        "run_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    const std::string src = SATURN_SOURCE_DIR;
    ::setenv("SATURN_WORKER", (src + "/tests/cli/fake_worker.sh").c_str(), 1);
    ::setenv("SATURN_LIBRARY_PATH", (dir_ / "library").c_str(), 1);
    fs::create_directories(dir_ / "library");
    std::ofstream(dir_ / "library" / "fake.yaml")
        << "name: fake\n"
           "search: [\""
        << src
        << "/tests/profiler/fake_technique.sh\", ok, \"{gpus}\", "
           "\"{devices}\", \""
        << (dir_ / "calls.txt").string()
        << "\"]\n"
           "execute: [\""
        << src
        << "/tests/executor/fake_trainer.sh\", ok, \"{checkpoint}\", "
           "\"{gpus}\", \"30\", \"0.1\"]\n";
    // Three jobs of 30 steps (the fake trainer's), profiled at 0.5 s per step on one slot.
    std::ofstream(dir_ / "w.yaml")
        << "name: w\n"
           "jobs:\n"
           "  - name: j\n"
           "    model: gpt2-tiny\n"
           "    data: {format: synthetic-text, seq_len: 32, samples: 64}\n"
           "    optimizer: adamw\n"
           "    lr: [1.0e-3, 2.0e-3, 3.0e-3]\n"
           "    batch_size: 8\n"
           "    steps: 30\n"
           "    gpus: [1]\n"
           "    techniques: [fake]\n";
  }
  void TearDown() override {
    ::unsetenv("SATURN_WORKER");
    ::unsetenv("SATURN_LIBRARY_PATH");
  }
  nlohmann::json status() {
    const auto r = run_saturn("status " + (dir_ / "run").string() + " --json");
    EXPECT_EQ(r.code, 0) << r.output;
    return nlohmann::json::parse(r.output, nullptr, false);
  }
  fs::path dir_;
};

TEST_F(RunCommand, KilledOrchestratorResumesWithoutRedoingFinishedJobs) {
  auto backend = saturn::local_backend();
  auto first =
      backend->start({{SATURN_CLI_PATH, "run", (dir_ / "w.yaml").string(), "--dir",
                       (dir_ / "run").string(), "--cpu-slots", "2", "--checkpoint-interval", "0.1"},
                      {},
                      {},
                      (dir_ / "first.log").string()});
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  // Wait until two jobs are done and the third is under way, then kill the orchestrator.
  const auto t0 = std::chrono::steady_clock::now();
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!fs::exists(dir_ / "run" / "saturn.db")) continue;
    const auto s = status();
    int done = 0, stepping = 0;
    for (const auto& j : s.value("jobs", nlohmann::json::array())) {
      done += j["state"] == "done";
      stepping += j["state"] == "running" && j["step"].get<int>() > 2;
    }
    ready = done == 2 && stepping == 1;
  }
  ASSERT_TRUE(ready) << status().dump(2);
  // A second orchestrator on the same directory is refused while the first runs.
  const auto second = run_saturn("run " + (dir_ / "w.yaml").string() + " --dir " +
                                 (dir_ / "run").string() + " --cpu-slots 2");
  EXPECT_EQ(second.code, 2) << second.output;
  EXPECT_NE(second.output.find("in use by another saturn run"), std::string::npos) << second.output;
  ::kill((*first)->pid(), SIGKILL);
  while (!(*first)->poll_exit()) saturn::wait_for_any({first->get()}, 0.1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // workers checkpoint and stop

  const auto again = run_saturn("run " + (dir_ / "w.yaml").string() + " --dir " +
                                (dir_ / "run").string() + " --cpu-slots 2");
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("3 done, 0 failed"), std::string::npos) << again.output;
  int relaunched = 0;
  const nlohmann::json final_status = status();
  for (const auto& j : final_status["jobs"]) {
    EXPECT_EQ(j["state"], "done");
    EXPECT_EQ(j["step"], 30);
    relaunched += j["launches"].get<int>() > 1;
  }
  EXPECT_EQ(relaunched, 1);  // only the unfinished job ran again
  // The unfinished job resumed from its checkpoint instead of step 0.
  EXPECT_NE(again.output.find(" from step "), std::string::npos) << again.output;
}

TEST_F(RunCommand, BadInputExitsTwo) {
  auto r =
      run_saturn("run " + (dir_ / "missing.yaml").string() + " --dir " + (dir_ / "run").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("missing.yaml"), std::string::npos) << r.output;
  r = run_saturn("status " + (dir_ / "nowhere").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("not a run directory"), std::string::npos) << r.output;
}

}  // namespace
