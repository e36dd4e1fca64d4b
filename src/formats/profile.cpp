// Profile-table JSON: reading with located errors, the fit rule, and writing. Format reference:
// docs/formats.md#profile-table.
//
// Top-level keys: "cluster" and "tasks" (required), "name" and "comment" (optional strings) and
// "meta" (optional, any JSON). name/comment/meta are accepted for people and tools that annotate
// tables; they are not kept in ProfileTable, so to_json() does not write them back.
#include "saturn/profile.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <exception>
#include <map>
#include <utility>

#include "formats/common.h"
#include "formats/json_fields.h"
#include "saturn/gpu_catalog.h"

namespace saturn {

double Config::seconds_per_step() const {
  if (step_s > 0) return step_s;
  return steps > 0 ? runtime_s / static_cast<double>(steps) : 0;
}

bool config_fits(const Config& config, const Node& node) {
  if (config.gpus <= 0 || config.gpus > node.gpus) return false;
  if (!config.gpu_type.empty() && !formats::iequals(config.gpu_type, node.gpu_type)) return false;
  if (config.peak_memory_bytes > 0 && node.gpu_memory_bytes > 0 &&
      config.peak_memory_bytes > node.gpu_memory_bytes) {
    return false;
  }
  return true;
}

namespace {

using formats::JsonChecker;
using formats::JsonPath;
using nlohmann::json;

// Why no configuration of `task` fits any node, in words; empty when one fits.
std::string explain_no_fit(const Task& task, const Cluster& cluster) {
  for (const Config& config : task.configs) {
    for (const Node& node : cluster.nodes) {
      if (config_fits(config, node)) return "";
    }
  }
  if (task.configs.empty()) return "task \"" + task.name + "\" has no configurations";
  int fewest = INT_MAX;
  for (const Config& config : task.configs) fewest = std::min(fewest, config.gpus);
  std::string why = "no configuration of task \"" + task.name + "\" fits any node of the cluster";
  if (fewest > cluster.max_gpus_per_node()) {
    why += ": its smallest configuration needs " + std::to_string(fewest) +
           " GPUs, the largest node has " + std::to_string(cluster.max_gpus_per_node());
  } else {
    why += " (each needs more GPUs, another GPU type, or more memory per GPU than a node offers)";
  }
  return why;
}

Result<Node> read_node(const JsonChecker& check, const json& value, const JsonPath& at) {
  if (auto s = check.check_object(value, at, {"name", "gpus", "gpu_type", "gpu_memory_bytes"});
      !s) {
    return s.error();
  }
  for (const char* key : {"name", "gpus", "gpu_type"}) {
    if (auto s = check.require(value, at, key); !s) return s.error();
  }
  Node node;
  auto name = check.get_string(value["name"], at / "name", true);
  if (!name) return name.error();
  node.name = *name;
  auto gpus = check.get_int(value["gpus"], at / "gpus", 1, formats::kMaxGpusPerNode);
  if (!gpus) return gpus.error();
  node.gpus = static_cast<int>(*gpus);
  auto type = check.get_string(value["gpu_type"], at / "gpu_type", true);
  if (!type) return type.error();
  const auto spec = find_gpu(*type);
  node.gpu_type = spec ? spec->name : *type;
  if (value.contains("gpu_memory_bytes")) {
    auto memory = check.get_number(value["gpu_memory_bytes"], at / "gpu_memory_bytes", 0, true);
    if (!memory) return memory.error();
    node.gpu_memory_bytes = *memory;
  } else if (spec) {
    node.gpu_memory_bytes = spec->memory_bytes;
  } else {
    return check.error(at / "gpu_type", "unknown GPU type \"" + *type +
                                            "\" (known: " + formats::known_gpu_types() +
                                            "); give gpu_memory_bytes to define a new type");
  }
  return node;
}

Result<Cluster> read_cluster(const JsonChecker& check, const json& value, const JsonPath& at) {
  if (auto s = check.check_object(value, at, {"nodes", "name"}); !s) return s.error();
  if (value.contains("name")) {
    if (auto n = check.get_string(value["name"], at / "name", false); !n) return n.error();
  }
  if (auto s = check.require(value, at, "nodes"); !s) return s.error();
  const json& nodes = value["nodes"];
  if (auto s = check.check_array(nodes, at / "nodes", true); !s) return s.error();
  if (nodes.size() > static_cast<std::size_t>(formats::kMaxNodes)) {
    return check.error(at / "nodes", "more than " + std::to_string(formats::kMaxNodes) + " nodes");
  }
  Cluster cluster;
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto node = read_node(check, nodes[i], at / "nodes" / i);
    if (!node) return node.error();
    if (const auto [it, inserted] = seen.emplace(node->name, i); !inserted) {
      return check.error(at / "nodes" / i / "name", "duplicate node name \"" + node->name +
                                                        "\" (also nodes[" +
                                                        std::to_string(it->second) + "])");
    }
    cluster.nodes.push_back(std::move(*node));
  }
  return cluster;
}

Result<Config> read_config(const JsonChecker& check, const json& value, const JsonPath& at) {
  if (auto s = check.check_object(
          value, at,
          {"technique", "gpus", "runtime_s", "peak_memory_bytes", "params", "gpu_type", "step_s",
           "steps", "startup_s", "eval_s", "checkpoint_s"});
      !s) {
    return s.error();
  }
  for (const char* key : {"technique", "gpus", "runtime_s"}) {
    if (auto s = check.require(value, at, key); !s) return s.error();
  }
  Config config;
  auto technique = check.get_string(value["technique"], at / "technique", true);
  if (!technique) return technique.error();
  config.technique = *technique;
  auto gpus = check.get_int(value["gpus"], at / "gpus", 1, formats::kMaxGpusPerNode);
  if (!gpus) return gpus.error();
  config.gpus = static_cast<int>(*gpus);
  auto runtime = check.get_number(value["runtime_s"], at / "runtime_s", 0, true);
  if (!runtime) return runtime.error();
  config.runtime_s = *runtime;
  if (value.contains("peak_memory_bytes")) {
    auto memory = check.get_number(value["peak_memory_bytes"], at / "peak_memory_bytes", 0, false);
    if (!memory) return memory.error();
    config.peak_memory_bytes = *memory;
  }
  if (value.contains("gpu_type")) {
    auto type = check.get_string(value["gpu_type"], at / "gpu_type", true);
    if (!type) return type.error();
    const auto spec = find_gpu(*type);
    config.gpu_type = spec ? spec->name : *type;
  }
  if (value.contains("params")) {
    const json& params = value["params"];
    if (!params.is_object()) {
      return check.error(at / "params",
                         "expected an object, got " + formats::describe_json_type(params));
    }
    config.params = params;
  }
  // Tables written before these were fields kept them in params: they move to their fields.
  for (const auto& [key, target] : {std::pair<const char*, double*>{"step_s", &config.step_s},
                                    {"startup_s", &config.startup_s},
                                    {"eval_s", &config.eval_s},
                                    {"checkpoint_s", &config.checkpoint_s}}) {
    if (value.contains(key)) {
      auto v = check.get_number(value[key], at / key, 0, false);
      if (!v) return v.error();
      *target = *v;
    } else if (config.params.contains(key) && config.params[key].is_number()) {
      *target = std::max(0.0, config.params[key].get<double>());
      config.params.erase(key);
    }
  }
  if (value.contains("steps")) {
    auto v = check.get_int(value["steps"], at / "steps", 0, LLONG_MAX);
    if (!v) return v.error();
    config.steps = *v;
  } else if (config.params.contains("steps") && config.params["steps"].is_number()) {
    config.steps = std::max<std::int64_t>(0, config.params["steps"].get<std::int64_t>());
    config.params.erase("steps");
  }
  return config;
}

Result<Task> read_task(const JsonChecker& check, const json& value, const JsonPath& at) {
  if (auto s = check.check_object(value, at, {"name", "configs", "restart_s"}); !s) {
    return s.error();
  }
  for (const char* key : {"name", "configs"}) {
    if (auto s = check.require(value, at, key); !s) return s.error();
  }
  Task task;
  auto name = check.get_string(value["name"], at / "name", true);
  if (!name) return name.error();
  task.name = *name;
  if (value.contains("restart_s")) {
    auto restart = check.get_number(value["restart_s"], at / "restart_s", 0, false);
    if (!restart) return restart.error();
    task.restart_s = *restart;
  }
  const json& configs = value["configs"];
  if (!configs.is_array()) {
    return check.error(at / "configs",
                       "expected an array, got " + formats::describe_json_type(configs));
  }
  if (configs.empty()) {
    return check.error(at / "configs", "task \"" + task.name + "\" has no configurations");
  }
  for (std::size_t i = 0; i < configs.size(); ++i) {
    auto config = read_config(check, configs[i], at / "configs" / i);
    if (!config) return config.error();
    task.configs.push_back(std::move(*config));
  }
  return task;
}

Result<ProfileTable> read_table(const JsonChecker& check, const json& doc) {
  const JsonPath root;
  if (auto s = check.check_object(doc, root, {"cluster", "tasks", "name", "comment", "meta"}); !s) {
    return s.error();
  }
  for (const char* key : {"name", "comment"}) {
    if (!doc.contains(key)) continue;
    if (auto v = check.get_string(doc[key], root / key, false); !v) return v.error();
  }
  for (const char* key : {"cluster", "tasks"}) {
    if (auto s = check.require(doc, root, key); !s) return s.error();
  }
  ProfileTable table;
  auto cluster = read_cluster(check, doc["cluster"], root / "cluster");
  if (!cluster) return cluster.error();
  table.cluster = std::move(*cluster);

  const json& tasks = doc["tasks"];
  if (auto s = check.check_array(tasks, root / "tasks", true); !s) return s.error();
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto task = read_task(check, tasks[i], root / "tasks" / i);
    if (!task) return task.error();
    if (const auto [it, inserted] = seen.emplace(task->name, i); !inserted) {
      return check.error(root / "tasks" / i / "name", "duplicate task name \"" + task->name +
                                                          "\" (also tasks[" +
                                                          std::to_string(it->second) + "])");
    }
    if (std::string why = explain_no_fit(*task, table.cluster); !why.empty()) {
      return check.error(root / "tasks" / i, why);
    }
    table.tasks.push_back(std::move(*task));
  }
  return table;
}

}  // namespace

