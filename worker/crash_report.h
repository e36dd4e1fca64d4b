// A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) in saturn-worker becomes a protocol
// `error` event (kind "internal", naming the signal and what the worker was doing) on stdout
// and a native backtrace on stderr, before the process dies of the signal as it would have.
// Without it such a death is silent: the launcher and the Trial Runner see only a signalled
// exit.
//
//   install_crash_report(rank);           // once, early in main
//   { const CrashPhase phase("measure: checkpoint probe"); ... }
//
// The handler only writes to file descriptors 1 and 2 (async-signal-safe), then restores the
// handler installed before it (usually the default action) and raises the signal again. Phases
// are string literals of letters, digits, spaces, ':' and '-' (they go into the JSON line
// unescaped); they nest, the innermost one is reported. The alternate stack is the main
// thread's: a stack overflow on another thread dies without the report.
#pragma once

namespace saturn::worker {

// Installs the handlers, on an alternate signal stack (a stack overflow is reported too).
// `rank` goes into the event. Idempotent.
void install_crash_report(int rank);

// What the worker is doing, for the crash report, while this object lives.
class CrashPhase {
 public:
  explicit CrashPhase(const char* phase);
  ~CrashPhase();
  CrashPhase(const CrashPhase&) = delete;
  CrashPhase& operator=(const CrashPhase&) = delete;

 private:
  const char* previous_;
};

}  // namespace saturn::worker
