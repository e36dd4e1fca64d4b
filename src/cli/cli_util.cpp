// Helpers shared by the `saturn` subcommands; see cli_util.h.
#include "cli/cli_util.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

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

Status write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error{path, 0, "", "cannot open for writing"};
    out << text;
    out.flush();
    if (!out) return Error{path, 0, "", "write failed"};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error{path, 0, "", "cannot rename the temporary file into place"};
  }
  return Status::Ok();
}

}  // namespace saturn::cli
