// Shared by the tests that run saturn-worker as a process (worker_cli_test.cpp,
// techniques_across_processes_test.cpp): the run's events and exit code, and a small text job
// in a scratch directory.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "saturn/worker_protocol.h"

namespace saturn::worker {

namespace fs = std::filesystem;
using nlohmann::json;

struct WorkerRun {
  int code = -1;
  std::vector<json> events;
  std::vector<std::string> other;  // stdout lines that are not events (there must be none)

  const json* last(const std::string& name) const {
    const json* found = nullptr;
    for (const json& e : events) {
      if (e["event"] == name) found = &e;
    }
    return found;
  }
};

inline void collect(WorkerRun& run, const std::string& line) {
  auto e = protocol::parse_event_line(line);
  if (e.ok()) {
    run.events.push_back(*e);
  } else {
    run.other.push_back(line);
  }
}

// Runs saturn-worker with `args` (and `env`, "NAME=value ...", prefixed to the command).
inline WorkerRun worker(const std::string& args, const std::string& env = "") {
  WorkerRun run;
  const std::string command =
      env + (env.empty() ? "" : " ") + SATURN_WORKER_PATH + " " + args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[1 << 16];
  while (fgets(buffer, sizeof buffer, pipe)) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    collect(run, line);
  }
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Starts saturn-worker with `args` in a child process: stdout to `stdout_fd` (-1: /dev/null),
// stderr (the crash report's backtrace) to /dev/null, no core file on a fatal signal; the child
// closes `close_fd` (the parent's end of a pipe; -1: none). Returns the child's pid.
inline pid_t spawn_worker(const std::vector<std::string>& args, int stdout_fd, int close_fd) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int null = open("/dev/null", O_WRONLY);
  dup2(stdout_fd >= 0 ? stdout_fd : null, 1);
  if (close_fd >= 0) close(close_fd);
  if (null >= 0) dup2(null, 2);
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  std::vector<char*> argv{const_cast<char*>(SATURN_WORKER_PATH)};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(SATURN_WORKER_PATH, argv.data());
  _exit(127);
}

inline fs::path workdir() {
  const fs::path dir = fs::path(::testing::TempDir()) / "saturn_worker_cli";
  fs::create_directories(dir);
  std::ofstream(dir / "text.txt") << [] {
    std::string s;
    for (int i = 0; i < 300; ++i) s += "a small sweep of tiny models learns this sentence. ";
    return s;
  }();
  std::ofstream(dir / "job.yaml")
      << "name: cli\njobs:\n  - name: tiny\n    model: gpt2-tiny\n"
         "    data: {format: text, path: text.txt, seq_len: 32}\n"
         "    lr: 3e-3\n    batch_size: 8\n    steps: 12\n    eval_every: 6\n"
         "    gpus: [1, 2]\n    techniques: [single, ddp]\n";
  std::ofstream(dir / "long.yaml")  // runs until stopped
      << "jobs:\n  - name: long\n    model: gpt2-tiny\n"
         "    data: {format: text, path: text.txt, seq_len: 32}\n"
         "    lr: 3e-3\n    batch_size: 8\n    steps: 1000000\n    gpus: 1\n    techniques: "
         "single\n";
  std::ofstream(dir / "nodata.yaml")
      << "jobs:\n  - name: n\n    model: gpt2-tiny\n"
         "    data: {format: text, path: missing.txt, seq_len: 32}\n"
         "    lr: 3e-3\n    batch_size: 8\n    steps: 2\n    gpus: 1\n    techniques: single\n";
  return dir;
}

inline std::string job() {
  return "--job " + (workdir() / "job.yaml").string();
}

}  // namespace saturn::worker
