// StepTrace over libtorch's Kineto profiler API (the same in 1.13 and 2.x); see step_trace.h.
#include "step_trace.h"

#include <unistd.h>

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/cuda.h>
#include <torch/torch.h>

namespace saturn::worker {

namespace {

namespace profiler = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

Error trace_error(const std::string& what, const c10::Error& e) {
  return Error{"", 0, "trace", fmt::format("{}: {}", what, e.what_without_backtrace())};
}

}  // namespace

Result<std::unique_ptr<StepTrace>> StepTrace::start(bool cuda) {
  std::unique_ptr<StepTrace> trace(new StepTrace());
  const ProfilerConfig config(ProfilerState::KINETO);
  std::set<ActivityType> activities{ActivityType::CPU};
  if (cuda) activities.insert(ActivityType::CUDA);
  // An empty trace saved first: a libtorch without Kineto fails here, before any step runs,
  // rather than after them.
  const std::string probe =
      (std::filesystem::temp_directory_path() / fmt::format("saturn-trace-{}.json", ::getpid()))
          .string();
  try {
    profiler::prepareProfiler(config, activities);
    profiler::enableProfiler(config, activities);
    profiler::disableProfiler()->save(probe);
    std::filesystem::remove(probe);
    profiler::prepareProfiler(config, activities);
    profiler::enableProfiler(config, activities);
  } catch (const c10::Error& e) {
    std::error_code ignored;
    std::filesystem::remove(probe, ignored);
    return trace_error("cannot record a trace with this libtorch", e);
  }
  trace->running_ = true;
  return trace;
}

Status StepTrace::write(const std::string& path) {
  if (!running_) return Error{"", 0, "trace", "the trace was already written"};
  running_ = false;
  try {
    if (torch::cuda::is_available()) torch::cuda::synchronize();
    const std::unique_ptr<profiler::ProfilerResult> result = profiler::disableProfiler();
    if (!result) return Error{"", 0, "trace", "PyTorch's profiler returned no result"};
    result->save(path);
  } catch (const c10::Error& e) {
    return trace_error(fmt::format("could not write the trace to {}", path), e);
  }
  return Status::Ok();
}

StepTrace::~StepTrace() {
  if (!running_) return;
  try {
    profiler::disableProfiler();
  } catch (const c10::Error&) {
    // Nothing to report to: the trace is discarded either way.
  }
}

}  // namespace saturn::worker
