// The GPU types Saturn knows by name, with the datasheet figures the planner and the performance
// estimator read: memory (to check a configuration's peak memory against a node's GPUs), dense
// bf16 peak, HBM bandwidth and the bandwidths of the links a GPU talks over. Sources of every
// number: docs/estimator.md#gpu-catalogue.
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
  double hbm_bytes_per_s = 0;  // device-memory (HBM) bandwidth, bytes/s
  // GPU-to-GPU bandwidth inside a node (NVLink through NVSwitch), per GPU, per direction, bytes/s.
  double nvlink_bytes_per_s = 0;
  // Inter-node network bandwidth per GPU, per direction, bytes/s (one NIC per GPU in the vendor's
  // reference system). Not used by the single-node estimator yet.
  double network_bytes_per_s = 0;
  // GPU-to-host link (PCIe x16), per direction, bytes/s.
  double host_link_bytes_per_s = 0;
};

// Looks up a GPU type by name, case-insensitively. nullopt for an unknown type.
std::optional<GpuSpec> find_gpu(std::string_view name);

// Every catalogue entry, in a stable order (for error messages and docs).
const std::vector<GpuSpec>& gpu_catalog();

}  // namespace saturn
