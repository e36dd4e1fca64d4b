// The orchestrator's own events; see saturn/run_events.h.
#include "saturn/run_events.h"

namespace saturn::run_event {
namespace {

using nlohmann::json;

json named(std::string_view name) {
  return json{{"event", std::string(name)}};
}

template <typename T>
T field(const json& e, const char* key, T fallback) {
  try {
    return e.contains(key) ? e.at(key).get<T>() : fallback;
  } catch (const json::exception&) {
    return fallback;
  }
}

std::vector<int> ints(const json& e, const char* key) {
  std::vector<int> out;
  if (!e.contains(key) || !e[key].is_array()) return out;
  for (const json& v : e[key]) {
    if (v.is_number_integer()) out.push_back(v.get<int>());
  }
  return out;
}

}  // namespace

std::string name_of(const json& e) {
  return e.is_object() ? field<std::string>(e, "event", "") : "";
}

json Launch::to_json() const {
  json e = named(kName);
  e["technique"] = technique;
  e["node"] = node;
  e["gpus"] = gpus;
  e["checkpoint_step"] = checkpoint_step;
  e["argv"] = argv;
  return e;
}

Launch Launch::from_json(const json& e) {
  Launch l;
  l.technique = field<std::string>(e, "technique", "");
  l.node = field<std::string>(e, "node", "");
  l.gpus = ints(e, "gpus");
  l.checkpoint_step = field<std::int64_t>(e, "checkpoint_step", 0);
  l.argv = field<std::vector<std::string>>(e, "argv", {});
  return l;
}

json Exit::to_json() const {
  json e = named(kName);
  e["code"] = code;
  return e;
}

Exit Exit::from_json(const json& e) {
  return Exit{field<int>(e, "code", -1)};
}

json Switch::to_json() const {
  json e = named(kName);
  e["to_technique"] = to_technique;
  e["to_node"] = to_node;
  e["to_gpus"] = to_gpus;
  e["policy"] = policy;
  return e;
}

Switch Switch::from_json(const json& e) {
  Switch s;
  s.to_technique = field<std::string>(e, "to_technique", "");
  s.to_node = field<std::string>(e, "to_node", "");
  s.to_gpus = ints(e, "to_gpus");
  s.policy = field<std::string>(e, "policy", "");
  return s;
}

json ConfigDropped::to_json() const {
  json e = named(kName);
  e["technique"] = technique;
  e["gpus"] = gpus;
  e["reason"] = reason;
  return e;
}

ConfigDropped ConfigDropped::from_json(const json& e) {
  return ConfigDropped{field<std::string>(e, "technique", ""), field<int>(e, "gpus", 0),
                       field<std::string>(e, "reason", "")};
}

json SpecChanged::to_json() const {
  json e = named(kName);
  e["changes"] = changes;
  e["set_aside"] = set_aside;
  return e;
}

SpecChanged SpecChanged::from_json(const json& e) {
  return SpecChanged{field<std::string>(e, "changes", ""), field<std::string>(e, "set_aside", "")};
}

json Infeasible::to_json() const {
  json e = named(kName);
  e["reason"] = reason;
  return e;
}

Infeasible Infeasible::from_json(const json& e) {
  return Infeasible{field<std::string>(e, "reason", "")};
}

json Malformed::to_json() const {
  json e = named(kName);
  e["line"] = line;
  return e;
}

Malformed Malformed::from_json(const json& e) {
  return Malformed{field<std::string>(e, "line", "")};
}

}  // namespace saturn::run_event
