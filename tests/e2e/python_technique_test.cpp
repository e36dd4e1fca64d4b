// A technique written by a user, for real (docs/running.md#the-parallelism-library): the PyTorch
// program examples/techniques/torch-ddp is registered with `saturn library add` and trains jobs
// through `saturn run` — profiled by its own `search`, trained by its own `execute` on two CPU
// ranks, checkpoints written in saturn-worker's format (which the real saturn-worker then
// resumes), and a run stopped with SIGINT resuming from the checkpoint its worker wrote.
//
// The manifest runs `python3` from the PATH; Debian's python3-torch is for /usr/bin/python3, so
// the tests put /usr/bin first (a pyenv or virtual-environment python3 earlier on the PATH may
// lack torch). Skipped when /usr/bin/python3 cannot import torch (scripts/install-deps.sh
// installs python3-torch unless SATURN_NO_TORCH=1).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
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

const char* const kPython = "/usr/bin/python3";

bool python_imports(const std::string& modules) {
  const std::string command = std::string(kPython) + " -c 'import " + modules + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The environment the tests run saturn in: a library of their own, the real saturn-worker, and
// Debian's python3 first on the PATH. Restored afterwards.
class PythonTechnique : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_imports("torch, numpy")) {
      GTEST_SKIP() << kPython << " cannot import torch and numpy: apt-get install python3-torch "
                   << "(scripts/install-deps.sh does)";
    }
    const char* path = std::getenv("PATH");
    old_path_ = path ? path : "";
    ::setenv("PATH", ("/usr/bin:" + old_path_).c_str(), 1);
    ::setenv("SATURN_WORKER", SATURN_WORKER_PATH, 1);
    changed_env_ = true;
  }
  void TearDown() override {
    if (!changed_env_) return;
    ::setenv("PATH", old_path_.c_str(), 1);
    ::unsetenv("SATURN_WORKER");
    ::unsetenv("SATURN_LIBRARY_PATH");
  }

  // Registers the shipped manifest in `dir`/library.
  void register_technique(const fs::path& dir) {
    ::setenv("SATURN_LIBRARY_PATH", (dir / "library").c_str(), 1);
    const auto add = run_saturn("library add " +
                                saturn::testing::example("techniques/torch-ddp/torch-ddp.yaml"));
    ASSERT_EQ(add.code, 0) << add.output;
    const auto list = run_saturn("library list");
    ASSERT_EQ(list.code, 0) << list.output;
    ASSERT_NE(list.output.find("torch-ddp"), std::string::npos) << list.output;
  }

  std::string old_path_;
  bool changed_env_ = false;
};

nlohmann::json only_job(const fs::path& run) {
  const auto r = run_saturn("status " + run.string() + " --json");
  const auto doc = nlohmann::json::parse(r.output, nullptr, false);
  if (doc.is_discarded() || !doc.contains("jobs") || doc["jobs"].size() != 1) return {};
  return doc["jobs"][0];
}

// The checkpoint LATEST names in `checkpoints` ("" when none).
std::string latest(const fs::path& checkpoints) {
  std::string name = read_file(checkpoints / "LATEST");
  name.erase(name.find_last_not_of(" \n") + 1);
  return name;
}

// What the real saturn-worker prints when it resumes `job_file`'s job from `checkpoints`.
std::vector<nlohmann::json> worker_resume_events(const std::string& job_file,
                                                 const fs::path& checkpoints) {
  const std::string command = std::string(SATURN_WORKER_PATH) + " execute --job " + job_file +
                              " --technique single --devices cpu --checkpoint " +
                              checkpoints.string() + " 2>/dev/null";
  std::vector<nlohmann::json> events;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return events;
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    auto e = nlohmann::json::parse(line, nullptr, false);
    if (!e.is_discarded()) events.push_back(e);
  }
  return events;
}

