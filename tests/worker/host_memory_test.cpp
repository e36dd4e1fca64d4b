// host_memory.h: the host memory a worker may still take, from /proc/meminfo, the cgroups in
// /proc/self/cgroup (v2 and v1, each ancestor's limit, inactive file pages counted as free) and an
// optional per-process limit, read from files these tests write; a CPU rank's cap from them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "host_memory.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kGiB = std::size_t{1} << 30;

// A fake /proc and /sys/fs/cgroup under a fresh directory.
class FakeHost {
 public:
  explicit FakeHost(const std::string& name)
      : dir_(fs::path(::testing::TempDir()) / ("saturn_host_memory_" + name)) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "cgroup");
    sources_.meminfo = (dir_ / "meminfo").string();
    sources_.self_cgroup = (dir_ / "self_cgroup").string();
    sources_.cgroup_root = (dir_ / "cgroup").string();
  }
  // Writes `text` to `path` under the directory, making its folders.
  void write(const std::string& path, const std::string& text) {
    const fs::path at = dir_ / path;
    fs::create_directories(at.parent_path());
    std::ofstream(at) << text;
  }
  void mem_available(std::size_t bytes) {
    write("meminfo", "MemTotal:       99999999 kB\nMemFree:          1000 kB\nMemAvailable:   " +
                         std::to_string(bytes / 1024) + " kB\n");
  }
  const HostMemorySources& sources() const { return sources_; }

 private:
  fs::path dir_;
  HostMemorySources sources_;
};

TEST(HostMemory, MemAvailableWithoutCgroups) {
  FakeHost host("plain");
  host.mem_available(100 * kGiB);
  EXPECT_EQ(available_host_memory(host.sources()), 100 * kGiB);
}

TEST(HostMemory, NothingReadableIsUnknown) {
  FakeHost host("none");
  EXPECT_EQ(available_host_memory(host.sources()), std::nullopt);
}

// v2: the process's cgroup and each ancestor with a limit; the least of what they leave.
// Inactive file pages count as free, active ones do not; "max" is no limit.
TEST(HostMemory, CgroupV2LimitsOfTheCgroupAndItsAncestors) {
  FakeHost host("v2");
  host.mem_available(100 * kGiB);
  host.write("self_cgroup", "1:name=systemd:/\n0::/jobs/a/\n");  // a trailing slash
  host.write("cgroup/memory.max", "max\n");
  host.write("cgroup/memory.current", std::to_string(50 * kGiB) + "\n");
  host.write("cgroup/jobs/a/memory.max", std::to_string(8 * kGiB) + "\n");
  host.write("cgroup/jobs/a/memory.current", std::to_string(6 * kGiB) + "\n");
  host.write("cgroup/jobs/a/memory.stat", "anon 1\nfile " + std::to_string(3 * kGiB) +
                                              "\nactive_file " + std::to_string(kGiB) +
                                              "\ninactive_file " + std::to_string(2 * kGiB) +
                                              "\n");
  // 8 - (6 - 2) = 4 GiB.
  EXPECT_EQ(available_host_memory(host.sources()), 4 * kGiB);
  // A tighter parent: 5 - 4.5 = 0.5 GiB.
  host.write("cgroup/jobs/memory.max", std::to_string(5 * kGiB) + "\n");
  host.write("cgroup/jobs/memory.current", std::to_string(9 * kGiB / 2) + "\n");
  EXPECT_EQ(available_host_memory(host.sources()), kGiB / 2);
  // Usage beyond the limit leaves nothing.
  host.write("cgroup/jobs/memory.current", std::to_string(6 * kGiB) + "\n");
  EXPECT_EQ(available_host_memory(host.sources()), 0u);
}

