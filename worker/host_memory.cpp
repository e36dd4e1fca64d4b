// Host memory left to this process; see host_memory.h.
#include "host_memory.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

namespace saturn::worker {
namespace {

std::size_t g_limit = 0;  // bytes; 0: none

// A cgroup without a limit says "max" (v2) or a number near 2^63 (v1).
constexpr std::size_t kUnlimited = std::size_t{1} << 60;

// The first number in a one-value file; std::nullopt when missing or not a number ("max").
std::optional<std::size_t> read_number(const std::string& path) {
  std::ifstream in(path);
  unsigned long long value = 0;
  if (!(in >> value)) return std::nullopt;
  return static_cast<std::size_t>(value);
}

// The value of `key` in a "key value" file (memory.stat); 0 when absent.
std::size_t stat_value(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string k;
  unsigned long long value = 0;
  while (in >> k >> value) {
    if (k == key) return static_cast<std::size_t>(value);
  }
  return 0;
}

std::optional<std::size_t> mem_available(const std::string& meminfo) {
  std::ifstream in(meminfo);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kib) == 1) {
      return static_cast<std::size_t>(kib) * 1024;
    }
  }
  return std::nullopt;
}

// One hierarchy's files: where its cgroups lie under the mount, and the names of its files.
struct Hierarchy {
  std::string dir;  // the mount of this hierarchy, e.g. "/sys/fs/cgroup/memory" (v1)
  std::string path;  // this process's cgroup in it, e.g. "/job/42"
  const char* limit;
  const char* usage;
  const char* inactive_file;  // memory.stat's key for inactive file pages (reclaimable)
};

// This process's memory cgroups (/proc/self/cgroup): "0::/path" (v2), "N:...memory...:/path"
// (v1).
std::vector<Hierarchy> memory_cgroups(const HostMemorySources& from) {
  std::vector<Hierarchy> out;
  std::ifstream in(from.self_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (line.compare(0, first, "0") == 0 && controllers.empty()) {
      out.push_back({from.cgroup_root, path, "memory.max", "memory.current", "inactive_file"});
    } else {
      std::size_t at = 0;
      bool memory = false;
      while (at <= controllers.size()) {
        const std::size_t comma = std::min(controllers.find(',', at), controllers.size());
        memory = memory || controllers.compare(at, comma - at, "memory") == 0;
        at = comma + 1;
      }
      if (memory) {
        out.push_back({from.cgroup_root + "/memory", path, "memory.limit_in_bytes",
                       "memory.usage_in_bytes", "total_inactive_file"});
      }
    }
  }
  return out;
}

// What the limits of `h`'s cgroup and of each ancestor leave, the least of them; std::nullopt
// when none has a limit (or the mount does not show them: inside a cgroup namespace only "/").
std::optional<std::size_t> cgroup_available(const Hierarchy& h) {
  std::optional<std::size_t> least;
  std::string path = h.path;
  while (true) {
    const std::string dir = h.dir + (path == "/" ? "" : path) + "/";
    const auto limit = read_number(dir + h.limit);
    const auto usage = read_number(dir + h.usage);
    if (limit && usage && *limit < kUnlimited) {
      const std::size_t freeable = stat_value(dir + "memory.stat", h.inactive_file);
      const std::size_t used = *usage > freeable ? *usage - freeable : 0;
      const std::size_t left = *limit > used ? *limit - used : 0;
      least = least ? std::min(*least, left) : left;
    }
    if (path.empty() || path == "/") break;
    const std::size_t slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return least;
}

// This process's resident set, bytes (/proc/self/statm).
std::size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  unsigned long long size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

void limit_host_memory(std::size_t bytes) {
  g_limit = bytes;
}

std::optional<std::size_t> free_host_memory(const HostMemorySources& from) {
  std::optional<std::size_t> available = mem_available(from.meminfo);
  for (const Hierarchy& h : memory_cgroups(from)) {
    if (const auto left = cgroup_available(h)) {
      available = available ? std::min(*available, *left) : *left;
    }
  }
  return available;
}

std::optional<std::size_t> host_memory_size(const HostMemorySources& from) {
  std::optional<std::size_t> least;
  {
    std::ifstream in(from.meminfo);
    std::string line;
    while (std::getline(in, line)) {
      unsigned long long kib = 0;
      if (std::sscanf(line.c_str(), "MemTotal: %llu kB", &kib) == 1) {
        least = static_cast<std::size_t>(kib) * 1024;
      }
    }
  }
  for (const Hierarchy& h : memory_cgroups(from)) {
    for (std::string path = h.path;;) {
      const auto limit = read_number(h.dir + (path == "/" ? "" : path) + "/" + h.limit);
      if (limit && *limit < kUnlimited) least = least ? std::min(*least, *limit) : *limit;
      if (path.empty() || path == "/") break;
      const std::size_t slash = path.rfind('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
  }
  if (g_limit > 0) least = least ? std::min(*least, g_limit) : g_limit;
  return least;
}

std::optional<std::size_t> host_memory_limit_left() {
  if (g_limit == 0) return std::nullopt;
  const std::size_t held = resident_bytes();
  return g_limit > held ? g_limit - held : 0;
}

std::optional<std::size_t> available_host_memory(const HostMemorySources& from) {
  const auto shared = free_host_memory(from);
  const auto own = host_memory_limit_left();
  if (shared && own) return std::min(*shared, *own);
  return shared ? shared : own;
}

CpuRankCap cpu_rank_cap(std::size_t slot_bytes, std::optional<std::size_t> free_bytes,
                        std::optional<std::size_t> limit_left_bytes, int cpu_ranks) {
  if (slot_bytes > 0) return {slot_bytes, "--device-memory-bytes"};
  std::optional<double> left;
  std::string source;
  if (free_bytes) {
    const int ranks = std::max(1, cpu_ranks);
    left = static_cast<double>(*free_bytes) / ranks;
    source = ranks > 1 ? "a share of the host's free memory, over " + std::to_string(ranks) +
                             " CPU ranks"
                       : "the host's free memory";
  }
  if (limit_left_bytes && (!left || static_cast<double>(*limit_left_bytes) < *left)) {
    left = static_cast<double>(*limit_left_bytes);
    source = "what --host-memory-bytes leaves this worker";
  }
  if (!left) return {};
  return {std::max<std::size_t>(1, static_cast<std::size_t>(0.9 * *left)), source};
}

}  // namespace saturn::worker
