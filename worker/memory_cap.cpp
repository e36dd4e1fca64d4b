// Device memory caps; see memory_cap.h.
#include "memory_cap.h"

#include "compat.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include <c10/core/CPUAllocator.h>
#include <fmt/format.h>
#ifdef SATURN_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#if SATURN_TORCH_AT_LEAST(2, 9)
#include <ATen/core/CachingHostAllocator.h>
#else
#include <ATen/cuda/CachingHostAllocator.h>
#endif
#endif

namespace saturn::worker {
namespace {

std::atomic<std::size_t> g_live{0};
std::size_t g_cpu_cap = 0;  // bytes; 0: none
#ifdef SATURN_WITH_CUDA
std::size_t g_cuda_cap = 0;  // bytes; 0: none (one device per process)
#endif

// Allocations carry their size in a header of kHeader bytes before the data (keeping the data
// 64-byte aligned). The DataPtr's context is its data pointer, as c10::Allocator::raw_allocate
// (oneDNN's convolutions, some of ATen's scratch buffers) requires; the header is found from it.
constexpr std::size_t kHeader = 64;

struct Block {
  std::size_t bytes;
};

void release(void* data) {
  if (data == nullptr) return;
  auto* block = reinterpret_cast<Block*>(static_cast<char*>(data) - kHeader);
  g_live.fetch_sub(block->bytes);
  std::free(block);
}

class CappedCpuAllocator final : public c10::Allocator {
 public:
  CappedCpuAllocator(std::size_t cap, std::string source) : cap_(cap), source_(std::move(source)) {}

  c10::DataPtr allocate(std::size_t n) SATURN_ALLOCATE_CONST override {
    const std::size_t live = g_live.fetch_add(n) + n;
    if (live > cap_) {
      g_live.fetch_sub(n);
      TORCH_CHECK_WITH(OutOfMemoryError, false,
                       fmt::format("CPU device out of memory: {} bytes requested, {} of its {} "
                                   "in use (the cap: {})",
                                   n, live - n, cap_, source_));
    }
    void* raw = nullptr;
    if (posix_memalign(&raw, kHeader, kHeader + n) != 0) {
      g_live.fetch_sub(n);
      TORCH_CHECK_WITH(OutOfMemoryError, false, fmt::format("cannot allocate {} bytes", n));
    }
    static_cast<Block*>(raw)->bytes = n;
    void* data = static_cast<char*>(raw) + kHeader;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_allocate()'s memory is given back through this (the context is the data pointer).
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  // PyTorch 2.3+ asks allocators to copy; a plain memcpy serves (1.13 never calls it).
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }

 private:
  std::size_t cap_;
  std::string source_;
};

}  // namespace

void cap_device_memory(torch::Device device, std::size_t bytes, const std::string& source) {
  if (device.is_cpu()) {
    static CappedCpuAllocator* allocator = nullptr;
    if (!allocator) {
      allocator = new CappedCpuAllocator(bytes, source);  // lives as long as the process
      c10::SetCPUAllocator(allocator, /*priority=*/100);
      g_cpu_cap = bytes;
    }
    return;
  }
#ifdef SATURN_WITH_CUDA
  std::size_t free_bytes = 0, total_bytes = 0;
  c10::cuda::CUDAGuard guard(device.index());
  start_device_allocator(device);
  C10_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const double fraction =
      std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_bytes));
  c10::cuda::CUDACachingAllocator::setMemoryFraction(fraction, device.index());
  g_cuda_cap = bytes;
#endif
}

void start_device_allocator(torch::Device device) {
  // A one-element tensor: PyTorch offers no public call that starts the allocator alone (its
  // lazy initialisation moved between releases); the small segment it reserves (2 MiB) is noise.
  if (device.is_cuda()) (void)torch::empty({1}, torch::TensorOptions().device(device));
}

void release_cached_pinned_memory() {
#ifdef SATURN_WITH_CUDA
  if (!torch::cuda::is_available()) return;
    // The host allocator's API moved in PyTorch 2.8 (the old name stays, deprecated, for a while).
    // clang-format off
#if SATURN_TORCH_AT_LEAST(2, 9)
  at::getHostAllocator(at::kCUDA)->empty_cache();
#else
  at::cuda::CachingHostAllocator_emptyCache();
#endif
  // clang-format on
#endif
}

std::size_t capped_cpu_bytes() {
  return g_live.load();
}

std::optional<std::size_t> available_device_memory(torch::Device device) {
  if (device.is_cpu()) {
    if (g_cpu_cap == 0) return std::nullopt;
    const std::size_t live = g_live.load();
    return live < g_cpu_cap ? g_cpu_cap - live : 0;
  }
#ifdef SATURN_WITH_CUDA
  std::size_t free_bytes = 0, total_bytes = 0;
  c10::cuda::CUDAGuard guard(device.index());
  start_device_allocator(device);
  C10_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  // Index 0 is StatType::AGGREGATE (all pools).
  const auto reserved = static_cast<std::size_t>(stats.reserved_bytes[0].current);
  const auto allocated = static_cast<std::size_t>(stats.allocated_bytes[0].current);
  std::size_t available = free_bytes + (reserved > allocated ? reserved - allocated : 0);
  if (g_cuda_cap > 0) {
    available = std::min(available, g_cuda_cap > allocated ? g_cuda_cap - allocated : 0);
  }
  return available;
#else
  return std::nullopt;
#endif
}

}  // namespace saturn::worker
