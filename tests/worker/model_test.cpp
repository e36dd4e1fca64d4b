// Models: block sequences with the zoo's parameter counts, forward and backward shapes, and a
// numerical check of GPT's attention and MLP against a hand-written computation.
#include <gtest/gtest.h>

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
  for (const char* name : {"gpt2-tiny", "gpt2-mini", "vit-tiny", "resnet-tiny"}) {
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

TEST(Models, SameSeedSameModel) {
  auto a = make("gpt2-tiny"), b = make("gpt2-tiny");
  auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

}  // namespace
}  // namespace saturn::worker
