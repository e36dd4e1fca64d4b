// Runs a piece of work in a forked child process, so that a crash or a hang in it (a third-party
// solver's bug) costs its answer, not the caller. The child shares the parent's memory image
// copy-on-write; it returns its answer as bytes over a pipe and exits without running exit
// handlers. POSIX only.
#pragma once

#include <functional>
#include <string>

namespace saturn::solver {

struct ChildResult {
  std::string bytes;    // what `work` returned, when failure is empty
  std::string failure;  // e.g. "crashed (Segmentation fault)", "ran past its 12.0 s limit"
};

// Calls `work` in a child process and waits at most `limit_s` seconds of wall-clock time for
// its answer; a child still running then is killed. Standard streams are flushed before the
// fork and in the child before it exits, so output is neither lost nor duplicated.
ChildResult run_in_child(const std::function<std::string()>& work, double limit_s);

}  // namespace saturn::solver
