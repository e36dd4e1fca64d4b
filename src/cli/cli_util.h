// Small helpers shared by the `saturn` subcommands: time and GPU-list formatting. Internal to
// src/cli/.
#pragma once

#include <string>
#include <vector>

#include <memory>

#include "saturn/atomic_file.h"
#include "saturn/backend.h"
#include "saturn/error.h"
#include "saturn/library.h"
#include "saturn/trial_runner.h"

namespace saturn::cli {

// Seconds as h:mm:ss (hours unbounded).
std::string hms(double seconds);

// GPU indices as compact ranges: "0-3,6".
std::string gpu_ranges(const std::vector<int>& gpus);

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
