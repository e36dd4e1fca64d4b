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

// Bytes of host memory this process may still take, the least of:
// - the kernel's MemAvailable;
// - for its cgroup and each ancestor the mount shows, that has a memory limit (v2 memory.max,
//   v1 memory.limit_in_bytes): the limit less the usage, inactive file pages counted as free
//   (the kernel reclaims them first; active, mapped and dirty ones it may not at once);
// - limit_host_memory()'s bytes less this process's resident set, if set.
// std::nullopt when none of them can be read.
std::optional<std::size_t> available_host_memory(const HostMemorySources& from = {});

}  // namespace saturn::worker
