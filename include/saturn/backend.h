// Where Saturn's worker processes run. The executor and the Trial Runner ask a Backend to start a
// process on a node of the cluster, read its events, signal it and learn how it ended; where and
// how the process really runs is the backend's business.
//
// The contract every backend keeps:
//   - start() runs argv directly (never through a shell), with `env` on top of the
//     orchestrator's environment, on `node` (a node the backend knows; it refuses others), on
//     the cores `cpus` where the backend can pin, its stderr appended to `stderr_path`.
//   - Events: read_lines() returns the process's JSON-line output (docs/worker-protocol.md) in
//     the order it was written, each line once; a line is only returned whole. How lines travel
//     (a pipe here; files on a shared file system for a cluster scheduler) is hidden.
//   - poll_exit() reports the exit once; after it, read_lines() has returned or will return every
//     line the process wrote. The process and everything it started are gone by then.
//   - signal() reaches the process and everything it started (a launcher's ranks).
//   - What outlives the orchestrator: the local backend's processes get SIGTERM when the
//     orchestrator dies (they checkpoint and stop; a worker ignores a closed event stream). A
//     backend whose processes can outlive it must say so; Saturn's run lock (executor.h) keeps a
//     second orchestrator off the run directory while any of them runs.
//   - wait() blocks until some process has something to read or has exited, or the timeout
//     passes; now_s() is the clock the run's times come from (Unix seconds). Both are the
//     backend's so that a test backend can run processes on a virtual clock.
// A Backend is used from one thread.
#pragma once

#include <functional>
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
  std::string node;                        // where it runs; empty: the backend's only node
};

// A started process. Owned by the caller; destroying it kills the process if it still runs.
class Process {
 public:
  virtual ~Process() = default;
  // An identifier for logs (the local pid).
  virtual int pid() const = 0;
  // Complete output lines that have arrived, without their newline; never blocks. After the
  // process closes its output, a last unterminated line is returned too.
  virtual std::vector<std::string> read_lines() = 0;
  // The exit status once the process has exited: the exit code, or 128 + the signal that killed
  // it; nullopt while it runs. Never blocks. What it wrote before exiting is then in
  // read_lines(); anything it started and left behind is killed.
  virtual std::optional<int> poll_exit() = 0;
  // Sends `signal` to the process and everything it started.
  virtual void signal(int signal) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Errors: the program cannot be found or started (names argv[0]), a log file that cannot be
  // opened, a node the backend does not have.
  virtual Result<std::unique_ptr<Process>> start(const ProcessSpec& spec) = 0;
  // Waits until one of `processes` (started by this backend) has output to read or has exited,
  // or `timeout_s` passes.
  virtual void wait(const std::vector<Process*>& processes, double timeout_s) = 0;
  // Seconds since the Unix epoch on the clock the run is timed with.
  virtual double now_s();
};

// One look at running processes, the loop the executor and the Trial Runner share: waits (through
// `backend`) up to `timeout_s` for any of `running` to have output or exit, then hands each
// process's complete lines, in order, to on_line(i, line) and, once it has exited, its exit
// status to on_exit(i, code), after its last lines. Stops at the first error a callback returns.
Status watch_processes(Backend& backend, const std::vector<Process*>& running, double timeout_s,
                       const std::function<Status(std::size_t, const std::string&)>& on_line,
                       const std::function<Status(std::size_t, int)>& on_exit);

// Processes on this machine (fork + execvp), each in its own process group, output through a
// pipe. Its one node is "local" (an empty node name means it too).
std::unique_ptr<Backend> local_backend();

}  // namespace saturn