TEST_F(PythonTechnique, RegisteredTechniqueTrainsOnTwoRanksWithCheckpointsSaturnWorkerResumes) {
  const fs::path dir = saturn::testing::fresh_temp_dir("python_technique");
  register_technique(dir);
  std::ofstream(dir / "w.yaml")
      << "jobs:\n  - name: gpt\n    model: gpt2-tiny\n"
         "    data: {path: "
      << saturn::testing::example("data/saturn-docs.txt")
      << ", format: text, seq_len: 64}\n"
         "    lr: 3.0e-3\n    weight_decay: 0.1\n    warmup_steps: 5\n    grad_clip: 1.0\n"
         "    batch_size: 16\n    steps: 60\n    eval_every: 30\n"
         "    gpus: 2\n    techniques: torch-ddp\n";
  const fs::path run = dir / "run";
  const auto r = run_saturn("run " + (dir / "w.yaml").string() + " --dir " + run.string() +
                            " --cpu-slots 2 --checkpoint-interval 1");
  ASSERT_EQ(r.code, 0) << r.output << read_file(run / "logs" / "gpt.log");
  EXPECT_NE(r.output.find("launch gpt (torch-ddp x2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 done, 0 failed"), std::string::npos) << r.output;

  const nlohmann::json job = only_job(run);
  ASSERT_FALSE(job.is_null()) << r.output;
  EXPECT_EQ(job["state"], "done");
  EXPECT_EQ(job["technique"], "torch-ddp");
  EXPECT_EQ(job["step"], 60);
  EXPECT_EQ(job["total_steps"], 60);
  const double initial = std::log(256.0);  // a byte-level model's loss before training
  ASSERT_TRUE(job["loss"].is_number()) << job.dump();
  ASSERT_TRUE(job["eval_loss"].is_number()) << job.dump();
  EXPECT_TRUE(std::isfinite(job["loss"].get<double>()));
  EXPECT_LT(job["loss"].get<double>(), 0.7 * initial) << job.dump();
  EXPECT_LT(job["eval_loss"].get<double>(), 0.75 * initial) << job.dump();

  // The checkpoint at the end, in saturn-worker's layout (checksums when xxhash is there).
  const fs::path checkpoints = run / "checkpoints" / "gpt";
  ASSERT_EQ(latest(checkpoints), "step-00000060");
  const fs::path last = checkpoints / "step-00000060";
  for (const char* file : {"model.safetensors", "optimizer.safetensors", "trainer.json"}) {
    EXPECT_TRUE(fs::exists(last / file)) << file;
  }
  const auto trainer = nlohmann::json::parse(read_file(last / "trainer.json"), nullptr, false);
  ASSERT_FALSE(trainer.is_discarded());
  EXPECT_EQ(trainer["step"], 60);
  EXPECT_EQ(trainer["world_size"], 2);
  if (python_imports("xxhash")) {
    EXPECT_TRUE(fs::exists(last / "checksums.xxh128"));
  }

  // Checkpoints are technique-independent: the built-in `single` resumes this one, verified.
  fs::copy(checkpoints, dir / "copy", fs::copy_options::recursive);
  const auto events = worker_resume_events((run / "jobs" / "gpt.json").string(), dir / "copy");
  ASSERT_FALSE(events.empty());
  const nlohmann::json& started = events.front();
  EXPECT_EQ(started["event"], "started") << started.dump();
  EXPECT_EQ(started["resumed"], true) << started.dump();
  EXPECT_EQ(started["step"], 60) << started.dump();
  EXPECT_EQ(events.back()["event"], "done") << events.back().dump();
}

TEST_F(PythonTechnique, StoppedRunResumesFromTheCheckpointTheTechniqueWrote) {
  const fs::path dir = saturn::testing::fresh_temp_dir("python_technique_resume");
  register_technique(dir);
  std::ofstream(dir / "w.yaml") << "jobs:\n  - name: resumed\n    model: gpt2-tiny\n"
                                   "    data: {path: "
                                << saturn::testing::example("data/saturn-docs.txt")
                                << ", format: text, seq_len: 32}\n"
                                   "    lr: 3.0e-3\n    batch_size: 8\n    steps: 150\n"
                                   "    gpus: 1\n    techniques: torch-ddp\n";
  const fs::path run = dir / "run";
  // No periodic checkpoint within the test: the one that SIGTERM makes is the only one.
  const std::vector<std::string> args = {
      "run", (dir / "w.yaml").string(), "--dir", run.string(), "--cpu-slots",
      "1",   "--checkpoint-interval",   "3600"};
  const pid_t first = start_saturn(args, dir / "first.log");
  bool stepping = false;
  for (const auto t0 = Clock::now(); Clock::now() - t0 < std::chrono::seconds(120);) {
    const nlohmann::json j = only_job(run);
    if (!j.is_null() && j["state"] == "running" && j["step"].get<int>() > 5) {
      stepping = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  kill(first, SIGINT);  // every worker checkpoints and stops; saturn exits 10
  int status = 0;
  waitpid(first, &status, 0);
  ASSERT_TRUE(stepping) << read_file(dir / "first.log") << read_file(run / "logs" / "resumed.log");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 10) << read_file(dir / "first.log");
  EXPECT_EQ(only_job(run)["state"], "pending");
  const std::string saved = latest(run / "checkpoints" / "resumed");
  ASSERT_FALSE(saved.empty()) << read_file(run / "logs" / "resumed.log");
  const int saved_step = std::stoi(saved.substr(5));
  EXPECT_GT(saved_step, 5);
  EXPECT_LT(saved_step, 150);

  const auto second = run_saturn("run " + (dir / "w.yaml").string() + " --dir " + run.string() +
                                 " --cpu-slots 1 --checkpoint-interval 3600");
  ASSERT_EQ(second.code, 0) << second.output << read_file(run / "logs" / "resumed.log");
  EXPECT_NE(second.output.find("from its checkpoint at step " + std::to_string(saved_step)),
            std::string::npos)
      << second.output;
  // The technique's own word (its log): it loaded that checkpoint rather than starting over.
  const std::string log = read_file(run / "logs" / "resumed.log");
  EXPECT_NE(log.find("resumed from " + (run / "checkpoints" / "resumed" / saved).string() +
                     " at step " + std::to_string(saved_step)),
            std::string::npos)
      << log;
  const nlohmann::json job = only_job(run);
  EXPECT_EQ(job["state"], "done");
  EXPECT_EQ(job["step"], 150);
  ASSERT_TRUE(job["loss"].is_number()) << job.dump();
  EXPECT_TRUE(std::isfinite(job["loss"].get<double>()));
  EXPECT_LT(job["loss"].get<double>(), 0.7 * std::log(256.0)) << job.dump();
  EXPECT_EQ(latest(run / "checkpoints" / "resumed"), "step-00000150");
}

}  // namespace
