// The GPU catalogue. Memory is what the device reports as total (nvidia-smi), in bytes; peak
// FLOP/s are the vendor's dense bf16 tensor-core figures (SXM parts).
#include "saturn/gpu_catalog.h"

#include <algorithm>
#include <cctype>

namespace saturn {
namespace {
constexpr double kMiB = 1024.0 * 1024.0;
}  // namespace

const std::vector<GpuSpec>& gpu_catalog() {
  static const std::vector<GpuSpec> catalog = {
      {"a100-40gb", 40960 * kMiB, 312e12},
      {"a100-80gb", 81920 * kMiB, 312e12},
      {"h100-80gb", 81559 * kMiB, 989.4e12},
      {"h200", 143771 * kMiB, 989.4e12},
  };
  return catalog;
}

std::optional<GpuSpec> find_gpu(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const GpuSpec& spec : gpu_catalog()) {
    if (spec.name == lower) return spec;
  }
  return std::nullopt;
}

}  // namespace saturn
