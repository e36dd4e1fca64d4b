// Small helpers shared by the `saturn` subcommands: time and GPU-list formatting, atomic text
// output. Internal to src/cli/.
#pragma once

#include <string>
#include <vector>

#include "saturn/error.h"

namespace saturn::cli {

// Seconds as h:mm:ss (hours unbounded).
std::string hms(double seconds);

// GPU indices as compact ranges: "0-3,6".
std::string gpu_ranges(const std::vector<int>& gpus);

// Writes `text` to `path` atomically: a temporary file beside it, then rename.
Status write_text_atomically(const std::string& path, const std::string& text);

}  // namespace saturn::cli
