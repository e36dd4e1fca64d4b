// The process protocol between the orchestrator and a technique's worker (docs/worker-protocol.md):
// exit codes, event names and error kinds. A worker prints one JSON object per line on stdout;
// anything else it prints goes to stderr. Shared by saturn-worker (which writes events) and the
// executor (which reads them); any program that follows it can be a technique.
#pragma once

#include <cstdint>
#include <optional>
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
inline constexpr std::string_view kInfo = "info";  // `info`: what the worker can do
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

// An `error` event's kind as programs test it. kNone: no error event.
enum class FailureKind { kNone, kOom, kData, kConfig, kInternal };
// "oom", "data", "config"; anything else is kInternal.
FailureKind failure_kind(std::string_view kind);
std::string_view to_string(FailureKind kind);
// The same inputs fail the same way again (config, data): retrying cannot help.
inline bool deterministic(FailureKind kind) {
  return kind == FailureKind::kConfig || kind == FailureKind::kData;
}

// One event line: {"event": name, ...fields}, compact, no newline.
std::string event_line(std::string_view name,
                       const nlohmann::json& fields = nlohmann::json::object());

// Parses one line a worker printed. Errors: not JSON, not an object, no string "event".
Result<nlohmann::json> parse_event_line(std::string_view line);

// One event, as a worker writes it (write_event) and the orchestrator reads it (read_event): the
// fields its kind carries, typed (docs/worker-protocol.md lists them); a field the kind does not
// carry keeps its default. Fields without a member of their own travel in `fields`.
struct Event {
  std::string name;               // "started", "step", ... (the constants above)
  std::int64_t step = -1;         // started (resumed at), step, eval, checkpoint, stopped, done
  std::int64_t total_steps = -1;  // started
  std::optional<double> loss;     // step, eval (absent or null: unknown)
  FailureKind failure = FailureKind::kNone;  // error: its kind
  std::string message;                       // error
  std::string path;                          // checkpoint, checkpoint_rejected
  std::string reason, resumed_from;          // checkpoint_rejected
  // Read: the whole event as printed, for the run store. Written: the other fields to print
  // (a member that is set wins over a field of the same name).
  nlohmann::json fields = nlohmann::json::object();
};
// Reads a parsed event line. Errors: a field of its kind with the wrong type (named).
Result<Event> read_event(const nlohmann::json& line);
// The event line of `e`: "event" first, then its set members, then `fields`; no newline. What
// read_event reads back. saturn-worker writes every event the orchestrator reads with it (but
// for the `error` line its crash handler composes without allocating).
std::string write_event(const Event& e);

// A `search_result`: what a technique measured for one configuration.
struct SearchResult {
  bool feasible = false;
  nlohmann::json params = nlohmann::json::object();                // the technique's own settings
  double step_s = 0, startup_s = 0, eval_s = 0, checkpoint_s = 0;  // seconds
  double peak_memory_bytes = 0;
  std::int64_t total_steps = 0;
  std::string reason;  // infeasible: why
};
// Errors: a field with the wrong type (named), a feasible result without a positive step_s.
Result<SearchResult> read_search_result(const nlohmann::json& event);
// The `search_result` line of `r` (its other fields, e.g. `tried`, from `extra`); what
// read_search_result reads back.
std::string write_search_result(const SearchResult& r,
                                const nlohmann::json& extra = nlohmann::json::object());

}  // namespace saturn::protocol
