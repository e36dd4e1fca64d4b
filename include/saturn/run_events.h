// The events the orchestrator itself records in a run's store, beside the workers' own
// (saturn/worker_protocol.h): each is a struct with one JSON writer and one reader, and its name
// is written nowhere else. Documented in docs/running.md. Times are the store's (run clock).
// Readers are lenient: a missing or mistyped field keeps its default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace saturn::run_event {

// A worker process started for a job: in this configuration, on this node and devices, from
// the newest checkpoint the run had heard of.
struct Launch {
  static constexpr std::string_view kName = "launch";
  std::string technique;
  std::string node;
  std::vector<int> gpus;
  std::int64_t checkpoint_step = 0;
  std::vector<std::string> argv;
  nlohmann::json to_json() const;
  static Launch from_json(const nlohmann::json& e);
};

// The job's process ended with this exit status (128 + signal when killed).
struct Exit {
  static constexpr std::string_view kName = "exit";
  int code = -1;
  nlohmann::json to_json() const;
  static Exit from_json(const nlohmann::json& e);
};

// The policy moved a running job: it is asked to stop and will go on in this configuration.
struct Switch {
  static constexpr std::string_view kName = "switch";
  std::string to_technique;
  std::string to_node;
  std::vector<int> to_gpus;
  std::string policy;
  nlohmann::json to_json() const;
  static Switch from_json(const nlohmann::json& e);
};

// A configuration ran out of memory while the job ran in it: the job is planned without it.
struct ConfigDropped {
  static constexpr std::string_view kName = "config_dropped";
  std::string technique;
  int gpus = 0;
  std::string reason;
  nlohmann::json to_json() const;
  static ConfigDropped from_json(const nlohmann::json& e);
};

// The workload changed the job: it starts again as a new job (saturn/executor.h).
struct SpecChanged {
  static constexpr std::string_view kName = "spec_changed";
  std::string changes;
  std::string set_aside;
  nlohmann::json to_json() const;
  static SpecChanged from_json(const nlohmann::json& e);
};

// The job fits in no configuration on these devices (saturn run marks it failed).
struct Infeasible {
  static constexpr std::string_view kName = "infeasible";
  std::string reason;
  nlohmann::json to_json() const;
  static Infeasible from_json(const nlohmann::json& e);
};

// A line a worker printed that looked like an event but had a field of the wrong type.
struct Malformed {
  static constexpr std::string_view kName = "malformed";
  std::string line;
  nlohmann::json to_json() const;
  static Malformed from_json(const nlohmann::json& e);
};

// The "event" name of a stored event ("" when it has none).
std::string name_of(const nlohmann::json& e);

}  // namespace saturn::run_event
