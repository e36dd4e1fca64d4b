// The worker's side of the protocol (saturn/worker_protocol.h): event lines on stdout, and the
// failures that end a run with an `error` event and an exit code. Torch-free.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "saturn/error.h"
#include "saturn/worker_protocol.h"

namespace saturn::worker {

// Writes event lines to stdout, flushed, one writer at a time. Rank 0 writes every event; other
// ranks only errors (their launcher relays those). Thread-safe. When stdout has no reader any more
// (the orchestrator was killed; the process ignores SIGPIPE) the first failed write is noted on
// stderr and later events are dropped: the run goes on to its checkpoint without them.
class EventSink {
 public:
  explicit EventSink(int rank = 0) : rank_(rank) {}
  void set_rank(int rank) { rank_ = rank; }
  void emit(std::string_view name, const nlohmann::json& fields = nlohmann::json::object()) {
    if (rank_ != 0 && name != protocol::kError) return;
    write_line(protocol::event_line(name, fields));
  }
  void emit(const protocol::Event& e) {
    if (rank_ != 0 && e.name != protocol::kError) return;
    write_line(protocol::write_event(e));
  }
  // A line as it is (an event relayed from a rank process, a written search result).
  void write_line(const std::string& line) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      closed_ = true;
      std::fprintf(stderr,
                   "saturn-worker: stdout is closed (the orchestrator is gone); events "
                   "from here on are not sent\n");
    }
  }

 private:
  int rank_;
  std::mutex mutex_;
  bool closed_ = false;
};

// Why a run failed: an error kind of the protocol ("oom", "data", "config", "internal") and the
// Error that says what and where.
struct Failure {
  std::string kind;
  Error error;
};

// The field of an Error that says a setting cannot fit in its device's memory, found before
// allocating (offload's kept blocks on the device, its other blocks in host memory): search
// treats it as out of memory, not as a failure.
inline constexpr const char* kOutOfMemoryField = "out_of_memory";

// The kind an Error from loading a job or configuring a technique belongs to: out of memory
// (kOutOfMemoryField), data ("data.*") or config.
inline std::string kind_of(const Error& e) {
  if (e.field == kOutOfMemoryField) return std::string(protocol::kErrorOom);
  return e.field.rfind("data", 0) == 0 ? std::string(protocol::kErrorData)
                                       : std::string(protocol::kErrorConfig);
}

}  // namespace saturn::worker
