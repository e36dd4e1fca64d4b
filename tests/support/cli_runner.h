// Runs the built `saturn` binary for end-to-end command tests, and finds shipped examples.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace saturn::testing {

struct CommandResult {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `saturn <args>` (args already shell-quoted where needed) and waits for it.
CommandResult run_saturn(const std::string& args);

// Starts `saturn <args>` without waiting, stdout and stderr to `log`; returns its pid.
pid_t start_saturn(const std::vector<std::string>& args, const std::filesystem::path& log);

// Absolute path of examples/<name> in the source tree.
std::string example(const std::string& name);

// A fresh, empty directory under the test temp directory.
std::filesystem::path fresh_temp_dir(const std::string& name);

}  // namespace saturn::testing
