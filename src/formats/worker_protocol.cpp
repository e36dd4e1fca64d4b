// Worker protocol helpers; see saturn/worker_protocol.h.
#include "saturn/worker_protocol.h"

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

}  // namespace saturn::protocol
