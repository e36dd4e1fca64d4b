// `saturn run` / `saturn status` as processes, with stand-ins for the worker (tests/cli/
// fake_worker.sh answers `info`) and for techniques (tests/profiler/fake_technique.sh searches,
// tests/executor/fake_trainer.sh trains): the orchestrator killed with SIGKILL mid-run and run
// again finishes without redoing finished jobs; a second orchestrator on the same run directory
// is refused; bad input exits 2.
#include <gtest/gtest.h>
#include <signal.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "saturn/backend.h"
#include "saturn/executor.h"
#include "saturn/run_store.h"
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
                      (dir_ / "first.log").string(),
                      ""});
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
  while (!(*first)->poll_exit()) backend->wait({first->get()}, 0.1);
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
  EXPECT_TRUE(again.output.find(" from its checkpoint at step ") != std::string::npos ||
              again.output.find(" resumed at step ") != std::string::npos)
      << again.output;
}

// One job that fits in no configuration aborted the whole run with exit 2 before anything
// trained. It now fails alone, with why; the others run; the exit code says some jobs failed.
TEST_F(RunCommand, AJobThatFitsNowhereFailsAloneAndTheOthersRun) {
  std::ofstream(dir_ / "library" / "nofit.yaml")
      << "name: nofit\nsearch: [\"" << SATURN_SOURCE_DIR
      << "/tests/profiler/fake_technique.sh\", nofit, \"{gpus}\", \"{devices}\", \""
      << (dir_ / "calls.txt").string() << "\"]\nexecute: [\"false\"]\n";
  std::ofstream(dir_ / "mixed.yaml")
      << "jobs:\n"
         "  - {name: fits, model: gpt2-tiny, lr: 1e-3, batch_size: 8, steps: 30, gpus: 1,\n"
         "     techniques: fake, data: {format: synthetic-text, seq_len: 32, samples: 64}}\n"
         "  - {name: huge, model: gpt2-tiny, lr: 1e-3, batch_size: 8, steps: 30, gpus: 1,\n"
         "     techniques: nofit, data: {format: synthetic-text, seq_len: 32, samples: 64}}\n";
  const auto r = run_saturn("run " + (dir_ / "mixed.yaml").string() + " --dir " +
                            (dir_ / "run").string() + " --cpu-slots 2 --checkpoint-interval 0.1");
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_NE(r.output.find("infeasible huge: fits in no configuration"), std::string::npos)
      << r.output;
  // Not a terminal: profiling still says how it goes, a line per change (once only the last).
  std::size_t progress = 0;
  for (std::size_t at = r.output.find("trials "); at != std::string::npos;
       at = r.output.find("trials ", at + 1)) {
    ++progress;
  }
  EXPECT_GE(progress, 2u) << r.output;
  EXPECT_NE(r.output.find("1 done, 1 failed"), std::string::npos) << r.output;
  std::map<std::string, nlohmann::json> jobs;
  const nlohmann::json now = status();
  for (const auto& j : now["jobs"]) jobs[j["name"].get<std::string>()] = j;
  EXPECT_EQ(jobs["fits"]["state"], "done");
  EXPECT_EQ(jobs["huge"]["state"], "failed");
  EXPECT_NE(jobs["huge"]["error"].get<std::string>().find("nofit x1: out of memory"),
            std::string::npos)
      << jobs["huge"].dump();
}

// `saturn profile --remeasure` measured on devices a running job was using (twice its real step
// time) and overwrote the cached trial later plans use. It takes the run's lock like `run`.
TEST_F(RunCommand, ProfileIsRefusedWhileARunHoldsTheDirectory) {
  fs::create_directories(dir_ / "run");
  auto lock = saturn::RunLock::acquire((dir_ / "run").string());
  ASSERT_TRUE(lock.ok());
  const auto r = run_saturn("profile " + (dir_ / "w.yaml").string() + " --dir " +
                            (dir_ / "run").string() + " --cpu-slots 2 --remeasure");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(
      r.output.find("in use by another saturn run or profile (pid " + std::to_string(::getpid())),
      std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "calls.txt"));  // nothing was measured
}