// v1: the memory controller's line (alone or with others); v1's "no limit" is a number near
// 2^63.
TEST(HostMemory, CgroupV1MemoryController) {
  for (const std::string controllers : {"memory", "cpu,memory"}) {
    FakeHost host("v1");
    host.mem_available(100 * kGiB);
    host.write("self_cgroup", "5:cpuset:/\n4:" + controllers + ":/slurm/job1\n0::/\n");
    host.write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    host.write("cgroup/memory/memory.usage_in_bytes", std::to_string(60 * kGiB) + "\n");
    host.write("cgroup/memory/slurm/job1/memory.limit_in_bytes",
               std::to_string(2 * kGiB) + "\n");
    host.write("cgroup/memory/slurm/job1/memory.usage_in_bytes",
               std::to_string(1 * kGiB) + "\n");
    host.write("cgroup/memory/slurm/job1/memory.stat",
               "inactive_file 1\ntotal_cache " + std::to_string(kGiB) +
                   "\ntotal_inactive_file " + std::to_string(kGiB / 2) + "\n");
    // 2 - (1 - 0.5) = 1.5 GiB.
    EXPECT_EQ(available_host_memory(host.sources()), 3 * kGiB / 2) << controllers;
  }
}

// limit_host_memory: the limit less what the process holds (more than a MB: libtorch alone).
TEST(HostMemory, ProcessLimitLeavesOutWhatTheProcessHolds) {
  FakeHost host("limit");
  host.mem_available(100 * kGiB);
  limit_host_memory(1000000);
  EXPECT_EQ(available_host_memory(host.sources()), 0u);
  limit_host_memory(200 * kGiB);
  const auto left = available_host_memory(host.sources());
  limit_host_memory(0);  // none again, for the tests that follow
  EXPECT_EQ(left, 100 * kGiB);
  EXPECT_EQ(available_host_memory(host.sources()), 100 * kGiB);
}

// A CPU rank's cap: a slot's size alone when there is one; otherwise 90% of the least of its
// equal share of the free memory and its own limit's remainder, named in `source`.
TEST(HostMemory, CpuRankCapIsTheSlotOrAShareOfWhatIsFree) {
  const CpuRankCap slot = cpu_rank_cap(3 * kGiB, 1 * kGiB, 0, 2);
  EXPECT_EQ(slot.bytes, 3 * kGiB);  // not lowered by what is free at launch
  EXPECT_EQ(slot.source, "--device-memory-bytes");

  const CpuRankCap alone = cpu_rank_cap(0, 10 * kGiB, std::nullopt, 1);
  EXPECT_EQ(alone.bytes, 9 * kGiB);
  EXPECT_EQ(alone.source, "the host's free memory");

  const CpuRankCap shared = cpu_rank_cap(0, 10 * kGiB, 8 * kGiB, 2);
  EXPECT_EQ(shared.bytes, static_cast<std::size_t>(0.9 * 5 * kGiB));
  EXPECT_EQ(shared.source, "a share of the host's free memory, over 2 CPU ranks");

  // --host-memory-bytes is each rank's own: not divided.
  const CpuRankCap limited = cpu_rank_cap(0, 10 * kGiB, 2 * kGiB, 2);
  EXPECT_EQ(limited.bytes, static_cast<std::size_t>(0.9 * 2 * kGiB));
  EXPECT_EQ(limited.source, "what --host-memory-bytes leaves this worker");

  EXPECT_EQ(cpu_rank_cap(0, 0, std::nullopt, 1).bytes, 1u);  // nothing left: every tensor fails
  EXPECT_EQ(cpu_rank_cap(0, std::nullopt, std::nullopt, 1).bytes, 0u);  // unknown: no cap
}

// free_host_memory leaves the process's own limit out; available_host_memory takes it in.
TEST(HostMemory, FreeMemoryIsTheMachinesAvailableTheProcesss) {
  FakeHost host("free");
  host.mem_available(100 * kGiB);
  limit_host_memory(1000000);
  const auto free_bytes = free_host_memory(host.sources());
  const auto available = available_host_memory(host.sources());
  const auto left = host_memory_limit_left();
  limit_host_memory(0);
  EXPECT_EQ(free_bytes, 100 * kGiB);
  EXPECT_EQ(available, 0u);
  EXPECT_EQ(left, 0u);
  EXPECT_EQ(host_memory_limit_left(), std::nullopt);
}

}  // namespace
}  // namespace saturn::worker
