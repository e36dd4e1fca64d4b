// GPT-J as a block sequence (EleutherAI's GPT-J 6B and smaller models of its shape; names and
// shapes: model.h):
//   embed:  ids [B, T] -> token embeddings [B, T, C] (no learned positions)
//   h.i:    x + attn(ln_1(x)) + mlp(ln_1(x)) — one LayerNorm feeding attention and the MLP in
//           parallel; q/k/v/out projections without bias; rotary position embeddings on the first
//           rotary_dim dimensions of each head's q and k, rotating interleaved pairs (dimensions
//           2i and 2i+1, "rotate every two"); causal attention; MLP fc_in -> gelu_new -> fc_out
//   head:   ln_f, then an untied LM head with bias: [B, T, C] -> logits [B, T, V]
#include <cmath>

#include <fmt/format.h>

#include "compat.h"
#include "models/layers.h"
#include "models/model.h"

namespace saturn::worker {
namespace {

namespace F = torch::nn::functional;

// Rotary embedding of x [B, T, H, D] on its first `dims` dimensions: pair (2i, 2i+1) rotated by
// position x 10000^(-2i/dims). cos/sin [T, dims/2] are computed in fp32 and cached per length
// and device (not parameters or buffers: nothing to checkpoint).
class Rotary {
 public:
  explicit Rotary(int dims) : dims_(dims) {}

  torch::Tensor apply(const torch::Tensor& x) {
    const int64_t t = x.size(1);
    if (!cos_.defined() || cos_.size(0) < t || cos_.device() != x.device()) table(t, x.device());
    // [T, dims/2] -> [1, T, 1, dims]: each frequency twice, for its pair.
    const auto expand = [&](const torch::Tensor& f) {
      return f.slice(0, 0, t).repeat_interleave(2, -1).view({1, t, 1, dims_}).to(x.scalar_type());
    };
    const torch::Tensor rot = x.slice(-1, 0, dims_);
    const torch::Tensor pass = x.slice(-1, dims_);
    // rotate every two: (x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)
    const torch::Tensor even = rot.slice(-1, 0, dims_, 2), odd = rot.slice(-1, 1, dims_, 2);
    const torch::Tensor rotated = torch::stack({-odd, even}, -1).flatten(-2);
    const torch::Tensor out = rot * expand(cos_) + rotated * expand(sin_);
    return pass.size(-1) > 0 ? torch::cat({out, pass}, -1) : out;
  }

 private:
  void table(int64_t length, torch::Device device) {
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
    const torch::Tensor inv_freq =
        1.0 / torch::pow(10000.0, torch::arange(0, dims_, 2, f32) / static_cast<double>(dims_));
    const torch::Tensor angles = torch::outer(torch::arange(length, f32), inv_freq);
    cos_ = angles.cos();
    sin_ = angles.sin();
  }
  int dims_;
  torch::Tensor cos_, sin_;  // [length, dims/2]
};

class GptjBlockImpl : public BlockImpl {
 public:
  GptjBlockImpl(const ModelArchitecture& a) : heads_(a.heads), rotary_(a.rotary_dim) {
    const int d = a.d_model;
    const double std = 0.02, residual_std = 0.02 / std::sqrt(2.0 * a.layers);
    ln_1 = register_module("ln_1",
                           torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(a.norm_eps)));
    q_proj = register_module("q_proj", make_linear(d, d, std, false));
    k_proj = register_module("k_proj", make_linear(d, d, std, false));
    v_proj = register_module("v_proj", make_linear(d, d, std, false));
    out_proj = register_module("out_proj", make_linear(d, d, residual_std, false));
    fc_in = register_module("fc_in", make_linear(d, a.mlp, std));
    fc_out = register_module("fc_out", make_linear(a.mlp, d, residual_std));
  }

  // x [B, T, C] -> [B, T, C].
  torch::Tensor forward(const torch::Tensor& x) override {
    const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
    const torch::Tensor h = ln_1->forward(x);
    auto heads = [&](const torch::Tensor& y) { return y.view({b, t, heads_, c / heads_}); };
    // [B, T, H, D] (rotated) -> [B, H, T, D]
    const torch::Tensor q = rotary_.apply(heads(linear_rows(h, q_proj))).transpose(1, 2);
    const torch::Tensor k = rotary_.apply(heads(linear_rows(h, k_proj))).transpose(1, 2);
    const torch::Tensor v = heads(linear_rows(h, v_proj)).transpose(1, 2);
    const torch::Tensor a = compat::attention(q, k, v, /*causal=*/true);
    const torch::Tensor attn = linear_rows(a.transpose(1, 2).reshape({b, t, c}), out_proj);
    const torch::Tensor up = linear_rows(h, fc_in);
    const torch::Tensor mlp =
        linear_rows(F::gelu(up, F::GELUFuncOptions().approximate("tanh")), fc_out);
    return x + attn + mlp;
  }

  torch::nn::LayerNorm ln_1{nullptr};
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  torch::nn::Linear fc_in{nullptr}, fc_out{nullptr};

 private:
  int heads_;
  Rotary rotary_;
};

// ids [B, T] -> [B, T, C].
class GptjEmbedImpl : public BlockImpl {
 public:
  GptjEmbedImpl(int vocab, int d) {
    wte = register_module("wte", torch::nn::Embedding(vocab, d));
    torch::nn::init::normal_(wte->weight, 0.0, 0.02);
  }
  torch::Tensor forward(const torch::Tensor& ids) override { return wte->forward(ids); }
  torch::nn::Embedding wte{nullptr};
};

// [B, T, C] -> logits [B, T, V]: ln_f, then the LM head (its own weight and bias).
class GptjHeadImpl : public BlockImpl {
 public:
  GptjHeadImpl(int d, double eps, int vocab) {
    ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    lm_head = register_module("lm_head", make_linear(d, vocab, 0.02));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return linear_rows(ln_f->forward(x), lm_head);
  }
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr};
};

}  // namespace

std::shared_ptr<Model> build_gptj(const ModelArchitecture& a, int vocab, BlockSink sink) {
  auto model = std::make_shared<Model>(a, std::move(sink));
  model->add_block("embed", std::make_shared<GptjEmbedImpl>(vocab, a.d_model));
  for (int i = 0; i < a.layers; ++i) {
    model->add_block(fmt::format("h.{}", i), std::make_shared<GptjBlockImpl>(a));
  }
  model->add_block("head", std::make_shared<GptjHeadImpl>(a.d_model, a.norm_eps, vocab));
  return model;
}

}  // namespace saturn::worker
