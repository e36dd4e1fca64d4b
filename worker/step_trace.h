// StepTrace: PyTorch's profiler (Kineto) around a stretch of training steps, written as a Chrome
// trace (chrome://tracing, Perfetto): every ATen operator on the CPU and, on a CUDA device, every
// kernel with its GPU time. `saturn-worker measure --trace FILE` records the timed steps;
// bench/worker/trace_summary.py sums a trace's GPU time per kind of kernel, which is how the
// worker's step is profiled without Python.
#pragma once

#include <memory>
#include <string>

#include "saturn/error.h"

namespace saturn::worker {

class StepTrace {
 public:
  // Starts recording CPU operators, and CUDA kernels when `cuda`. Errors: a libtorch built
  // without its profiler, or a profiler already running in this process.
  static Result<std::unique_ptr<StepTrace>> start(bool cuda);
  // Stops recording and writes the trace to `path` (JSON). Call once; the destructor of a trace
  // not written stops the profiler and discards what it recorded.
  Status write(const std::string& path);
  ~StepTrace();

  StepTrace(const StepTrace&) = delete;
  StepTrace& operator=(const StepTrace&) = delete;

 private:
  StepTrace() = default;
  bool running_ = false;
};

}  // namespace saturn::worker
