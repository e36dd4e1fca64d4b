// Entry point of `saturn`: parses the command line and runs one subcommand.
#include <cstdio>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Saturn: plans many deep-learning training jobs on a GPU cluster"};
  app.require_subcommand(1);
  std::function<int()> run;
  saturn::cli::add_plan_command(app, run);
  saturn::cli::add_simulate_command(app, run);
  saturn::cli::add_estimate_command(app, run);
  saturn::cli::add_library_command(app, run);
  saturn::cli::add_profile_command(app, run);
  saturn::cli::add_run_command(app, run);
  saturn::cli::add_export_command(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // "saturn simulate: --interval: 0 is not a finite number > 0": the command, then what.
    std::string command = "saturn";
    for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
    std::fprintf(stderr, "%s: %s\nRun with --help for more information.\n", command.c_str(),
                 e.what());
    return saturn::cli::kExitBadInput;
  }
  try {
    return run ? run() : saturn::cli::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "saturn: internal error: %s\n", e.what());
    return 70;
  }
}
