// Small helpers shared by the `saturn` subcommands: time and GPU-list formatting. Internal to
// src/cli/.
#pragma once

#include <string>
#include <vector>

#include "saturn/atomic_file.h"
#include "saturn/error.h"

namespace saturn::cli {

// Seconds as h:mm:ss (hours unbounded).
std::string hms(double seconds);

// GPU indices as compact ranges: "0-3,6".
std::string gpu_ranges(const std::vector<int>& gpus);

}  // namespace saturn::cli

namespace saturn::cli {

// saturn-worker's path: $SATURN_WORKER, else `saturn-worker` beside this executable.
std::string worker_path();

}  // namespace saturn::cli
