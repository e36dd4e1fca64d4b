// The virtual-clock backend; see virtual_backend.h.
#include "executor/virtual_backend.h"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "saturn/worker_protocol.h"

namespace saturn::testing {

constexpr double kNever = std::numeric_limits<double>::infinity();

// One scripted trainer. Its events are due at fixed times: `started` at start + startup, step k
// at that + (k - from) x step_s, `done` and the exit with the last step; a SIGTERM moves the end
// to now, with a `stopped` at the last step done.
class VirtualProcess final : public Process {
 public:
  VirtualProcess(VirtualBackend& backend, std::string checkpoint, double start, double startup,
                 double step_s, std::int64_t from, std::int64_t total)
      : backend_(backend),
        checkpoint_(std::move(checkpoint)),
        begin_(start + startup),
        step_s_(step_s),
        from_(from),
        total_(total) {}

  int pid() const override { return 0; }

  std::vector<std::string> read_lines() override {
    std::vector<std::string> lines;
    const double now = backend_.now_;
    if (!started_sent_ && begin_ <= now && !(stopped_ && stop_at_ < begin_)) {
      started_sent_ = true;
      lines.push_back(
          protocol::event_line(protocol::kStarted, {{"step", from_}, {"total_steps", total_}}));
    }
    while (sent_ < total_ && step_time(sent_ + 1) <= end_time() && step_time(sent_ + 1) <= now) {
      ++sent_;
      lines.push_back(protocol::event_line(protocol::kStep, {{"step", sent_}, {"loss", 1.0}}));
      if (sent_ == total_) {
        lines.push_back(protocol::event_line(protocol::kDone, {{"step", sent_}}));
      }
    }
    if (stopped_ && !killed_ && !stop_sent_ && stop_at_ <= now) {
      stop_sent_ = true;
      backend_.checkpoints_[checkpoint_] = sent_;
      lines.push_back(protocol::event_line(protocol::kStopped, {{"step", sent_}}));
    }
    if (sent_ == total_ && !stopped_) backend_.checkpoints_[checkpoint_] = total_;
    return lines;
  }

  std::optional<int> poll_exit() override {
    if (end_time() > backend_.now_) return std::nullopt;
    if (killed_) return 128 + SIGKILL;
    return stopped_ ? protocol::kExitStopped : protocol::kExitOk;
  }

  void signal(int sig) override {
    if (stopped_ || end_time() <= backend_.now_) return;
    if (sig == SIGTERM || sig == SIGKILL) {
      (void)read_lines();  // what was due before the signal
      stopped_ = true;
      killed_ = sig == SIGKILL;  // no checkpoint, no `stopped`: exit 128 + 9
      stop_at_ = backend_.now_;
    }
  }

  // The next time something of this process is due after `now`, or kNever.
  double next_due(double now) const {
    if (!started_sent_ && !stopped_) return std::max(now, begin_);
    const double end = end_time();
    if (sent_ < total_ && step_time(sent_ + 1) <= end) return std::max(now, step_time(sent_ + 1));
    return std::max(now, end);  // the exit (the executor stops asking once it has seen it)
  }

 private:
  double step_time(std::int64_t k) const {
    return begin_ + static_cast<double>(k - from_) * step_s_;
  }
  double end_time() const { return stopped_ ? stop_at_ : step_time(total_); }

  VirtualBackend& backend_;
  std::string checkpoint_;
  double begin_, step_s_;
  std::int64_t from_, total_;
  std::int64_t sent_ = from_;
  bool started_sent_ = false, stopped_ = false, killed_ = false, stop_sent_ = false;
  double stop_at_ = kNever;
};

Result<std::unique_ptr<Process>> VirtualBackend::start(const ProcessSpec& spec) {
  if (spec.argv.size() < 5) return Error{"", 0, "argv", "a virtual trainer needs 5 arguments"};
  if (!nodes_.empty() && !nodes_.count(spec.node)) {
    return Error{"", 0, "node", fmt::format("no node '{}'", spec.node)};
  }
  const std::string job = std::filesystem::path(spec.argv[1]).stem().string();
  const auto it = jobs_.find(job);
  if (it == jobs_.end()) return Error{"", 0, "argv", fmt::format("no script for job {}", job)};
  const auto speed = it->second.step_s.find({spec.argv[2], std::stoi(spec.argv[3])});
  if (speed == it->second.step_s.end()) {
    return Error{"", 0, "argv", fmt::format("no speed for {} x{}", spec.argv[2], spec.argv[3])};
  }
  const std::string& checkpoint = spec.argv[4];
  const std::int64_t from = checkpoints_.count(checkpoint) ? checkpoints_[checkpoint] : 0;
  const double startup = launches_[job]++ > 0 ? it->second.restart_s : 0;
  starts_.emplace_back(job, spec.node);
  return std::unique_ptr<Process>(
      new VirtualProcess(*this, checkpoint, now_, startup, speed->second, from, it->second.steps));
}

void VirtualBackend::wait(const std::vector<Process*>& processes, double timeout_s) {
  // What is due within a rounding error of the deadline counts as due by it: the caller's
  // deadline (an introspection tick) minus now, added back to now, may miss it by an ulp.
  constexpr double kUlps = 1e-9;
  double next = now_ + std::max(0.0, timeout_s);
  for (Process* p : processes) {
    const double due = static_cast<VirtualProcess*>(p)->next_due(now_);
    if (due <= next + kUlps) next = due;
  }
  now_ = std::max(now_, next);
}

}  // namespace saturn::testing
