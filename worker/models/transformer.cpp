// GPT-2 and ViT as block sequences: embedding block, pre-LayerNorm transformer blocks, head.
// Shapes and names: model.h.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "compat.h"
#include "models/layers.h"
#include "models/model.h"

namespace saturn::worker {
namespace {

namespace F = torch::nn::functional;

// Pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
// x: [B, T, C] -> [B, T, C].
class TransformerBlockImpl : public BlockImpl {
 public:
  TransformerBlockImpl(int d, int heads, int mlp, int layers, bool causal, bool tanh_gelu,
                       double eps)
      : heads_(heads), causal_(causal), tanh_gelu_(tanh_gelu) {
    const double std = 0.02;
    const double residual_std = 0.02 / std::sqrt(2.0 * layers);
    ln_1_ =
        register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    c_attn_ = register_module("c_attn", make_linear(d, 3 * d, std));
    attn_proj_ = register_module("c_proj", make_linear(d, d, residual_std));
    ln_2_ =
        register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    c_fc_ = register_module("c_fc", make_linear(d, mlp, std));
    mlp_proj_ = register_module("mlp_proj", make_linear(mlp, d, residual_std));
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
    // qkv: [B, T, 3C] -> q, k, v: [B, heads, T, C / heads].
    const std::vector<torch::Tensor> qkv = linear_rows(ln_1_->forward(x), c_attn_).split(c, 2);
    auto heads = [&](const torch::Tensor& y) {
      return y.view({b, t, heads_, c / heads_}).transpose(1, 2);
    };
    const torch::Tensor a = compat::attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]), causal_);
    torch::Tensor h = x + linear_rows(a.transpose(1, 2).reshape({b, t, c}), attn_proj_);
    const torch::Tensor up = linear_rows(ln_2_->forward(h), c_fc_);
    const torch::Tensor act =
        F::gelu(up, F::GELUFuncOptions().approximate(tanh_gelu_ ? "tanh" : "none"));
    return h + linear_rows(act, mlp_proj_);
  }

 private:
  int heads_;
  bool causal_, tanh_gelu_;
  torch::nn::LayerNorm ln_1_{nullptr}, ln_2_{nullptr};
  torch::nn::Linear c_attn_{nullptr}, attn_proj_{nullptr}, c_fc_{nullptr}, mlp_proj_{nullptr};
};

// GPT embedding: ids [B, T] -> token + position embeddings [B, T, C].
class GptEmbedImpl : public BlockImpl {
 public:
  GptEmbedImpl(int vocab, int context, int d) {
    wte = register_module("wte", torch::nn::Embedding(vocab, d));
    wpe = register_module("wpe", torch::nn::Embedding(context, d));
    torch::nn::init::normal_(wte->weight, 0.0, 0.02);
    torch::nn::init::normal_(wpe->weight, 0.0, 0.01);
  }
  torch::Tensor forward(const torch::Tensor& ids) override {
    const torch::Tensor positions =
        torch::arange(ids.size(1), torch::TensorOptions().dtype(torch::kLong).device(ids.device()));
    return wte->forward(ids) + wpe->forward(positions);
  }
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
};

