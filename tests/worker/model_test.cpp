// Models: block sequences with the zoo's parameter counts, forward and backward shapes, and a
// numerical check of GPT's attention and MLP against a hand-written computation.
#include <cmath>
#include <cstdio>
#include <limits>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "models/cross_entropy.h"
#include "models/model.h"

namespace saturn::worker {
namespace {

std::shared_ptr<Model> make(const std::string& name, ModelShapeOptions shape = {}) {
  auto arch = find_architecture(name);
  EXPECT_TRUE(arch.ok());
  auto m = build_model(*arch, shape, 1);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().to_string());
  return *m;
}

std::int64_t distinct_params(Model& m) {
  std::set<const void*> seen;
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (seen.insert(p.unsafeGetTensorImpl()).second) n += p.numel();
  }
  return n;
}

TEST(Models, ParameterCountsMatchTheZoo) {
  for (const char* name : {"gpt2-tiny", "gpt2-mini", "gptj-tiny", "vit-tiny", "resnet-tiny"}) {
    auto m = make(name);
    auto shape = find_model(name);
    ASSERT_TRUE(shape.ok());
    EXPECT_EQ(distinct_params(*m), shape->params) << name;
    EXPECT_EQ(m->blocks().size(), shape->blocks.size()) << name;
  }
  // The published GPT-2 124M, built for real.
  auto gpt2 = make("gpt2");
  EXPECT_EQ(distinct_params(*gpt2), 124439808);
}

TEST(Models, ForwardAndBackwardShapes) {
  auto gpt = make("gpt2-tiny", {16, 256, 0});
  const torch::Tensor ids = torch::randint(0, 256, {3, 16}, torch::kLong);
  const torch::Tensor logits = gpt->forward(ids);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 16, 256}));
  gpt->loss(logits, ids).backward();
  for (const auto& p : gpt->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().sizes(), p.sizes());
  }
  auto vit = make("vit-tiny");
  EXPECT_EQ(vit->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
  auto resnet = make("resnet-tiny");
  EXPECT_EQ(resnet->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
  // The loss of an untrained classifier is about ln(classes).
  const torch::Tensor loss = resnet->loss(resnet->forward(torch::randn({8, 3, 32, 32})),
                                          torch::randint(0, 10, {8}, torch::kLong));
  EXPECT_NEAR(loss.item<double>(), std::log(10.0), 1.0);
}

TEST(Models, GptBlockComputesWhatTheArchitectureSays) {
  auto gpt = make("gpt2-tiny", {5, 256, 0});
  const Block& block = gpt->blocks()[1];  // h.0
  const torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 5, 64});
  auto param = [&](const std::string& name) {
    for (const auto& p : block->named_parameters()) {
      if (p.key() == name) return p.value();
    }
    ADD_FAILURE() << name;
    return torch::Tensor();
  };
  // GPT-2 starts with zero biases and LayerNorm at identity: give every one of them values, so
  // that a bias dropped or added along the wrong axis shows.
  for (auto& p : block->named_parameters()) {
    if (p.key().find("bias") != std::string::npos || p.key().find("ln_") == 0) {
      p.value().copy_(torch::randn_like(p.value()));
    }
  }
  auto ln = [](const torch::Tensor& v, const torch::Tensor& w, const torch::Tensor& b) {
    const torch::Tensor mean = v.mean(-1, true);
    const torch::Tensor var = (v - mean).pow(2).mean(-1, true);
    return (v - mean) / torch::sqrt(var + 1e-5) * w + b;
  };
  // Attention by hand: 4 heads of 16, causal softmax(q k^T / 4) v.
  const torch::Tensor h = ln(x, param("ln_1.weight"), param("ln_1.bias"));
  const torch::Tensor qkv = torch::matmul(h, param("c_attn.weight").t()) + param("c_attn.bias");
  auto heads = [](const torch::Tensor& t) { return t.view({2, 5, 4, 16}).transpose(1, 2); };
  const torch::Tensor q = heads(qkv.narrow(2, 0, 64)), k = heads(qkv.narrow(2, 64, 64)),
                      v = heads(qkv.narrow(2, 128, 64));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / 4.0;
  scores = scores.masked_fill(torch::ones({5, 5}, torch::kBool).triu(1), -1e9);
  const torch::Tensor attn =
      torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({2, 5, 64});
  const torch::Tensor x1 =
      x + torch::matmul(attn, param("c_proj.weight").t()) + param("c_proj.bias");
  const torch::Tensor u =
      torch::matmul(ln(x1, param("ln_2.weight"), param("ln_2.bias")), param("c_fc.weight").t()) +
      param("c_fc.bias");
  const torch::Tensor gelu =
      0.5 * u * (1 + torch::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u.pow(3))));
  const torch::Tensor expected =
      x1 + torch::matmul(gelu, param("mlp_proj.weight").t()) + param("mlp_proj.bias");
  EXPECT_TRUE(torch::allclose(block->forward(x), expected, 1e-4, 1e-5));
  // The first position attends to itself only: changing later tokens leaves it unchanged.
  torch::Tensor y = x.clone();
  y.narrow(1, 1, 4).add_(1.0);
  EXPECT_TRUE(
      torch::allclose(block->forward(y).select(1, 0), block->forward(x).select(1, 0), 1e-5, 1e-6));
}

