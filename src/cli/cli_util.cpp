// Helpers shared by the `saturn` subcommands; see cli_util.h.
#include "cli/cli_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "saturn/atomic_file.h"

namespace saturn::cli {

std::string hms(double seconds) {
  const long s = std::lround(seconds);
  return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

std::string gpu_ranges(const std::vector<int>& gpus) {
  std::string out;
  for (size_t i = 0; i < gpus.size();) {
    size_t j = i;
    while (j + 1 < gpus.size() && gpus[j + 1] == gpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += j > i ? fmt::format("{}-{}", gpus[i], gpus[j]) : fmt::format("{}", gpus[i]);
    i = j + 1;
  }
  return out;
}

}  // namespace saturn::cli

namespace saturn::cli {

std::string worker_path() {
  if (const char* w = std::getenv("SATURN_WORKER"); w && *w) return w;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "saturn-worker";
  return (self.parent_path() / "saturn-worker").string();
}

}  // namespace saturn::cli

namespace saturn::cli {

Result<LocalSetup> local_setup(const std::string& library_dir) {
  LocalSetup setup;
  setup.backend = local_backend();
  setup.worker = worker_path();
  auto info = query_worker(*setup.backend, setup.worker);
  if (!info) return info.error();
  setup.info = *info;
  auto library = Library::open(library_dir, info->techniques);
  if (!library) return library.error();
  setup.library = std::move(*library);
  return setup;
}

}  // namespace saturn::cli
