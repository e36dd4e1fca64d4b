// Fatal signals as protocol error events; see crash_report.h.
#include "crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace saturn::worker {
namespace {

std::atomic<const char*> g_phase{"start-up"};
int g_rank = 0;
bool g_installed = false;

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr int kSignalCount = sizeof kSignals / sizeof kSignals[0];
struct sigaction g_previous[kSignalCount];  // restored before the signal is raised again

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
  }
}

// Appends `s` to buf[*used..cap) without overflowing; async-signal-safe.
void append(char* buf, std::size_t cap, std::size_t* used, const char* s) {
  for (; *s && *used + 1 < cap; ++s) buf[(*used)++] = *s;
}

void append_int(char* buf, std::size_t cap, std::size_t* used, int v) {
  char digits[12];
  int n = 0;
  unsigned u = v < 0 ? 0u : static_cast<unsigned>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u && n < 11);
  while (n > 0 && *used + 1 < cap) buf[(*used)++] = digits[--n];
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void on_fatal_signal(int sig) {
  char line[512];
  std::size_t used = 0;
  append(line, sizeof line, &used, "{\"event\":\"error\",\"kind\":\"internal\",\"message\":\"");
  append(line, sizeof line, &used, "saturn-worker died of ");
  append(line, sizeof line, &used, signal_name(sig));
  append(line, sizeof line, &used, " during ");
  // At most 256 bytes of phase, so that the line's tail always fits.
  append(line, 256 + used < sizeof line ? 256 + used : sizeof line, &used, g_phase.load());
  append(line, sizeof line, &used, " (native backtrace on stderr)\",\"rank\":");
  append_int(line, sizeof line, &used, g_rank);
  append(line, sizeof line, &used, ",\"signal\":\"");
  append(line, sizeof line, &used, signal_name(sig));
  append(line, sizeof line, &used, "\"}\n");
  write_all(STDOUT_FILENO, line, used);
  static const char kHeader[] = "saturn-worker: fatal signal, backtrace:\n";
  write_all(STDERR_FILENO, kHeader, sizeof kHeader - 1);
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  // Whatever handled the signal before (the default action: death) handles it again.
  for (int i = 0; i < kSignalCount; ++i) {
    if (kSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
  }
  ::raise(sig);
}

}  // namespace

void install_crash_report(int rank) {
  g_rank = rank;
  if (g_installed) return;
  g_installed = true;
  // backtrace() loads libgcc on first use, which is not safe inside a handler: load it now.
  void* warm[1];
  ::backtrace(warm, 1);
  static char alternate_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alternate_stack;
  ss.ss_size = sizeof alternate_stack;
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < kSignalCount; ++i) ::sigaction(kSignals[i], &sa, &g_previous[i]);
}

CrashPhase::CrashPhase(const char* phase) : previous_(g_phase.exchange(phase)) {}

CrashPhase::~CrashPhase() { g_phase.store(previous_); }

}  // namespace saturn::worker
