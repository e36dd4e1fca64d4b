// `saturn export RUN_DIR JOB [--out DIR] [--shard-bytes N]`: a job's newest checkpoint written
// as a Hugging Face directory (saturn/job_export.h; docs/fine-tuning.md#exporting).
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "saturn/job_export.h"

namespace saturn::cli {
namespace {

struct ExportArgs {
  std::string run_dir;
  std::string job;
  std::string out;
  std::int64_t shard_bytes = ExportOptions{}.shard_bytes;
};

int run_export(const ExportArgs& a) {
  ExportOptions options;
  options.shard_bytes = a.shard_bytes;
  auto out = export_job(a.run_dir, a.job, a.out, options);
  if (!out) {
    fmt::print(stderr, "saturn export: {}\n", out.error().to_string());
    return out.error().kind == ErrorKind::kWrite ? kExitWriteFailed : kExitBadInput;
  }
  fmt::print("exported {} to {}\n", a.job, *out);
  return kExitOk;
}

}  // namespace

void add_export_command(CLI::App& app, std::function<int()>& run) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a job's trained model (its newest checkpoint) as a Hugging Face directory");
  cmd->add_option("run_dir", args->run_dir, "The run directory (saturn run --dir)")->required();
  cmd->add_option("job", args->job, "The job's name")->required();
  cmd->add_option("--out", args->out,
                  "Directory to write (must not exist or be empty; default RUN_DIR/models/JOB, "
                  "replaced)");
  cmd->add_option("--shard-bytes", args->shard_bytes,
                  "Largest safetensors file; larger models are sharded with an index")
      ->check(CLI::PositiveNumber);
  cmd->callback([&run, args] { run = [args] { return run_export(*args); }; });
}

}  // namespace saturn::cli
