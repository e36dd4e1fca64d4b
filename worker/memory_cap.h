// A cap on the memory one device may use: on CUDA the caching allocator's memory fraction, for
// "device slots" smaller than the GPU; on the CPU a replacement for libtorch's CPU allocator that
// fails allocations beyond the cap with the same out-of-memory error a GPU gives (saturn-worker
// caps every CPU rank: at its slot, or at its share of the host's memory, host_memory.h's
// cpu_rank_cap). Search then finds out-of-memory settings infeasible as on a real device.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace saturn::worker {

// Installs the cap for `device` (bytes > 0). Process-wide; call before building the model.
// `source` says where the figure came from, for the out-of-memory message (CPU).
void cap_device_memory(torch::Device device, std::size_t bytes,
                       const std::string& source = "--device-memory-bytes");

// Starts CUDA's caching allocator for `device` if it has not started: PyTorch starts it lazily,
// with the first CUDA tensor, and its statistics (peak, reserved bytes) and memory fraction
// fail before that ("Invalid device argument ... did you call init?"). Nothing for other devices.
void start_device_allocator(torch::Device device);

// Bytes of CPU tensors alive now under the cap (0 when no cap is installed).
std::size_t capped_cpu_bytes();

// Bytes `device` can still allocate: on CUDA the device's free memory plus what the caching
// allocator holds unused, within the cap if one is installed; on the CPU what the cap leaves
// (std::nullopt without a cap, as in a process that did not install one: the tests').
std::optional<std::size_t> available_device_memory(torch::Device device);

// Returns the pinned host memory PyTorch's pinned-memory cache holds unused (blocks a previous
// setting freed; offloading's host buffers) to the system, so that the next setting's host
// memory check (host_memory.h) counts it as free and a smaller or larger block is not added
// beside it. Nothing without CUDA.
void release_cached_pinned_memory();

}  // namespace saturn::worker
