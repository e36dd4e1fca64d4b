// Helpers shared by the `saturn` subcommands; see cli_util.h.
#include "cli/cli_util.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "formats/common.h"
#include "saturn/atomic_file.h"

namespace saturn::cli {

namespace {

CLI::Validator number_check(const char* name, bool (*ok)(double), const char* want) {
  return CLI::Validator(
      [ok, want](std::string& text) -> std::string {
        const auto value = formats::parse_double(text);
        if (!value || !ok(*value)) return fmt::format("{} is not {}", text, want);
        return "";
      },
      name);
}

}  // namespace

const CLI::Validator kPositiveFinite = number_check(
    "NUMBER > 0", [](double v) { return std::isfinite(v) && v > 0; }, "a finite number > 0");
const CLI::Validator kNonNegativeFinite = number_check(
    "NUMBER >= 0", [](double v) { return std::isfinite(v) && v >= 0; }, "a finite number >= 0");
const CLI::Validator kShare = number_check(
    "SHARE", [](double v) { return v >= 0 && v <= 1; }, "a share in [0, 1]");
const CLI::Validator kShareBelowOne = number_check(
    "SHARE", [](double v) { return v >= 0 && v < 1; }, "a share in [0, 1)");
const CLI::Validator kUnsigned(
    [](std::string& text) -> std::string {
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
        return fmt::format("{} is not a whole number >= 0", text);
      }
      return "";
    },
    "UINT");

ProgressPrinter::ProgressPrinter() : tty_(::isatty(STDERR_FILENO) != 0) {}

void ProgressPrinter::operator()(const std::string& line, bool final) {
  const std::string key = line.substr(0, line.find(" running"));
  if (tty_) {
    fmt::print(stderr, "\r\033[K{}{}", line, final ? "\n" : "");
  } else if (final || key != last_) {
    fmt::print(stderr, "{}\n", line);
  }
  last_ = key;
}

int fail(const char* command, const Error& error) {
  fmt::print(stderr, "saturn {}: {}\n", command, error.to_string());
  return error.kind == ErrorKind::kWrite ? 3 : 2;
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
