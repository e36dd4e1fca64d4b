// A cluster: named nodes, each with a number of identical GPUs of one type.
//
// YAML forms (docs/formats.md#cluster):
//   nodes: [{name: n0, gpus: 8, gpu: a100-40gb}, {name: n1, gpus: 4, gpu: h100-80gb}]
//   {nodes: 2, gpus_per_node: 8, gpu: a100-40gb}          # shorthand: nodes n0, n1
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "saturn/error.h"

namespace saturn {

struct Node {
  std::string name;             // unique within the cluster
  int gpus = 0;                 // GPU count, > 0; GPUs are indexed 0..gpus-1
  std::string gpu_type;         // catalogue name (gpu_catalog.h) or a user-defined type
  double gpu_memory_bytes = 0;  // per-GPU memory, bytes; from the catalogue unless given
};

struct Cluster {
  std::vector<Node> nodes;

  int total_gpus() const;
  int max_gpus_per_node() const;
  // Index of the node called `name`, or -1.
  int find_node(std::string_view name) const;
};

// Parses cluster YAML. `source` names the input in errors (a path, or "<string>").
Result<Cluster> parse_cluster_yaml(std::string_view text, std::string_view source = "<string>");
// Reads and parses a cluster YAML file.
Result<Cluster> load_cluster_yaml(const std::string& path);

// Checks the invariants every cluster must meet (non-empty, unique names, gpus > 0, memory > 0).
// `source` and `field_prefix` place errors ("cluster" inside a profile table).
Status validate_cluster(const Cluster& cluster, std::string_view source,
                        std::string_view field_prefix);

}  // namespace saturn
