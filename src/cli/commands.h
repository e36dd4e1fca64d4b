// Subcommands of the `saturn` executable. Each registers its options on the CLI11 app and
// returns the process exit code when run (docs/cli.md):
//   0 success, 1 no plan could be found, 2 bad input or usage, 3 an output could not be written.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace saturn::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNoPlan = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitWriteFailed = 3;
inline constexpr int kExitJobsFailed = 4;  // run: some jobs failed; profile: some fit nowhere
inline constexpr int kExitStopped = 10;    // run: stopped on request (run again to resume)

// Registers `saturn plan` on `app`; `run` is set to the function that executes it.
void add_plan_command(CLI::App& app, std::function<int()>& run);
// Registers `saturn simulate` (src/cli/simulate_command.cpp).
void add_simulate_command(CLI::App& app, std::function<int()>& run);
// Registers `saturn estimate` (src/cli/estimate_command.cpp).
void add_estimate_command(CLI::App& app, std::function<int()>& run);
// Registers `saturn library` (src/cli/library_command.cpp).
void add_library_command(CLI::App& app, std::function<int()>& run);
// Registers `saturn profile` (src/cli/profile_command.cpp).
void add_profile_command(CLI::App& app, std::function<int()>& run);
// Registers `saturn run` and `saturn status` (src/cli/run_command.cpp).
void add_run_command(CLI::App& app, std::function<int()>& run);
// Registers `saturn export` (src/cli/export_command.cpp).
void add_export_command(CLI::App& app, std::function<int()>& run);

}  // namespace saturn::cli
