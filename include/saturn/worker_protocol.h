// The process protocol between the orchestrator and a technique's worker (docs/worker-protocol.md):
// exit codes, event names and error kinds. A worker prints one JSON object per line on stdout;
// anything else it prints goes to stderr. Shared by saturn-worker (which writes events) and the
// executor (which reads them); any program that follows it can be a technique.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "saturn/error.h"

namespace saturn::protocol {

// Exit codes of a worker process.
enum ExitCode : int {
  kExitOk = 0,           // finished: search reported, or training reached its step count
  kExitConfig = 2,       // bad arguments or job (an `error` event with kind "config" says what)
  kExitData = 3,         // the data could not be read (kind "data")
  kExitOutOfMemory = 4,  // out of device memory while training (kind "oom")
  kExitInternal = 5,     // anything else (kind "internal")
  kExitStopped = 10,     // stopped on request (SIGTERM/SIGINT) after writing a checkpoint
};

// Event names (the "event" key of every line).
inline constexpr std::string_view kStarted = "started";
inline constexpr std::string_view kStep = "step";
inline constexpr std::string_view kEval = "eval";
inline constexpr std::string_view kCheckpoint = "checkpoint";
inline constexpr std::string_view kSearchResult = "search_result";
inline constexpr std::string_view kDone = "done";
inline constexpr std::string_view kStopped = "stopped";
inline constexpr std::string_view kError = "error";
// A checkpoint that failed its checks when execute resumed (it goes on from an older one).
inline constexpr std::string_view kCheckpointRejected = "checkpoint_rejected";

// Error kinds of an `error` event, and the exit code each one ends the process with.
inline constexpr std::string_view kErrorOom = "oom";
inline constexpr std::string_view kErrorData = "data";
inline constexpr std::string_view kErrorConfig = "config";
inline constexpr std::string_view kErrorInternal = "internal";
int exit_code_for(std::string_view kind);

// One event line: {"event": name, ...fields}, compact, no newline.
std::string event_line(std::string_view name,
                       const nlohmann::json& fields = nlohmann::json::object());

// Parses one line a worker printed. Errors: not JSON, not an object, no string "event".
Result<nlohmann::json> parse_event_line(std::string_view line);

}  // namespace saturn::protocol
