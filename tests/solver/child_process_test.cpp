// run_in_child: answers come back; a crash, a hang or a silent exit is a failure, never the
// caller's crash or hang.
#include "solver/child_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace saturn::solver {
namespace {

TEST(ChildProcess, ReturnsTheChildsAnswer) {
  std::string big(300000, 'x');  // larger than a pipe's buffer
  big[12345] = 'y';
  const ChildResult r = run_in_child([&] { return big; }, 30);
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.bytes, big);
}

TEST(ChildProcess, ACrashIsAFailure) {
  const ChildResult r = run_in_child([]() -> std::string { std::abort(); }, 30);
  EXPECT_NE(r.failure.find("crashed"), std::string::npos) << r.failure;
  EXPECT_TRUE(r.bytes.empty());
}

TEST(ChildProcess, AHangIsStoppedAtTheLimit) {
  const auto t0 = std::chrono::steady_clock::now();
  const ChildResult r = run_in_child(
      [] {
        std::this_thread::sleep_for(std::chrono::seconds(60));
        return std::string("late");
      },
      0.5);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.failure.find("limit"), std::string::npos) << r.failure;
  EXPECT_LT(waited, 10.0);
}

TEST(ChildProcess, AnExitWithoutAnswerIsAFailure) {
  const ChildResult r = run_in_child([]() -> std::string { ::_exit(3); }, 30);
  EXPECT_EQ(r.failure, "failed without an answer");
}

}  // namespace
}  // namespace saturn::solver
