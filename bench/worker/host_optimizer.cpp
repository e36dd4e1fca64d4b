// bench_host_optimizer: one AdamW step over flat buffers in host memory, as offloading and FSDP
// with CPU offload run it, timed for each implementation side by side in one process: the
// one-pass host kernel (train/host_adamw.h), PyTorch's fused AdamW where this libtorch has it,
// and the portable tensor-op update. Buffers have offloading's layout on a GPU machine (bf16
// gradient and compute copy, fp32 master and moments) or fp32 throughout (--fp32).
//
//   bench_host_optimizer [--params N] [--repeats R] [--threads T] [--clip C] [--fp32] [--json]
//
// Prints, per implementation, the median step time over R steps (after one untimed step),
// parameters per second and the implied host memory traffic.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "compat.h"
#include "train/parameters.h"

namespace {

using saturn::worker::FlatOptimizer;
using saturn::worker::FlatParameters;
using saturn::worker::OptimizerConfig;

// A module of `params` parameters: matrices (weight decay) and vectors (none), as in a model.
struct Flat : torch::nn::Module {
  explicit Flat(std::int64_t params) {
    const std::int64_t rows = 4096;
    const std::int64_t matrices = std::max<std::int64_t>(1, params / (rows * rows + rows));
    for (std::int64_t i = 0; i < matrices; ++i) {
      register_parameter(fmt::format("w{}", i), torch::randn({rows, rows}) * 0.02);
      register_parameter(fmt::format("b{}", i), torch::zeros({rows}));
    }
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"One host AdamW step per implementation, side by side"};
  std::int64_t params = 1LL << 28;
  int repeats = 5, threads = 0;
  double clip = 1.0;
  bool fp32 = false, as_json = false;
  app.add_option("--params", params, "Parameters (rounded down to 4096 x 4097 blocks)")
      ->capture_default_str();
  app.add_option("--repeats", repeats, "Timed steps per implementation")->capture_default_str();
  app.add_option("--threads", threads, "Intra-op threads (0: libtorch's default)");
  app.add_option("--clip", clip, "Gradient clipping norm (0: none)")->capture_default_str();
  app.add_flag("--fp32", fp32, "fp32 gradient and compute (CPU training) instead of bf16");
  app.add_flag("--json", as_json, "One JSON object per implementation");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;

  struct Kind {
    std::string name;
    bool host_kernel, fused;
  };
  std::vector<Kind> kinds = {{"host kernel (host_adamw.h)", true, true},
                             {"portable tensor ops", false, false}};
  if (saturn::worker::compat::kHasFusedAdamW) kinds.insert(kinds.begin() + 1, {"PyTorch fused AdamW", false, true});
  const auto dtype = fp32 ? torch::kFloat : torch::kBFloat16;
  for (const Kind& kind : kinds) {
    torch::manual_seed(1);
    Flat module(params);
    FlatParameters flat(module, torch::kCPU, dtype);
    OptimizerConfig config;
    config.weight_decay = 0.1;
    config.host_kernel = kind.host_kernel;
    config.fused = kind.fused;
    FlatOptimizer optimizer(flat, config);
    flat.grad().copy_(torch::randn({flat.numel()}) * 1e-3);
    optimizer.step(1e-4, clip);  // untimed: first touch of the moments
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      optimizer.step(1e-4, clip);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double s = median(times);
    // Bytes a step must move at least: gradient and compute copy in their dtype, master and
    // moments read and written (what the host kernel moves in its update pass).
    const double gbytes = fp32 ? 4 : 2;
    const double bytes = static_cast<double>(flat.numel()) * (gbytes + 24 + (fp32 ? 0 : 2));
    const nlohmann::json row = {{"implementation", kind.name},
                                {"params", flat.numel()},
                                {"dtype", fp32 ? "fp32" : "bf16"},
                                {"threads", torch::get_num_threads()},
                                {"threads_used", saturn::worker::host_loop_threads()},
                                {"clip", clip},
                                {"step_s", s},
                                {"params_per_s", flat.numel() / s},
                                {"min_traffic_gb_per_s", bytes / s / 1e9}};
    if (as_json) {
      std::puts(row.dump().c_str());
    } else {
      fmt::print("{:<28} {:>12} params  {:>8.3f} s  {:>6.2f}e9 params/s  {:>6.1f} GB/s\n",
                 kind.name, flat.numel(), s, flat.numel() / s / 1e9, bytes / s / 1e9);
    }
  }
  return 0;
}
