// The local backend: argument vectors without a shell, stdout lines, exit codes and signals,
// environment, CPU pinning, stderr logs, and a clear error for a missing program.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "saturn/backend.h"

namespace saturn {
namespace {

struct Finished {
  std::vector<std::string> lines;
  int code = -1;
};

Finished run_to_end(Backend& backend, Process& p, double limit_s = 20) {
  Finished f;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    for (auto& l : p.read_lines()) f.lines.push_back(l);
    if (auto code = p.poll_exit()) {
      for (auto& l : p.read_lines()) f.lines.push_back(l);
      f.code = *code;
      return f;
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit_s) {
      return f;
    }
    backend.wait({&p}, 0.1);
  }
}

TEST(LocalBackend, ReadsLinesAndTheExitCodeWithoutAShell) {
  auto backend = local_backend();
  // "$X; exit 3" reaches sh as one argument: no shell splits our arguments.
  auto p = backend->start({{"sh", "-c", "echo one; printf 'two\\nthree'; exit 3"}, {}, {}, "", ""});
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  const Finished f = run_to_end(*backend, **p);
  EXPECT_EQ(f.code, 3);
  EXPECT_EQ(f.lines, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(LocalBackend, ArgumentsAreNotInterpreted) {
  auto backend = local_backend();
  auto p = backend->start({{"printf", "%s\\n", "$(echo no); rm -rf /nonexistent"}, {}, {}, "", ""});
  ASSERT_TRUE(p.ok());
  const Finished f = run_to_end(*backend, **p);
  EXPECT_EQ(f.code, 0);
  EXPECT_EQ(f.lines, (std::vector<std::string>{"$(echo no); rm -rf /nonexistent"}));
}

TEST(LocalBackend, EnvironmentPinningAndStderrLog) {
  const auto log = std::filesystem::path(::testing::TempDir()) / "saturn_backend_stderr.log";
  std::filesystem::remove(log);
  auto backend = local_backend();
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo \"$SATURN_TEST_VALUE\"; nproc; echo oops >&2"};
  spec.env["SATURN_TEST_VALUE"] = "forty two";
  spec.cpus = {0};
  spec.stderr_path = log.string();
  auto p = backend->start(spec);
  ASSERT_TRUE(p.ok());
  const Finished f = run_to_end(*backend, **p);
  EXPECT_EQ(f.code, 0);
  ASSERT_EQ(f.lines.size(), 2u);
  EXPECT_EQ(f.lines[0], "forty two");
  EXPECT_EQ(f.lines[1], "1");  // pinned to one core
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "oops\n");
}

TEST(LocalBackend, ASignalIsExitCode128PlusTheSignal) {
  auto backend = local_backend();
  auto p = backend->start({{"sleep", "30"}, {}, {}, "", ""});
  ASSERT_TRUE(p.ok());
  (*p)->signal(SIGKILL);
  const Finished f = run_to_end(*backend, **p);
  EXPECT_EQ(f.code, 128 + SIGKILL);
}

// True when `pid` is gone or a zombie (killed, not yet reaped by its new parent).
bool dead(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (text.empty()) return true;
  const std::size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

TEST(LocalBackend, WhatAProcessLeavesBehindInItsGroupDiesWithIt) {
  auto backend = local_backend();
  auto p = backend->start({{"sh", "-c", "sleep 30 & echo $!; exit 7"}, {}, {}, "", ""});
  ASSERT_TRUE(p.ok());
  const Finished f = run_to_end(*backend, **p);
  EXPECT_EQ(f.code, 7);
  ASSERT_EQ(f.lines.size(), 1u);
  const int orphan = std::stoi(f.lines[0]);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = dead(orphan);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "pid " << orphan;
}

TEST(LocalBackend, AMissingProgramIsAnErrorNamingIt) {
  auto backend = local_backend();
  auto p = backend->start({{"/nonexistent/saturn-technique", "search"}, {}, {}, "", ""});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().to_string().find("/nonexistent/saturn-technique"), std::string::npos);
  EXPECT_NE(p.error().to_string().find("No such file"), std::string::npos) << p.error().to_string();
}

TEST(LocalBackend, DestroyingARunningProcessKillsIt) {
  auto backend = local_backend();
  int pid = 0;
  {
    auto p = backend->start({{"sleep", "30"}, {}, {}, "", ""});
    ASSERT_TRUE(p.ok());
    pid = (*p)->pid();
  }
  EXPECT_NE(::kill(pid, 0), 0);  // gone and reaped
}

}  // namespace
}  // namespace saturn
