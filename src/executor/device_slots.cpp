// Device slots; see saturn/device_slots.h.
#include "saturn/device_slots.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "saturn/gpu_catalog.h"

namespace saturn {

std::string DeviceSlots::place(const std::vector<int>& chosen, ProcessSpec* spec) const {
  std::string devices, visible;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const int s = chosen[i];
    devices += fmt::format("{}{}:{}", i ? "," : "", cuda() ? "cuda" : "cpu", i);
    if (cuda()) visible += fmt::format("{}{}", i ? "," : "", cuda_ids[static_cast<std::size_t>(s)]);
    // Slot s of `count` gets its share of the cores (at least one): a CPU slot to train on, a
    // GPU slot for its host work (offloading's optimizer step runs on every core it is given,
    // so jobs side by side on one machine must not each take them all).
    const int first = s * cores / count, last = std::max(first + 1, (s + 1) * cores / count);
    for (int c = first; c < last; ++c) spec->cpus.push_back(c % cores);
  }
  if (cuda()) spec->env["CUDA_VISIBLE_DEVICES"] = visible;
  spec->node = node;
  std::sort(spec->cpus.begin(), spec->cpus.end());
  spec->cpus.erase(std::unique(spec->cpus.begin(), spec->cpus.end()), spec->cpus.end());
  return devices;
}

Node DeviceSlots::as_node() const {
  Node n;
  n.name = node;
  n.gpus = count;
  n.gpu_type = device_type;
  n.gpu_memory_bytes = memory_bytes > 0 ? memory_bytes : 1e12;
  if (auto g = find_gpu(device_type); g && memory_bytes <= 0) n.gpu_memory_bytes = g->memory_bytes;
  return n;
}

Cluster cluster_of(const std::vector<DeviceSlots>& nodes) {
  Cluster cluster;
  for (const DeviceSlots& slots : nodes) cluster.nodes.push_back(slots.as_node());
  return cluster;
}

DeviceSlots local_device_slots(const WorkerInfo& info, const std::string& gpu_type, int cpu_slots) {
  DeviceSlots slots;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  slots.cores = sched_getaffinity(0, sizeof allowed, &allowed) == 0
                    ? std::max(1, CPU_COUNT(&allowed))
                    : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (info.cuda_devices > 0) {
    slots.count = info.cuda_devices;
    for (int i = 0; i < info.cuda_devices; ++i) slots.cuda_ids.push_back(i);
    slots.device_type = gpu_type.empty() ? "h100-80gb" : gpu_type;
    if (auto g = find_gpu(slots.device_type)) slots.memory_bytes = g->memory_bytes;
    return slots;
  }
  slots.device_type = "cpu";
  slots.count = cpu_slots > 0 ? cpu_slots : slots.cores;
  const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  slots.memory_bytes = ram / slots.count;
  return slots;
}

}  // namespace saturn