// A job named "." had checkpoints/ itself as its checkpoint directory.
TEST_F(RunCommand, AJobNamedDotIsRefusedBeforeAnythingIsWritten) {
  std::ofstream(dir_ / "dot.yaml")
      << "jobs:\n  - {name: \".\", model: gpt2-tiny, lr: 1e-3, batch_size: 8, steps: 30, gpus: 1,\n"
         "     techniques: fake, data: {format: synthetic-text, seq_len: 32, samples: 64}}\n";
  const auto r = run_saturn("run " + (dir_ / "dot.yaml").string() + " --dir " +
                            (dir_ / "run").string() + " --cpu-slots 2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("dot.yaml:2: jobs[0].name: \".\" is not a job name"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

// `saturn status` on a run directory the user may only read failed ("attempt to write a
// readonly database"), and a run whose orchestrator was killed still said `running`. As root the
// command runs as nobody (setpriv); otherwise the directory is made read-only.
TEST_F(RunCommand, StatusReadsARunItMayNotWriteAndSaysWhatWasInterrupted) {
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  {
    auto lock = saturn::RunLock::acquire(run.string());  // as a run leaves it: released
    ASSERT_TRUE(lock.ok());
    auto store = saturn::RunStore::open((run / "saturn.db").string());
    ASSERT_TRUE(store.ok());
    saturn::JobRecord done, running;
    done.name = "finished";
    done.state = saturn::JobStatus::kDone;
    running.name = "cut-short";
    running.state = saturn::JobStatus::kRunning;
    running.step = 7;
    ASSERT_TRUE((*store)->put_job(done).ok());
    ASSERT_TRUE((*store)->put_job(running).ok());
  }
  std::string prefix;
  if (::geteuid() == 0) {
    if (std::system("setpriv --reuid=65534 --regid=65534 --clear-groups true") != 0) {
      GTEST_SKIP() << "setpriv cannot switch to nobody here";
    }
    prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  } else {
    for (const auto& e : fs::recursive_directory_iterator(run)) {
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::remove);
    }
    fs::permissions(run, fs::perms::owner_write, fs::perm_options::remove);
  }
  const std::string command = prefix + SATURN_CLI_PATH + " status " + run.string() + " --json 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = ::pclose(pipe);
  fs::permissions(run, fs::perms::owner_write, fs::perm_options::add);
  ASSERT_EQ(WEXITSTATUS(status), 0) << output;
  const auto doc = nlohmann::json::parse(output, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << output;
  ASSERT_EQ(doc["jobs"].size(), 2u);
  EXPECT_EQ(doc["jobs"][0]["state"], "done");
  EXPECT_EQ(doc["jobs"][1]["state"], "interrupted");
  EXPECT_EQ(doc["jobs"][1]["step"], 7);
}

// After a finished job's steps and learning rate were edited in place, a rerun reported it done
// with the old spec while rewriting its job file to the new one. It is now a new job: the run
// says what changed, keeps the old checkpoints aside and trains it again.
TEST_F(RunCommand, AnEditedJobIsTrainedAgainAndItsOldCheckpointsKept) {
  const auto write = [&](const std::string& lr, int steps) {
    std::ofstream(dir_ / "one.yaml")
        << "jobs:\n  - {name: j, model: gpt2-tiny, lr: " << lr
        << ", batch_size: 8, steps: " << steps
        << ", gpus: 1,\n     techniques: fake, data: {format: synthetic-text, seq_len: 32, "
           "samples: 64}}\n";
  };
  const std::string command = "run " + (dir_ / "one.yaml").string() + " --dir " +
                              (dir_ / "run").string() + " --cpu-slots 2 --checkpoint-interval 0.1";
  write("1.0e-3", 30);
  auto r = run_saturn(command);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_saturn(command);  // unchanged: nothing to do
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("launch j"), std::string::npos) << r.output;
  write("3.0e-4", 40);
  r = run_saturn(command);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("job j changed since the last run here (lr 0.001 -> 0.0003; steps 30 -> "
                          "40): it trains again from step 0; its earlier checkpoints are kept in "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("launch j"), std::string::npos) << r.output;
  bool kept = false;
  for (const auto& e : fs::directory_iterator(dir_ / "run" / "superseded")) {
    kept |= e.path().filename().string().rfind("j@", 0) == 0 && fs::exists(e.path() / "step");
  }
  EXPECT_TRUE(kept);
  const nlohmann::json now = status();
  EXPECT_EQ(now["jobs"][0]["state"], "done");
  EXPECT_EQ(now["jobs"][0]["launches"], 1);  // counted afresh
}

// What cannot be written exits 3, as the README says (a full disk and an unwritable run
// directory once exited 2, like bad input). The disk fills at 24 blocks (ulimit -f: 12 KiB in
// dash's 512-byte blocks, 24 KiB in bash's), SIGXFSZ ignored so that the write fails instead of
// killing the process.
TEST_F(RunCommand, AFullDiskOrAnUnwritableRunDirectoryExitsThree) {
  const std::string workload = (dir_ / "w.yaml").string();
  const auto shell = [](const std::string& command) {
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    saturn::testing::CommandResult r;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe)) r.output += buffer;
    const int status = ::pclose(pipe);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  };
  auto full = shell("trap '' XFSZ; ulimit -f 24; exec " + std::string(SATURN_CLI_PATH) + " run " +
                    workload + " --dir " + (dir_ / "full").string() + " --cpu-slots 2");
  EXPECT_EQ(full.code, 3) << full.output;
  fs::create_directories(dir_ / "locked");
  std::string as_other;
  if (::geteuid() == 0) {
    if (std::system("setpriv --reuid=65534 --regid=65534 --clear-groups true") != 0) {
      GTEST_SKIP() << "setpriv cannot switch to nobody here";
    }
    as_other = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  } else {
    fs::permissions(dir_ / "locked", fs::perms::owner_write, fs::perm_options::remove);
  }
  auto locked = shell(as_other + SATURN_CLI_PATH + " run " + workload + " --dir " +
                      (dir_ / "locked").string() + " --cpu-slots 2");
  fs::permissions(dir_ / "locked", fs::perms::owner_write, fs::perm_options::add);
  EXPECT_EQ(locked.code, 3) << locked.output;
  EXPECT_NE(locked.output.find("Permission denied"), std::string::npos) << locked.output;
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
