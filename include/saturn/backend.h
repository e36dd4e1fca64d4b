// Where Saturn's worker processes run. A Backend starts a process from an argument vector
// (never through a shell) with extra environment variables, optionally pinned to CPU cores,
// its stdout a pipe the orchestrator reads JSON-line events from and its stderr appended to a
// log file. The local backend (this machine) is the one implementation today; a cluster
// scheduler's comes next behind the same interface.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "saturn/error.h"

namespace saturn {

struct ProcessSpec {
  std::vector<std::string> argv;           // argv[0]: a path, or a name looked up in PATH
  std::map<std::string, std::string> env;  // set on top of the orchestrator's environment
  std::vector<int> cpus;                   // cores to pin the process to; empty: any
  std::string stderr_path;                 // appended to; empty: the orchestrator's stderr
};

// A started process. Owned by the caller; destroying it kills the process if it still runs.
class Process {
 public:
  virtual ~Process() = default;
  virtual int pid() const = 0;
  // Complete stdout lines that have arrived, without their newline; never blocks. After the
  // process closes stdout, a last unterminated line is returned too.
  virtual std::vector<std::string> read_lines() = 0;
  // The exit status once the process has exited: the exit code, or 128 + the signal that killed
  // it; nullopt while it runs. Never blocks. What it wrote before exiting is then in
  // read_lines(); anything it started and left behind in its process group is killed.
  virtual std::optional<int> poll_exit() = 0;
  // Sends `signal` to the process and everything it started (its process group).
  virtual void signal(int signal) = 0;
  // The file descriptor to poll for stdout, -1 after EOF.
  virtual int stdout_fd() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Errors: the program cannot be found or started (names argv[0]), a log file that cannot be
  // opened.
  virtual Result<std::unique_ptr<Process>> start(const ProcessSpec& spec) = 0;
};

// Processes on this machine (fork + execvp), each in its own process group.
std::unique_ptr<Backend> local_backend();

// Waits until one of `processes` has stdout to read or has exited, or `timeout_s` passes.
void wait_for_any(const std::vector<Process*>& processes, double timeout_s);

}  // namespace saturn
