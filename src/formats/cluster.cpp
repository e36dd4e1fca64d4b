// Cluster YAML: the full form (a list of nodes) and the shorthand (N identical nodes), plus the
// invariants every Cluster must meet. Format reference: docs/formats.md#cluster.
#include "saturn/cluster.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <optional>
#include <string>

#include "formats/common.h"
#include "formats/yaml_fields.h"
#include "saturn/gpu_catalog.h"

namespace saturn {

int Cluster::total_gpus() const {
  int total = 0;
  for (const Node& node : nodes) total += node.gpus;
  return total;
}

int Cluster::max_gpus_per_node() const {
  int most = 0;
  for (const Node& node : nodes) most = std::max(most, node.gpus);
  return most;
}

int Cluster::find_node(std::string_view name) const {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Status validate_cluster(const Cluster& cluster, std::string_view source,
                        std::string_view field_prefix) {
  const std::string prefix = field_prefix.empty() ? "" : std::string(field_prefix) + ".";
  if (cluster.nodes.empty()) {
    return Error{std::string(source), 0, prefix + "nodes", "the cluster has no nodes"};
  }
  if (cluster.nodes.size() > static_cast<std::size_t>(formats::kMaxNodes)) {
    return Error{std::string(source), 0, prefix + "nodes",
                 "more than " + std::to_string(formats::kMaxNodes) + " nodes"};
  }
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    const Node& node = cluster.nodes[i];
    const std::string at = prefix + "nodes[" + std::to_string(i) + "]";
    if (node.name.empty()) return Error{std::string(source), 0, at + ".name", "must not be empty"};
    if (const auto [it, inserted] = seen.emplace(node.name, i); !inserted) {
      return Error{std::string(source), 0, at + ".name",
                   "node name \"" + node.name + "\" is also used by nodes[" +
                       std::to_string(it->second) + "]"};
    }
    if (node.gpus <= 0 || node.gpus > formats::kMaxGpusPerNode) {
      return Error{std::string(source), 0, at + ".gpus",
                   "must be in [1, " + std::to_string(formats::kMaxGpusPerNode) + "], got " +
                       std::to_string(node.gpus)};
    }
    if (node.gpu_type.empty()) {
      return Error{std::string(source), 0, at + ".gpu_type", "must not be empty"};
    }
    if (!std::isfinite(node.gpu_memory_bytes) || node.gpu_memory_bytes <= 0) {
      return Error{std::string(source), 0, at + ".gpu_memory_bytes",
                   "must be a finite number > 0 (per-GPU memory in bytes)"};
    }
  }
  return Status::Ok();
}

namespace {

using formats::YamlChecker;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The GPU type and per-GPU memory of a node (or of every node, in the shorthand). `type_node` is
// the value of `gpu:`, `memory_node` that of `gpu_memory_gb:` (may be undefined).
struct GpuChoice {
  std::string type;
  double memory_bytes = 0;
};

Result<GpuChoice> read_gpu(const YamlChecker& check, const YAML::Node& owner,
                           const std::string& prefix) {
  const std::string type_field = prefix.empty() ? "gpu" : prefix + ".gpu";
  const std::string memory_field = prefix.empty() ? "gpu_memory_gb" : prefix + ".gpu_memory_gb";
  const YAML::Node type_node = owner["gpu"];
  if (!type_node) return check.error(owner, type_field, "missing required key \"gpu\"");
  auto type = check.get_string(type_node, type_field, true);
  if (!type) return type.error();

  GpuChoice choice;
  const auto spec = find_gpu(*type);
  choice.type = spec ? spec->name : *type;
  if (const YAML::Node memory_node = owner["gpu_memory_gb"]) {
    auto gib = check.get_number(memory_node, memory_field, 0, true);
    if (!gib) return gib.error();
    choice.memory_bytes = *gib * kGiB;
  } else if (spec) {
    choice.memory_bytes = spec->memory_bytes;
  } else {
    return check.error(type_node, type_field,
                       "unknown GPU type \"" + *type + "\" (known: " + formats::known_gpu_types() +
                           "); give gpu_memory_gb to define a new type");
  }
  return choice;
}

Result<int> read_gpu_count(const YamlChecker& check, const YAML::Node& owner,
                           const std::string& key, const std::string& field) {
  const YAML::Node node = owner[key];
  if (!node) return check.error(owner, field, "missing required key \"" + key + "\"");
  auto count = check.get_int(node, field, 1, formats::kMaxGpusPerNode);
  if (!count) return count.error();
  return static_cast<int>(*count);
}

Result<Cluster> parse_shorthand(const YamlChecker& check, const YAML::Node& root) {
  if (auto s =
          check.check_map(root, "", {"name", "nodes", "gpus_per_node", "gpu", "gpu_memory_gb"});
      !s) {
    return s.error();
  }
  auto count = check.get_int(root["nodes"], "nodes", 1, formats::kMaxNodes);
  if (!count) return count.error();
  auto gpus = read_gpu_count(check, root, "gpus_per_node", "gpus_per_node");
  if (!gpus) return gpus.error();
  auto gpu = read_gpu(check, root, "");
  if (!gpu) return gpu.error();
  Cluster cluster;
  for (std::int64_t i = 0; i < *count; ++i) {
    cluster.nodes.push_back(Node{"n" + std::to_string(i), *gpus, gpu->type, gpu->memory_bytes});
  }
  return cluster;
}

Result<Cluster> parse_full(const YamlChecker& check, const YAML::Node& root) {
  if (auto s = check.check_map(root, "", {"name", "nodes"}); !s) return s.error();
  const YAML::Node list = root["nodes"];
  if (!list.IsSequence()) {
    return check.error(
        list, "nodes",
        "expected a list of nodes or a node count, got " + formats::describe_yaml(list));
  }
  if (list.size() == 0) return check.error(list, "nodes", "the cluster has no nodes");
  if (list.size() > static_cast<std::size_t>(formats::kMaxNodes)) {
    return check.error(list, "nodes", "more than " + std::to_string(formats::kMaxNodes) + " nodes");
  }
  Cluster cluster;
  std::map<std::string, int> lines;  // node name -> line of its first definition
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    const std::string at = "nodes[" + std::to_string(i) + "]";
    if (auto s = check.check_map(item, at, {"name", "gpus", "gpu", "gpu_memory_gb"}); !s) {
      return s.error();
    }
    const YAML::Node name_node = item["name"];
    if (!name_node) return check.error(item, at + ".name", "missing required key \"name\"");
    auto name = check.get_string(name_node, at + ".name", true);
    if (!name) return name.error();
    if (const auto [it, inserted] = lines.emplace(*name, formats::yaml_line(name_node));
        !inserted) {
      return check.error(name_node, at + ".name",
                         "duplicate node name \"" + *name + "\" (first on line " +
                             std::to_string(it->second) + ")");
    }
    auto gpus = read_gpu_count(check, item, "gpus", at + ".gpus");
    if (!gpus) return gpus.error();
    auto gpu = read_gpu(check, item, at);
    if (!gpu) return gpu.error();
    cluster.nodes.push_back(Node{*name, *gpus, gpu->type, gpu->memory_bytes});
  }
  return cluster;
}

}  // namespace

