// `saturn library list|show|add|remove`: the techniques Saturn may choose from (saturn-worker's
// built-ins and registered manifests, saturn/library.h), in the library directory
// (SATURN_LIBRARY_PATH, or --library).
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "saturn/backend.h"
#include "saturn/library.h"
#include "saturn/trial_runner.h"

namespace saturn::cli {
namespace {

struct LibraryArgs {
  std::string dir;
  std::string name;  // show, remove
  std::string path;  // add
};

// The library with saturn-worker's built-ins when the worker answers (a warning otherwise).
Result<Library> open_library(const std::string& dir) {
  std::vector<std::string> builtins;
  auto backend = local_backend();
  auto info = query_worker(*backend, worker_path());
  if (info) {
    builtins = info->techniques;
  } else {
    fmt::print(stderr, "saturn library: warning: no built-in techniques: {}\n",
               info.error().to_string());
  }
  return Library::open(dir, builtins);
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    const bool quote = a.find_first_of(" \t\"'") != std::string::npos || a.empty();
    out += (out.empty() ? "" : " ") + (quote ? "'" + a + "'" : a);
  }
  return out;
}

int run_list(const LibraryArgs& a) {
  auto lib = open_library(a.dir);
  if (!lib) {
    fmt::print(stderr, "saturn library: {}\n", lib.error().to_string());
    return kExitBadInput;
  }
  fmt::print("library: {}\n", lib->dir());
  for (const TechniqueManifest& t : lib->techniques()) {
    fmt::print("  {:<16} {:<9} {}\n", t.name, t.builtin ? "built-in" : "manifest", t.description);
  }
  return kExitOk;
}

int run_show(const LibraryArgs& a) {
  auto lib = open_library(a.dir);
  if (!lib) {
    fmt::print(stderr, "saturn library: {}\n", lib.error().to_string());
    return kExitBadInput;
  }
  const TechniqueManifest* t = lib->find(a.name);
  if (!t) {
    fmt::print(stderr, "saturn library: no technique \"{}\" in {}\n", a.name, lib->dir());
    return kExitBadInput;
  }
  fmt::print("name:        {}\nsource:      {}\ndescription: {}\n", t->name, t->source,
             t->description);
  if (t->max_gpus > 0) fmt::print("max_gpus:    {}\n", t->max_gpus);
  if (!t->dir.empty()) fmt::print("dir:         {}\n", t->dir);
  fmt::print("search:      {}\nexecute:     {}\n", command_text(t->search),
             command_text(t->execute));
  return kExitOk;
}

int run_add(const LibraryArgs& a) {
  auto lib = open_library(a.dir);
  if (!lib) {
    fmt::print(stderr, "saturn library: {}\n", lib.error().to_string());
    return kExitBadInput;
  }
  auto added = lib->add(a.path);
  if (!added) {
    fmt::print(stderr, "saturn library: {}\n", added.error().to_string());
    return kExitBadInput;
  }
  fmt::print("added {} to {} ({})\n", added->name, lib->dir(), added->source);
  return kExitOk;
}

int run_remove(const LibraryArgs& a) {
  auto lib = open_library(a.dir);
  if (!lib) {
    fmt::print(stderr, "saturn library: {}\n", lib.error().to_string());
    return kExitBadInput;
  }
  if (auto s = lib->remove(a.name); !s) {
    fmt::print(stderr, "saturn library: {}\n", s.error().to_string());
    return kExitBadInput;
  }
  fmt::print("removed {} from {}\n", a.name, lib->dir());
  return kExitOk;
}

}  // namespace

void add_library_command(CLI::App& app, std::function<int()>& run) {
  auto args = std::make_shared<LibraryArgs>();
  CLI::App* cmd = app.add_subcommand("library", "List, show, add or remove techniques");
  cmd->require_subcommand(1);
  cmd->add_option("--library", args->dir,
                  "Library directory (default: SATURN_LIBRARY_PATH or "
                  "~/.local/share/saturn/library)");
  CLI::App* list = cmd->add_subcommand("list", "Every technique, built-in and registered");
  list->callback([&run, args] { run = [args] { return run_list(*args); }; });
  CLI::App* show = cmd->add_subcommand("show", "One technique's manifest");
  show->add_option("name", args->name, "Technique name")->required();
  show->callback([&run, args] { run = [args] { return run_show(*args); }; });
  CLI::App* add = cmd->add_subcommand("add", "Register a technique manifest (YAML)");
  add->add_option("manifest", args->path, "Manifest file")->required();
  add->callback([&run, args] { run = [args] { return run_add(*args); }; });
  CLI::App* remove = cmd->add_subcommand("remove", "Unregister a technique");
  remove->add_option("name", args->name, "Technique name")->required();
  remove->callback([&run, args] { run = [args] { return run_remove(*args); }; });
  cmd->callback([args] {
    if (args->dir.empty()) args->dir = Library::default_dir();
  });
}

}  // namespace saturn::cli
