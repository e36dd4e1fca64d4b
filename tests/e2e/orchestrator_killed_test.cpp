// `saturn run` killed with SIGKILL while the real saturn-worker trains (docs/running.md, "Stopping
// and resuming"): the worker gets SIGTERM from the kernel, writes its checkpoint although nobody
// reads its events any more, and exits; `saturn status` says the job was interrupted; the same
// command run again resumes from that checkpoint. Before issue 23 the worker died of SIGPIPE
// writing its next event and left an empty checkpoint directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using saturn::testing::run_saturn;
using saturn::testing::start_saturn;
using Clock = std::chrono::steady_clock;

nlohmann::json job_status(const fs::path& run) {
  const auto r = run_saturn("status " + run.string() + " --json");
  const auto doc = nlohmann::json::parse(r.output, nullptr, false);
  if (doc.is_discarded() || !doc.contains("jobs") || doc["jobs"].empty()) return {};
  return doc["jobs"][0];
}

// Waits (at most `limit_s`) until the job has stepped past `step` in a launch of its own.
bool wait_for_step(const fs::path& run, int step, double limit_s) {
  const auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < limit_s) {
    const nlohmann::json j = job_status(run);
    if (!j.is_null() && j["state"] == "running" && j["step"].get<int>() > step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// True once nobody holds the run directory's lock (the orchestrator's workers inherit it).
bool wait_for_unlocked(const fs::path& run, double limit_s) {
  const auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < limit_s) {
    const int fd = open((run / "lock").c_str(), O_RDONLY);
    const bool free = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (fd >= 0) close(fd);
    if (free) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(OrchestratorKilled, TheWorkerCheckpointsAndTheNextRunResumesFromIt) {
  const fs::path dir = saturn::testing::fresh_temp_dir("orchestrator_killed");
  ::setenv("SATURN_LIBRARY_PATH", (dir / "library").c_str(), 1);
  ::setenv("SATURN_WORKER", SATURN_WORKER_PATH, 1);
  std::ofstream(dir / "long.yaml")
      << "jobs:\n  - name: long\n    model: gpt2-tiny\n"
         "    data: {format: synthetic-text, seq_len: 32, samples: 256}\n"
         "    lr: 1e-3\n    batch_size: 8\n    steps: 1000000\n    gpus: 1\n"
         "    techniques: single\n";
  const fs::path run = dir / "run";
  // No periodic checkpoint within the test: the only one is the one SIGTERM makes.
  const std::vector<std::string> args = {
      "run", (dir / "long.yaml").string(), "--dir", run.string(), "--cpu-slots",
      "1",   "--checkpoint-interval",      "3600"};
  const pid_t first = start_saturn(args, dir / "first.log");
  ASSERT_TRUE(wait_for_step(run, 5, 120)) << read_file(dir / "first.log");
  kill(first, SIGKILL);
  waitpid(first, nullptr, 0);
  ASSERT_TRUE(wait_for_unlocked(run, 60)) << "the worker did not exit";
  const fs::path checkpoints = run / "checkpoints" / "long";
  ASSERT_TRUE(fs::exists(checkpoints / "LATEST")) << read_file(run / "logs" / "long.log");
  std::string latest = read_file(checkpoints / "LATEST");
  latest.erase(latest.find_last_not_of(" \n") + 1);
  EXPECT_TRUE(fs::exists(checkpoints / latest / "checksums.xxh128"));
  const int saved_step = std::stoi(latest.substr(5));
  EXPECT_GT(saved_step, 5);
  // Nobody runs it now: status says so instead of "running".
  EXPECT_EQ(job_status(run)["state"], "interrupted");

  const pid_t second = start_saturn(args, dir / "second.log");
  const bool stepping = wait_for_step(run, saved_step, 120);
  kill(second, SIGINT);  // stops gracefully: the worker checkpoints, exit 10
  int status = 0;
  waitpid(second, &status, 0);
  ASSERT_TRUE(stepping) << read_file(dir / "second.log");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 10) << read_file(dir / "second.log");
  const std::string log = read_file(dir / "second.log");
  EXPECT_NE(log.find("long resumed at step " + std::to_string(saved_step)), std::string::npos)
      << log;
  EXPECT_EQ(job_status(run)["state"], "pending");
  ::unsetenv("SATURN_LIBRARY_PATH");
  ::unsetenv("SATURN_WORKER");
}

}  // namespace