static Result<Cluster> parse_cluster_impl(std::string_view text, std::string_view source) {
  auto doc = formats::parse_yaml_document(text, source);
  if (!doc) return doc.error();
  const YAML::Node root = *doc;
  const YamlChecker check(source);
  if (!root.IsDefined() || root.IsNull()) {
    return check.error_at_line(0, "", "empty cluster description; expected a \"nodes\" key");
  }
  if (!root.IsMap()) {
    return check.error(root, "",
                       "expected a map with a \"nodes\" key, got " + formats::describe_yaml(root));
  }
  if (const YAML::Node name = root["name"]) {
    if (auto n = check.get_string(name, "name", false); !n) return n.error();
  }
  const YAML::Node nodes = root["nodes"];
  if (!nodes) return check.error(root, "nodes", "missing required key \"nodes\"");
  auto cluster = nodes.IsScalar() ? parse_shorthand(check, root) : parse_full(check, root);
  if (!cluster) return cluster.error();
  if (auto s = validate_cluster(*cluster, source, ""); !s) return s.error();
  return cluster;
}

Result<Cluster> parse_cluster_yaml(std::string_view text, std::string_view source) {
  try {
    return parse_cluster_impl(text, source);
  } catch (const std::exception& e) {
    // yaml-cpp throws on some node accesses; the checks above are meant to make this unreachable.
    return Error{std::string(source), 0, "", std::string("cannot read cluster: ") + e.what()};
  }
}

Result<Cluster> load_cluster_yaml(const std::string& path) {
  auto text = formats::read_text_file(path, formats::kMaxYamlFileBytes);
  if (!text) return text.error();
  return parse_cluster_yaml(*text, path);
}

}  // namespace saturn
