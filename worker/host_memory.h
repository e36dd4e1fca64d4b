// How much host memory a worker may still take, for techniques that keep a model in host memory
// (offloading): a setting that cannot fit there is then an out-of-memory result, not a process
// the kernel kills. No libtorch here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace saturn::worker {

// Where the figures are read; the defaults are the running system's (tests give files of their
// own).
struct HostMemorySources {
  std::string meminfo = "/proc/meminfo";         // MemAvailable
  std::string self_cgroup = "/proc/self/cgroup";  // this process's cgroups, v2 and v1
  std::string cgroup_root = "/sys/fs/cgroup";    // where cgroupfs is mounted
};

// Limits this process's host memory to `bytes` in all (a share of a machine that several
// workers use at once); available_host_memory() then leaves what the process holds out of it.
void limit_host_memory(std::size_t bytes);

// Bytes of host memory free to every process here, the least of:
// - the kernel's MemAvailable;
// - for this process's cgroup and each ancestor the mount shows, that has a memory limit (v2
//   memory.max, v1 memory.limit_in_bytes): the limit less the usage, inactive file pages counted
//   as free (the kernel reclaims them first; active, mapped and dirty ones it may not at once).
// std::nullopt when none of them can be read.
std::optional<std::size_t> free_host_memory(const HostMemorySources& from = {});

// The most host memory this process could ever have, whatever runs beside it: the least of
// MemTotal, the memory limits of its cgroup and the cgroup's ancestors, and limit_host_memory()'s
// bytes; std::nullopt when none can be read. What exceeds it can never fit (a data error, not a
// moment's shortage).
std::optional<std::size_t> host_memory_size(const HostMemorySources& from = {});

// limit_host_memory()'s bytes less this process's resident set; std::nullopt when not limited.
std::optional<std::size_t> host_memory_limit_left();

// Bytes of host memory this process may still take: the least of free_host_memory() and
// host_memory_limit_left(); std::nullopt when neither is known.
std::optional<std::size_t> available_host_memory(const HostMemorySources& from = {});

// The cap on one CPU rank's tensors (memory_cap.h) and where it comes from, for the
// out-of-memory message.
struct CpuRankCap {
  std::size_t bytes = 0;  // 0: no cap
  std::string source;
};

// A CPU rank's cap. With a slot (`slot_bytes` > 0, --device-memory-bytes): the slot, whatever
// runs beside it, so that one configuration runs out of memory or not the same way at every
// launch (the orchestrator sizes the slots). Without one: 90% (the rest for what is not a
// tensor) of the least of `free_bytes` shared equally by the `cpu_ranks` ranks of this launch,
// and `limit_left_bytes` (this process's own); at least 1 byte when nothing is left; no cap
// when neither figure is known.
CpuRankCap cpu_rank_cap(std::size_t slot_bytes, std::optional<std::size_t> free_bytes,
                        std::optional<std::size_t> limit_left_bytes, int cpu_ranks);

}  // namespace saturn::worker
