// Worker protocol helpers; see saturn/worker_protocol.h.
#include "saturn/worker_protocol.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace saturn::protocol {

int exit_code_for(std::string_view kind) {
  if (kind == kErrorOom) return kExitOutOfMemory;
  if (kind == kErrorData) return kExitData;
  if (kind == kErrorConfig) return kExitConfig;
  return kExitInternal;
}

std::string event_line(std::string_view name, const nlohmann::json& fields) {
  nlohmann::ordered_json j = {{"event", name}};
  for (const auto& [k, v] : fields.items()) j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<nlohmann::json> parse_event_line(std::string_view line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    return Error{"", 0, "", std::string("not a JSON event line: ") + e.what()};
  }
  if (!j.is_object()) return Error{"", 0, "", "an event line must be a JSON object"};
  if (!j.contains("event") || !j["event"].is_string()) {
    return Error{"", 0, "event", "an event line needs a string \"event\""};
  }
  return j;
}

FailureKind failure_kind(std::string_view kind) {
  if (kind == kErrorOom) return FailureKind::kOom;
  if (kind == kErrorData) return FailureKind::kData;
  if (kind == kErrorConfig) return FailureKind::kConfig;
  return FailureKind::kInternal;
}

std::string_view to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "";
    case FailureKind::kOom:
      return kErrorOom;
    case FailureKind::kData:
      return kErrorData;
    case FailureKind::kConfig:
      return kErrorConfig;
    case FailureKind::kInternal:
      return kErrorInternal;
  }
  return kErrorInternal;
}

namespace {

using nlohmann::json;

// The field `key` of `e` as T when present (and, for optional numbers, not null).
template <typename T>
Status take(const json& e, const char* key, T* out) {
  if (!e.contains(key)) return Status::Ok();
  try {
    *out = e.at(key).get<T>();
  } catch (const json::exception&) {
    return Error{"", 0, key, "has the wrong type: " + e.at(key).dump()};
  }
  return Status::Ok();
}

}  // namespace

Result<Event> read_event(const json& line) {
  Event e;
  e.fields = line;
  e.name = line.value("event", "");
  if (auto s = take(line, "step", &e.step); !s) return s.error();
  if (e.name == kStarted) {
    if (auto s = take(line, "total_steps", &e.total_steps); !s) return s.error();
  } else if (e.name == kStep || e.name == kEval) {
    if (line.contains("loss") && line["loss"].is_number()) e.loss = line["loss"].get<double>();
  } else if (e.name == kError) {
    std::string kind(kErrorInternal);
    if (auto s = take(line, "kind", &kind); !s) return s.error();
    e.failure = failure_kind(kind);
    if (auto s = take(line, "message", &e.message); !s) return s.error();
  } else if (e.name == kCheckpointRejected) {
    for (auto [key, out] : {std::pair{"path", &e.path}, std::pair{"reason", &e.reason},
                            std::pair{"resumed_from", &e.resumed_from}}) {
      if (auto s = take(line, key, out); !s) return s.error();
    }
  }
  return e;
}

std::string write_event(const Event& e) {
  nlohmann::ordered_json j = {{"event", e.name}};
  if (e.step >= 0) j["step"] = e.step;
  if (e.total_steps >= 0) j["total_steps"] = e.total_steps;
  if (e.loss) j["loss"] = *e.loss;
  if (e.failure != FailureKind::kNone) {
    j["kind"] = to_string(e.failure);
    j["message"] = e.message;
  }
  if (!e.path.empty()) j["path"] = e.path;
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (!e.resumed_from.empty()) j["resumed_from"] = e.resumed_from;
  if (e.fields.is_object()) {
    for (const auto& [k, v] : e.fields.items()) {
      if (!j.contains(k)) j[k] = v;
    }
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string write_search_result(const SearchResult& r, const json& extra) {
  json fields = extra.is_object() ? extra : json::object();
  fields["feasible"] = r.feasible;
  if (r.feasible) {
    fields["params"] = r.params;
    fields["step_s"] = r.step_s;
    fields["startup_s"] = r.startup_s;
    fields["eval_s"] = r.eval_s;
    fields["checkpoint_s"] = r.checkpoint_s;
    fields["peak_memory_bytes"] = r.peak_memory_bytes;
    fields["total_steps"] = r.total_steps;
  } else {
    fields["reason"] = r.reason;
  }
  return event_line(kSearchResult, fields);
}

Result<SearchResult> read_search_result(const json& event) {
  SearchResult r;
  if (auto s = take(event, "feasible", &r.feasible); !s) return s.error();
  if (event.contains("params") && event["params"].is_object()) r.params = event["params"];
  for (auto [key, out] :
       {std::pair{"step_s", &r.step_s}, std::pair{"startup_s", &r.startup_s},
        std::pair{"eval_s", &r.eval_s}, std::pair{"checkpoint_s", &r.checkpoint_s},
        std::pair{"peak_memory_bytes", &r.peak_memory_bytes}}) {
    if (auto s = take(event, key, out); !s) return s.error();
  }
  if (auto s = take(event, "total_steps", &r.total_steps); !s) return s.error();
  if (auto s = take(event, "reason", &r.reason); !s) return s.error();
  r.startup_s = std::max(0.0, r.startup_s);
  r.eval_s = std::max(0.0, r.eval_s);
  r.checkpoint_s = std::max(0.0, r.checkpoint_s);
  if (r.feasible && !(r.step_s > 0 && std::isfinite(r.step_s))) {
    return Error{"", 0, "step_s", "a feasible search_result needs a positive step_s"};
  }
  return r;
}

}  // namespace saturn::protocol