Result<ProfileTable> parse_profile_table(std::string_view text, std::string_view source) {
  try {
    auto doc = formats::parse_json_document(text, source);
    if (!doc) return doc.error();
    const JsonChecker check(text, source);
    return read_table(check, *doc);
  } catch (const std::exception& e) {
    // nlohmann throws only on misuse; the checks above are meant to make this unreachable.
    return Error{std::string(source), 0, "", std::string("cannot read profile table: ") + e.what()};
  }
}

Result<ProfileTable> load_profile_table(const std::string& path) {
  auto text = formats::read_text_file(path);
  if (!text) return text.error();
  return parse_profile_table(*text, path);
}

Result<ProfileTable> with_cluster(ProfileTable table, Cluster cluster, std::string_view source) {
  if (auto s = validate_cluster(cluster, source, "cluster"); !s) return s.error();
  for (std::size_t i = 0; i < table.tasks.size(); ++i) {
    if (std::string why = explain_no_fit(table.tasks[i], cluster); !why.empty()) {
      return Error{std::string(source), 0, "tasks[" + std::to_string(i) + "]", why};
    }
  }
  table.cluster = std::move(cluster);
  return table;
}

json to_json(const ProfileTable& table) {
  json nodes = json::array();
  for (const Node& node : table.cluster.nodes) {
    nodes.push_back({{"name", node.name},
                     {"gpus", node.gpus},
                     {"gpu_type", node.gpu_type},
                     {"gpu_memory_bytes", node.gpu_memory_bytes}});
  }
  json tasks = json::array();
  for (const Task& task : table.tasks) {
    json configs = json::array();
    for (const Config& config : task.configs) {
      json c = {{"technique", config.technique},
                {"gpus", config.gpus},
                {"runtime_s", config.runtime_s},
                {"peak_memory_bytes", config.peak_memory_bytes},
                {"params", config.params}};
      if (!config.gpu_type.empty()) c["gpu_type"] = config.gpu_type;
      for (const auto& [key, v] : {std::pair<const char*, double>{"step_s", config.step_s},
                                   {"startup_s", config.startup_s},
                                   {"eval_s", config.eval_s},
                                   {"checkpoint_s", config.checkpoint_s}}) {
        if (v > 0) c[key] = v;
      }
      if (config.steps > 0) c["steps"] = config.steps;
      configs.push_back(std::move(c));
    }
    json t = {{"name", task.name}, {"configs", std::move(configs)}};
    if (task.restart_s > 0) t["restart_s"] = task.restart_s;
    tasks.push_back(std::move(t));
  }
  return {{"cluster", {{"nodes", std::move(nodes)}}}, {"tasks", std::move(tasks)}};
}

}  // namespace saturn
