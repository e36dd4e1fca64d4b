// Device slots: the devices of one node that Saturn hands out to processes, one slot per GPU (or,
// without GPUs, per share of the CPU cores). The Trial Runner measures on them and the executor
// runs jobs on them; a cluster is one DeviceSlots per node. Plain values; no thread-safety
// concerns.
#pragma once

#include <string>
#include <vector>

#include "saturn/backend.h"
#include "saturn/cluster.h"

namespace saturn {

struct DeviceSlots {
  std::string node = "local";       // the node's name in the cluster and for the backend
  std::string device_type = "cpu";  // "cpu", or the GPU type (catalogue name)
  int count = 0;                    // > 0
  std::vector<int> cuda_ids;        // physical CUDA ids, one per slot; empty: CPU slots
  double memory_bytes = 0;          // per slot; 0: unknown (no cap)
  int cores = 1;                    // CPU cores to share among the slots

  bool cuda() const { return !cuda_ids.empty(); }
  // Gives a process the slots `chosen` (indices below count): CUDA_VISIBLE_DEVICES for GPU
  // slots, the slots' share of the cores to pin it to, and the node, set in `spec`. Returns what
  // the technique's {devices} is: "cuda:0,cuda:1" (numbered as the process sees them) or
  // "cpu:0,cpu:1".
  std::string place(const std::vector<int>& chosen, ProcessSpec* spec) const;
  // The node these slots make in a cluster (named `node`).
  Node as_node() const;
};

// The cluster a set of nodes' slots makes, in the same order.
Cluster cluster_of(const std::vector<DeviceSlots>& nodes);

// What `saturn-worker info` reports.
struct WorkerInfo {
  std::vector<std::string> techniques;  // built-in techniques
  int cuda_devices = 0;
  std::string torch;  // libtorch version
};

// This machine's slots: every CUDA device the worker sees (`gpu_type` names their type), else
// `cpu_slots` CPU slots (0: one per core this process may use), memory shared evenly.
DeviceSlots local_device_slots(const WorkerInfo& info, const std::string& gpu_type, int cpu_slots);

}  // namespace saturn
