// Small helpers shared by the `saturn` subcommands: time and GPU-list formatting. Internal to
// src/cli/.
#pragma once

#include <string>
#include <vector>

#include <memory>

#include <CLI/CLI.hpp>

#include "formats/common.h"
#include "saturn/atomic_file.h"
#include "saturn/backend.h"
#include "saturn/error.h"
#include "saturn/library.h"
#include "saturn/trial_runner.h"

namespace saturn::cli {

// Seconds as h:mm:ss (hours unbounded; formats/common.h).
using formats::hms;

// Prints "saturn COMMAND: <error>" and returns the exit code for it: 3 when something could not
// be written (ErrorKind::kWrite), 2 otherwise.
int fail(const char* command, const Error& error);

// Device indices as compact ranges: "0-3,6".
std::string gpu_ranges(const std::vector<int>& gpus);

// Option checks that name what is wrong in words (CLI11's own let NaN through, and print the
// range's bounds in full: 309 digits for the largest double).
// A finite number > 0 (seconds, shares).
extern const CLI::Validator kPositiveFinite;
// A finite number >= 0.
extern const CLI::Validator kNonNegativeFinite;
// A share: in [0, 1], or in [0, 1) (an error bound).
extern const CLI::Validator kShare;
extern const CLI::Validator kShareBelowOne;
// A whole number >= 0 written without a sign (seeds, counts).
extern const CLI::Validator kUnsigned;

// Prints the one-line progress of a long step: redrawn in place on a terminal, else a log line
// whenever the line changes (not on every tick). The text before " running" decides "changes".
class ProgressPrinter {
 public:
  ProgressPrinter();
  void operator()(const std::string& line, bool final);

 private:
  bool tty_;
  std::string last_;
};

}  // namespace saturn::cli

namespace saturn::cli {

// saturn-worker's path: $SATURN_WORKER, else `saturn-worker` beside this executable.
std::string worker_path();

// What `saturn profile` and `saturn run` start from: this machine's process backend, the worker
// (asked for its built-ins and devices) and the technique library in `library_dir`.
struct LocalSetup {
  std::unique_ptr<Backend> backend;
  std::string worker;
  WorkerInfo info;
  Library library;
};
Result<LocalSetup> local_setup(const std::string& library_dir);

}  // namespace saturn::cli
