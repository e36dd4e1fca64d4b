// bench_cross_entropy: the LM head's loss, forward and backward, timed for each implementation
// side by side in one process: the worker's mean_cross_entropy (models/cross_entropy.h: fused
// CUDA kernels where built, ATen operations otherwise) and PyTorch's log_softmax (fp32) +
// nll_loss, which the worker used before. Same logits and targets for both; the gradients are
// compared so a fast wrong answer shows.
//
//   bench_cross_entropy [--rows N] [--cols V] [--device cuda|cpu] [--fp32] [--repeats R] [--json]
//
// Defaults: GPT-2's padded head at 8 × 1024 tokens (8,192 × 50,304 bf16 logits) on CUDA.
// Prints, per implementation, the median over R repeats (after two untimed ones) of the seconds
// for forward + backward, and the largest gradient difference from log_softmax + nll_loss.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "models/cross_entropy.h"

namespace {

using Loss = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The LM head's loss, forward + backward, per implementation, side by side"};
  std::int64_t rows = 8192, cols = 50304;
  int repeats = 10;
  std::string device_name = "cuda";
  bool fp32 = false, as_json = false;
  app.add_option("--rows", rows, "Rows of logits (tokens)")->capture_default_str();
  app.add_option("--cols", cols, "Columns of logits (vocabulary)")->capture_default_str();
  app.add_option("--device", device_name, "cuda or cpu")->capture_default_str();
  app.add_option("--repeats", repeats, "Timed repeats per implementation")->capture_default_str();
  app.add_flag("--fp32", fp32, "fp32 logits instead of bf16");
  app.add_flag("--json", as_json, "One JSON object per implementation");
  CLI11_PARSE(app, argc, argv);
  if (device_name == "cuda" && !torch::cuda::is_available()) {
    std::fprintf(stderr, "bench_cross_entropy: no CUDA device; use --device cpu\n");
    return 2;
  }
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  const auto dtype = fp32 ? torch::kFloat : torch::kBFloat16;

  torch::manual_seed(1);
  const torch::Tensor logits0 = (torch::randn({rows, cols}) * 2).to(device, dtype);
  const torch::Tensor targets = torch::randint(0, cols, {rows}, torch::kLong).to(device);
  struct Kind {
    std::string name;
    Loss loss;
  };
  const std::vector<Kind> kinds = {
      {"log_softmax + nll_loss",
       [](const torch::Tensor& x, const torch::Tensor& t) {
         return torch::nll_loss(torch::log_softmax(x, -1, torch::kFloat), t);
       }},
      {saturn::worker::uses_fused_cross_entropy(logits0) ? "mean_cross_entropy (fused kernels)"
                                                          : "mean_cross_entropy (ATen ops)",
       [](const torch::Tensor& x, const torch::Tensor& t) {
         return saturn::worker::mean_cross_entropy(x, t);
       }}};
  torch::Tensor reference_grad;
  for (const Kind& kind : kinds) {
    const torch::Tensor logits = logits0.detach().clone().requires_grad_(true);
    std::vector<double> times;
    double loss_value = 0;
    for (int r = -2; r < repeats; ++r) {
      logits.mutable_grad() = torch::Tensor();
      sync(device);
      const auto t0 = std::chrono::steady_clock::now();
      const torch::Tensor loss = kind.loss(logits, targets);
      loss.backward();
      sync(device);
      if (r >= 0) {
        times.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      loss_value = loss.item<double>();
    }
    const torch::Tensor grad = logits.grad().to(torch::kFloat);
    if (!reference_grad.defined()) reference_grad = grad;
    const double diff = (grad - reference_grad).abs().max().item<double>();
    const double s = median(times);
    const nlohmann::json row = {{"implementation", kind.name},
                                {"device", device.str()},
                                {"rows", rows},
                                {"cols", cols},
                                {"dtype", fp32 ? "fp32" : "bf16"},
                                {"forward_backward_s", s},
                                {"loss", loss_value},
                                {"max_grad_diff", diff}};
    if (as_json) {
      std::puts(row.dump().c_str());
    } else {
      fmt::print("{:<36} {} x {} {}  {:>9.3f} ms  loss {:.6f}  max |grad diff| {:.3g}\n",
                 kind.name, rows, cols, fp32 ? "fp32" : "bf16", s * 1e3, loss_value, diff);
    }
  }
  return 0;
}