TEST(Models, PaddedLmHeadGivesTheSameLossAndGradients) {
  // Vocabulary 250 padded to 256: logits gain 6 masked columns; nothing else changes.
  auto plain = make("gpt2-tiny", {16, 250, 0});
  auto padded = make("gpt2-tiny", {16, 250, 0, 64});
  const torch::Tensor ids = torch::randint(0, 250, {3, 16}, torch::kLong);
  const torch::Tensor a = plain->forward(ids), b = padded->forward(ids);
  EXPECT_EQ(b.sizes(), (std::vector<int64_t>{3, 16, 256}));
  EXPECT_TRUE(torch::allclose(a, b.narrow(-1, 0, 250), 1e-5, 1e-6));
  EXPECT_TRUE(torch::isinf(b.narrow(-1, 250, 6)).all().item<bool>());
  const torch::Tensor la = plain->loss(a, ids), lb = padded->loss(b, ids);
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-6);
  la.backward();
  lb.backward();
  auto pa = plain->named_parameters(), pb = padded->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) {
    const torch::Tensor& g = pb[item.key()].grad();
    ASSERT_TRUE(g.defined()) << item.key();
    EXPECT_FALSE(torch::isnan(g).any().item<bool>()) << item.key();
    EXPECT_TRUE(torch::allclose(item.value().grad(), g, 1e-4, 1e-6)) << item.key();
  }
}

// The loss the worker computed before mean_cross_entropy, and PyTorch's definition of it.
torch::Tensor log_softmax_nll(const torch::Tensor& logits, const torch::Tensor& targets) {
  return torch::nll_loss(torch::log_softmax(logits, -1, torch::kFloat), targets);
}

