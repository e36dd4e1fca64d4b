// A cap on the memory one device may use, for "device slots" smaller than the device: on the
// CPU a replacement for libtorch's CPU allocator that fails allocations beyond the cap with the
// same out-of-memory error a GPU gives; on CUDA the caching allocator's memory fraction. Search
// then finds out-of-memory settings infeasible exactly as on a real device of that size.
// And what the host has left, for techniques that keep the model in host memory (offloading):
// a setting that cannot fit there is an out-of-memory result, not a process the kernel kills.
#pragma once

#include <cstddef>
#include <optional>

#include <torch/torch.h>

namespace saturn::worker {

// Installs the cap for `device` (bytes > 0). Process-wide; call before building the model.
void cap_device_memory(torch::Device device, std::size_t bytes);

// Bytes of CPU tensors alive now under the cap (0 when no cap is installed).
std::size_t capped_cpu_bytes();

// Bytes `device` can still allocate: on CUDA the device's free memory plus what the caching
// allocator holds unused, within the cap if one is installed; on the CPU what the cap leaves
// (std::nullopt without a cap: the CPU has no device memory of its own).
std::optional<std::size_t> available_device_memory(torch::Device device);

// Limits this process's host memory to `bytes` in all (a share of a machine that several
// workers use at once); available_host_memory() then leaves what the process holds out of it.
void limit_host_memory(std::size_t bytes);

// Bytes of host memory this process may still take: the kernel's MemAvailable
// (/proc/meminfo), within the container's cgroup limit when it has one (v2 memory.max or v1
// memory.limit_in_bytes, less its usage other than inactive file pages), within
// limit_host_memory() if set. std::nullopt when none of these can be read.
std::optional<std::size_t> available_host_memory();

}  // namespace saturn::worker
