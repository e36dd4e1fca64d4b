// The GPU types Saturn knows by name. Used to check a configuration's peak memory against a
// node's GPUs; the performance estimator (later) reads the rest of the figures.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saturn {

struct GpuSpec {
  std::string name;            // lower-case catalogue key, e.g. "a100-40gb"
  double memory_bytes = 0;     // usable device memory, bytes
  double peak_bf16_flops = 0;  // dense bf16 tensor-core peak, FLOP/s
};

// Looks up a GPU type by name, case-insensitively. nullopt for an unknown type.
std::optional<GpuSpec> find_gpu(std::string_view name);

// Every catalogue entry, in a stable order (for error messages and docs).
const std::vector<GpuSpec>& gpu_catalog();

}  // namespace saturn
