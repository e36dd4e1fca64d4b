// The GPU catalogue. Memory is what the device reports as total (nvidia-smi), in bytes; peak
// FLOP/s are the vendor's dense bf16 tensor-core figures (SXM parts); bandwidths are the
// vendor's datasheet figures, per direction (docs/estimator.md#gpu-catalogue lists the sources).
#include "saturn/gpu_catalog.h"

#include <algorithm>
#include <cctype>

namespace saturn {
namespace {
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGB = 1e9;  // bandwidths are quoted in decimal GB/s
}  // namespace

const std::vector<GpuSpec>& gpu_catalog() {
  static const std::vector<GpuSpec> catalog = {
      // name, memory, bf16 dense, HBM, NVLink/dir, network/GPU/dir, PCIe/dir
      {"a100-40gb", 40960 * kMiB, 312e12, 1555 * kGB, 300 * kGB, 25 * kGB, 32 * kGB},
      {"a100-80gb", 81920 * kMiB, 312e12, 2039 * kGB, 300 * kGB, 25 * kGB, 32 * kGB},
      {"h100-80gb", 81559 * kMiB, 989.4e12, 3350 * kGB, 450 * kGB, 50 * kGB, 64 * kGB},
      {"h200", 143771 * kMiB, 989.4e12, 4800 * kGB, 450 * kGB, 50 * kGB, 64 * kGB},
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