// GPT head: final LayerNorm, then logits against the token embedding (tied): [B, T, C] ->
// [B, T, V'], V' = V rounded up to `pad_multiple` (V itself when 0). The embedding weight is the
// embed block's parameter, used here, not owned.
//
// Why pad: cuBLAS runs a matrix product whose dimensions are not multiples of 8 through slow
// unaligned kernels (GPT-2's V = 50,257: 27% of a GPT-2 355M step on an H200, three products
// at ~60 TFLOP/s, in PyTorch eager's profile). The padded rows are zeros and a -inf bias masks
// their logits, so softmax, loss and every gradient equal the unpadded head's.
class GptHeadImpl : public BlockImpl {
 public:
  GptHeadImpl(int d, double eps, torch::Tensor tied_weight, int pad_multiple)
      : tied_weight_(std::move(tied_weight)) {
    ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    const int64_t vocab = tied_weight_.size(0);
    if (pad_multiple > 0 && vocab % pad_multiple != 0) {
      pad_ = (vocab + pad_multiple - 1) / pad_multiple * pad_multiple - vocab;
    }
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    const torch::Tensor h = ln_f->forward(x);
    if (pad_ == 0) return linear_rows(h, tied_weight_, torch::Tensor());
    const auto options = tied_weight_.options();
    if (!mask_.defined() || mask_.device() != options.device() ||
        mask_.scalar_type() != tied_weight_.scalar_type()) {
      // [V'] bias: 0 for real tokens, -inf for padding.
      mask_ = torch::cat({torch::zeros({tied_weight_.size(0)}, options),
                          torch::full({pad_}, -std::numeric_limits<double>::infinity(), options)});
    }
    const torch::Tensor weight =
        torch::cat({tied_weight_, torch::zeros({pad_, tied_weight_.size(1)}, options)});
    return linear_rows(h, weight, mask_);
  }
  std::vector<torch::Tensor> tied_parameters() const override { return {tied_weight_}; }
  torch::nn::LayerNorm ln_f{nullptr};

 private:
  torch::Tensor tied_weight_;
  int64_t pad_ = 0;
  torch::Tensor mask_;  // not a parameter: built on first use on the weight's device and dtype
};

// ViT embedding: images [B, 3, H, W] -> [B, 1 + (H/p)(W/p), C].
class VitEmbedImpl : public BlockImpl {
 public:
  VitEmbedImpl(int patch, int d, int tokens) {
    proj = register_module("proj",
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(3, d, patch).stride(patch)));
    cls = register_parameter("cls_token", torch::zeros({1, 1, d}));
    pos = register_parameter("pos_embed", torch::randn({1, tokens, d}) * 0.02);
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    torch::Tensor x = proj->forward(images).flatten(2).transpose(1, 2);  // [B, N, C]
    x = torch::cat({cls.expand({x.size(0), -1, -1}).to(x.scalar_type()), x}, 1);
    return x + pos;
  }
  torch::nn::Conv2d proj{nullptr};
  torch::Tensor cls, pos;
};

// ViT head: LayerNorm, class token -> logits [B, K].
class VitHeadImpl : public BlockImpl {
 public:
  VitHeadImpl(int d, double eps, int classes) {
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    fc = register_module("fc", make_linear(d, classes, 0.02));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return fc->forward(norm->forward(x.select(1, 0)));
  }
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace

std::shared_ptr<Model> build_gpt(const ModelArchitecture& a, int vocab, int context,
                                 int vocab_pad_multiple, BlockSink sink) {
  auto model = std::make_shared<Model>(a, std::move(sink));
  auto embed = std::make_shared<GptEmbedImpl>(vocab, context, a.d_model);
  model->add_block("embed", embed);
  for (int i = 0; i < a.layers; ++i) {
    model->add_block(fmt::format("h.{}", i),
                     std::make_shared<TransformerBlockImpl>(a.d_model, a.heads, a.mlp, a.layers,
                                                            true, true, a.norm_eps));
  }
  model->add_block("head", std::make_shared<GptHeadImpl>(a.d_model, a.norm_eps, embed->wte->weight,
                                                         vocab_pad_multiple));
  return model;
}

std::shared_ptr<Model> build_vit(const ModelArchitecture& a, int image_size, BlockSink sink) {
  auto model = std::make_shared<Model>(a, std::move(sink));
  const int grid = image_size / a.patch;
  model->add_block("embed", std::make_shared<VitEmbedImpl>(a.patch, a.d_model, grid * grid + 1));
  for (int i = 0; i < a.layers; ++i) {
    model->add_block(fmt::format("blocks.{}", i),
                     std::make_shared<TransformerBlockImpl>(a.d_model, a.heads, a.mlp, a.layers,
                                                            false, false, a.norm_eps));
  }
  model->add_block("head", std::make_shared<VitHeadImpl>(a.d_model, a.norm_eps, a.classes));
  return model;
}

}  // namespace saturn::worker
