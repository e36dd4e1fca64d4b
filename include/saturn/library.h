// The Parallelism Library: the techniques Saturn may choose from, each behind the papers'
// two-function template — `search` (find the technique's best settings for a job on N devices
// and measure them) and `execute` (train the job) — as command templates that speak the worker
// protocol (docs/worker-protocol.md). The built-ins are saturn-worker's; a user registers more
// with a manifest, so a technique can be any program (a PyTorch script under torchrun, say).
//
// Manifest (YAML, docs/library.md):
//   name: torch-fsdp                      # [a-z0-9][a-z0-9._-]*
//   description: PyTorch FSDP via torchrun
//   max_gpus: 8                           # optional: devices it can use at most
//   search:  [python3, "{dir}/fsdp.py", search, --job, "{job}", --devices, "{devices}"]
//   execute: [torchrun, --nproc-per-node, "{gpus}", "{dir}/fsdp.py", execute, --job, "{job}",
//             --params, "{params}", --steps, "{steps}", --checkpoint, "{checkpoint}"]
//
// Placeholders (whole arguments or parts of them): {job} (the one-job workload file), {devices}
// ("cpu:0,cpu:1" or "cuda:0,cuda:1"), {gpus} (device count), {params} (JSON of the settings
// search chose), {steps} (optimizer steps to run now, 0: to the end), {checkpoint} (the job's
// checkpoint directory), {checkpoint_every} (steps between checkpoints), {device_memory_bytes}
// (memory per device, 0: the whole device),
// {dir} (the manifest's directory), {worker} (saturn-worker's path).
//
// Registrations persist as one manifest file per technique in the library directory, shared by
// later runs and by other users who point SATURN_LIBRARY_PATH at it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "saturn/error.h"

namespace saturn {

struct TechniqueManifest {
  std::string name;
  std::string description;
  int max_gpus = 0;                  // 0: no limit
  std::vector<std::string> search;   // argument templates
  std::vector<std::string> execute;  // argument templates
  std::string source;                // the manifest file, or "saturn-worker" for built-ins
  std::string dir;                   // the manifest's directory ({dir}); empty for built-ins
  bool builtin = false;
};

// Parses a manifest; `dir` is what {dir} becomes. Errors name the file, line and field:
// unknown keys, a bad name, an empty command, an unknown placeholder.
Result<TechniqueManifest> parse_technique_manifest(std::string_view text, std::string_view source,
                                                   std::string_view dir);
Result<TechniqueManifest> load_technique_manifest(const std::string& path);

// The manifest of saturn-worker's built-in technique `name` (single, ddp, ...).
TechniqueManifest builtin_technique(const std::string& name);

// Fills a command template. `values` maps placeholder names (without braces) to their text.
std::vector<std::string> expand_command(const std::vector<std::string>& command,
                                        const std::map<std::string, std::string>& values);

class Library {
 public:
  // SATURN_LIBRARY_PATH, else $XDG_DATA_HOME/saturn/library, else ~/.local/share/saturn/library.
  static std::string default_dir();

  // Reads every *.yaml manifest in `dir` (a missing directory is an empty library) on top of the
  // built-ins named in `builtins`. Errors: an invalid manifest (named), a user technique with a
  // built-in's name.
  static Result<Library> open(const std::string& dir, const std::vector<std::string>& builtins);

  const std::string& dir() const { return dir_; }
  // Built-ins first, then user techniques by name.
  const std::vector<TechniqueManifest>& techniques() const { return techniques_; }
  const TechniqueManifest* find(std::string_view name) const;

  // Validates the manifest at `path` and stores a copy as dir/<name>.yaml (atomically; the
  // directory is created), replacing an earlier registration of the same name. The copy's {dir}
  // stays the original manifest's directory. Errors: an invalid manifest, a built-in's name, an
  // unwritable directory.
  Result<TechniqueManifest> add(const std::string& path);
  // Removes a user technique. Errors: unknown, or a built-in.
  Status remove(const std::string& name);

 private:
  std::string dir_;
  std::vector<TechniqueManifest> techniques_;
};

}  // namespace saturn