// mean_cross_entropy against log_softmax + nll_loss on `device`: loss, and the gradient of
// 0.25 · loss (an upstream gradient other than 1, as gradient accumulation gives), for logits
// [rows, cols] with two masked (−inf) columns. Tolerances fit bf16 logits.
void expect_cross_entropy_matches(const torch::Device& device, torch::ScalarType dtype,
                                  std::int64_t rows, std::int64_t cols) {
  SCOPED_TRACE(fmt::format("{} {} x {} {}", device.str(), rows, cols,
                           dtype == torch::kBFloat16 ? "bf16" : "fp32"));
  torch::manual_seed(3);
  torch::Tensor x0 = torch::randn({rows, cols}) * 3;
  x0.narrow(1, cols - 2, 2).fill_(-std::numeric_limits<float>::infinity());
  x0 = x0.to(device, dtype);
  const torch::Tensor targets = torch::randint(0, cols - 2, {rows}, torch::kLong).to(device);
  const torch::Tensor a = x0.clone().requires_grad_(true), b = x0.clone().requires_grad_(true);
  const torch::Tensor la = mean_cross_entropy(a, targets), lb = log_softmax_nll(b, targets);
  EXPECT_EQ(la.scalar_type(), torch::kFloat);
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-5 * std::abs(lb.item<double>()));
  (la * 0.25).backward();
  (lb * 0.25).backward();
  ASSERT_EQ(a.grad().scalar_type(), dtype);
  const torch::Tensor ga = a.grad().to(torch::kFloat).cpu(), gb = b.grad().to(torch::kFloat).cpu();
  const double atol = dtype == torch::kBFloat16 ? 1e-3 / static_cast<double>(rows) : 1e-7;
  EXPECT_TRUE(torch::allclose(ga, gb, 1e-2, atol))
      << "max difference " << (ga - gb).abs().max().item<double>();
  EXPECT_TRUE(torch::all(ga.narrow(1, cols - 2, 2) == 0).item<bool>()) << "masked columns";
  // Without autograd (evaluation) the same loss.
  const torch::NoGradGuard no_grad;
  EXPECT_EQ(mean_cross_entropy(x0, targets).item<double>(), la.item<double>());
}

TEST(Models, CrossEntropyEqualsLogSoftmaxAndNll) {
  expect_cross_entropy_matches(torch::kCPU, torch::kFloat, 37, 250);
  expect_cross_entropy_matches(torch::kCPU, torch::kBFloat16, 16, 256);
}

TEST(Models, CrossEntropyRejectsBadShapes) {
  const torch::Tensor logits = torch::randn({4, 10});
  EXPECT_THROW(mean_cross_entropy(logits, torch::zeros({5}, torch::kLong)), c10::Error);
  EXPECT_THROW(mean_cross_entropy(logits, torch::zeros({4}, torch::kInt)), c10::Error);
  EXPECT_THROW(mean_cross_entropy(logits.reshape({2, 2, 10}), torch::zeros({4}, torch::kLong)),
               c10::Error);
}

// The fused kernels where the worker was built with them (a CUDA compiler was found): both the
// 16-byte vector path (columns a multiple of 8) and the element path, bf16 and fp32, and what
// they give for a NaN logit and for a target outside the vocabulary.
TEST(Models, CrossEntropyOnCudaEqualsLogSoftmaxAndNll) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  const torch::Tensor probe = torch::zeros({1, 1}, torch::dtype(torch::kBFloat16).device(cuda));
  std::printf("mean_cross_entropy on CUDA: %s\n",
              uses_fused_cross_entropy(probe) ? "fused kernels"
                                              : "ATen operations (no kernels built)");
  expect_cross_entropy_matches(cuda, torch::kBFloat16, 64, 50304);
  expect_cross_entropy_matches(cuda, torch::kBFloat16, 33, 1001);
  expect_cross_entropy_matches(cuda, torch::kFloat, 64, 50304);
  expect_cross_entropy_matches(cuda, torch::kFloat, 7, 37);
  torch::Tensor x = torch::randn({4, 64}).to(cuda, torch::kBFloat16);
  x[1][5] = std::numeric_limits<float>::quiet_NaN();
  const torch::Tensor targets = torch::zeros({4}, torch::kLong).to(cuda);
  EXPECT_TRUE(std::isnan(mean_cross_entropy(x, targets).item<double>()));
  if (uses_fused_cross_entropy(x)) {
    // The kernels do not index outside the row: an out-of-range target gives a NaN loss.
    const torch::Tensor bad = torch::full({4}, 64, torch::kLong).to(cuda);
    EXPECT_TRUE(std::isnan(mean_cross_entropy(torch::randn({4, 64}).to(cuda), bad).item<double>()));
  }
}

TEST(Models, SameSeedSameModel) {
  auto a = make("gpt2-tiny"), b = make("gpt2-tiny");
  auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

}  // namespace
}  // namespace saturn::worker
