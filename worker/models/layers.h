// Layers the transformer families share (transformer.cpp, gptj.cpp): GPT-2's linear
// initialisation and a linear map over [..., in] rows with the bias in the product's epilogue.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace saturn::worker {

// A linear layer initialised as GPT-2 does: weight ~ N(0, std), bias 0 (or none).
inline torch::nn::Linear make_linear(int64_t in, int64_t out, double std, bool bias = true) {
  torch::nn::Linear l(torch::nn::LinearOptions(in, out).bias(bias));
  torch::nn::init::normal_(l->weight, 0.0, std);
  if (bias) torch::nn::init::zeros_(l->bias);
  return l;
}

// x [..., in] -> x W^T + b [..., out], as one matrix product over x's rows with the bias added
// in its epilogue (addmm). libtorch's C++ `torch::nn::functional::linear`, which
// `torch::nn::Linear` runs, fuses the bias only for a 2-D input; on [B, T, C] it runs the product
// and then adds the bias by broadcasting, which took 6 of 52 ms of a GPT-2 355M step on an H200
// (docs/benchmarks.md#worker-throughput-45). `bias` may be undefined; it need not require grad.
inline torch::Tensor linear_rows(const torch::Tensor& x, const torch::Tensor& weight,
                                 const torch::Tensor& bias) {
  if (!bias.defined()) return torch::matmul(x, weight.t());
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = weight.size(0);
  return torch::addmm(bias, x.reshape({-1, x.size(-1)}), weight.t()).view(shape);
}

inline torch::Tensor linear_rows(const torch::Tensor& x, const torch::nn::Linear& layer) {
  return linear_rows(x, layer->weight, layer->bias);
}

}  // namespace saturn::worker
