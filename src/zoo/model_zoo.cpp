// The model zoo: GPT-2, GPT-J, ViT and ResNet built layer by layer into block sequences with
// parameter counts, forward FLOPs and activation bytes per sample. Conventions: model_zoo.h;
// formulas and sources: docs/estimator.md#model-zoo.
#include "saturn/model_zoo.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace saturn {

double ModelShape::activation_bytes() const {
  double total = 0;
  for (const BlockShape& b : blocks) total += b.activation_bytes;
  return total;
}

double ModelShape::block_input_bytes(std::size_t i) const {
  return i == 0 ? input_bytes : blocks[i - 1].output_bytes;
}

double ModelShape::checkpointed_activation_bytes() const {
  double inputs = 0;
  double largest = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    inputs += block_input_bytes(i);
    largest = std::max(largest, blocks[i].activation_bytes);
  }
  return inputs + largest;
}

namespace {

constexpr double kBf16 = 2;            // bytes per bf16 activation element
constexpr double kMask = 1;            // bytes per dropout-mask element
constexpr double kFp32 = 4;            // bytes per fp32 element
constexpr int kVocabPadMultiple = 64;  // the LM head's rows, padded (saturn-worker on CUDA)
constexpr double kTokenId = 8;         // int64 token ids
constexpr int kDefaultImage = 224;     // pixels, the published image models

// ---- Transformers -----------------------------------------------------------------------------

// One transformer layer's shape; GPT-2, GPT-J and ViT differ only in these switches.
struct TransformerLayer {
  int d = 0;              // hidden size
  int heads = 0;          // attention heads
  int mlp = 0;            // MLP width
  bool attn_bias = true;  // biases on the q/k/v and output projections
  bool parallel = false;  // GPT-J: attention and MLP read the same LayerNorm output
  bool dropout = false;   // residual dropout masks kept for backward (GPT-2's 0.1 default)
};

BlockShape transformer_layer(const TransformerLayer& t, int seq, const std::string& name) {
  const double d = t.d, f = t.mlp, s = seq;
  const int norms = t.parallel ? 1 : 2;
  BlockShape b;
  b.name = name;
  b.params = std::int64_t{norms} * 2 * t.d                                // LayerNorm gain, bias
             + std::int64_t{4} * t.d * t.d + (t.attn_bias ? 4 * t.d : 0)  // q, k, v, out
             + std::int64_t{2} * t.d * t.mlp + t.mlp + t.d;               // MLP in, out (+bias)
  // q, k, v and output projections (8 s d^2), MLP (4 s d f), scores QK^T and scores x V (4 s^2 d).
  b.forward_flops = 8 * s * d * d + 4 * s * d * f + 4 * s * s * d;
  double act = norms * kBf16 * s * d;       // LayerNorm inputs (the first is the layer's input)
  act += kBf16 * s * d;                     // q/k/v projection input (LayerNorm output)
  act += 3 * kBf16 * s * d;                 // q, k, v (flash attention's inputs)
  act += kFp32 * s * t.heads;               // flash attention's log-sum-exp
  act += kBf16 * s * d;                     // attention output = output projection input
  if (!t.parallel) act += kBf16 * s * d;    // MLP input (second LayerNorm output)
  act += 2 * kBf16 * s * f;                 // GELU input and output (MLP matmul inputs)
  if (t.dropout) act += 2 * kMask * s * d;  // residual dropout masks after attention and MLP
  b.activation_bytes = act;
  b.output_bytes = kBf16 * s * d;
  return b;
}

// GPT-2 and GPT-J differ in these switches (derived from the family).
struct GptConfig {
  std::string family;
  int layers, d, heads, mlp, vocab, context;
  bool learned_positions, parallel, tied_head, head_bias, attn_bias, dropout;
};

GptConfig gpt_config(const ModelArchitecture& a, int vocab) {
  const bool gptj = a.family == "gptj";
  return GptConfig{a.family,
                   a.layers,
                   a.d_model,
                   a.heads,
                   a.mlp,
                   vocab,
                   a.context,
                   /*learned_positions=*/!gptj,
                   /*parallel=*/gptj,
                   /*tied_head=*/!gptj,
                   /*head_bias=*/gptj,
                   /*attn_bias=*/!gptj,
                   /*dropout=*/!gptj};
}

ModelShape build_gpt(const std::string& name, const GptConfig& c, int seq) {
  ModelShape m;
  m.name = name;
  m.family = c.family;
  m.compute = ComputeKind::kTransformer;
  m.seq_len = seq;
  m.context = c.context;
  m.input_bytes = kTokenId * seq;
  const double s = seq, d = c.d, v = c.vocab;
  const std::int64_t embedding = std::int64_t{c.vocab} * c.d;

  BlockShape embed;
  embed.name = "embed";
  embed.params = embedding + (c.learned_positions ? std::int64_t{c.context} * c.d : 0);
  embed.forward_flops = 0;  // a table lookup (and a sum with the positions)
  embed.activation_bytes = m.input_bytes + (c.dropout ? kMask * s * d : 0);
  embed.output_bytes = kBf16 * s * d;
  m.blocks.push_back(embed);

  const TransformerLayer layer{c.d, c.heads, c.mlp, c.attn_bias, c.parallel, c.dropout};
  for (int i = 0; i < c.layers; ++i) {
    m.blocks.push_back(transformer_layer(layer, seq, fmt::format("h.{}", i)));
  }

  BlockShape head;
  head.name = "head";
  head.params = 2 * std::int64_t{c.d};  // final LayerNorm
  if (c.tied_head) {
    head.tied_params = embedding;
  } else {
    head.params += embedding + (c.head_bias ? c.vocab : 0);
  }
  head.forward_flops = 2 * s * d * v;
  // LayerNorm input, LM-head input, the bf16 logits and the fp32 log-sum-exp per token that
  // saturn-worker's fused cross-entropy keeps; and the bf16 gradient of the logits, which exists
  // when the backward pass starts, while every activation is still held (the peak). (The loss's
  // ATen path, in a worker built without nvcc, keeps fp32 copies of the logits and their fp32
  // gradient instead: 10 bytes per logit, not 4; docs/benchmarks.md#worker-throughput-45.)
  head.activation_bytes = 2 * kBf16 * s * d + 2 * kBf16 * s * v + kFp32 * s;
  head.output_bytes = kFp32;  // the loss
  if (c.tied_head && c.vocab % kVocabPadMultiple != 0) {
    const double padded = std::ceil(v / kVocabPadMultiple) * kVocabPadMultiple;
    head.workspace_bytes = 2 * kBf16 * padded * d;
  }
  m.blocks.push_back(head);
  return m;
}

// ---- Vision Transformer -----------------------------------------------------------------------

ModelShape build_vit(const ModelArchitecture& c, int image) {
  const std::string& name = c.name;
  const int classes = c.classes;
  ModelShape m;
  m.name = name;
  m.family = "vit";
  m.compute = ComputeKind::kTransformer;
  m.image_size = image;
  const int grid = image / c.patch;
  const double patches = double(grid) * grid;
  const int seq = grid * grid + 1;  // patches + class token
  m.seq_len = seq;
  m.input_bytes = kBf16 * 3.0 * image * image;
  const double s = seq, d = c.d_model;

  BlockShape embed;
  embed.name = "patch_embed";
  // Patch projection (a conv with stride = kernel = patch), class token, one position per token.
  embed.params = std::int64_t{3} * c.patch * c.patch * c.d_model + c.d_model + c.d_model +
                 std::int64_t{seq} * c.d_model;
  embed.forward_flops = 2 * patches * 3.0 * c.patch * c.patch * d;
  embed.activation_bytes = m.input_bytes;
  embed.output_bytes = kBf16 * s * d;
  m.blocks.push_back(embed);

  const TransformerLayer layer{c.d_model, c.heads, c.mlp, true, false, false};
  for (int i = 0; i < c.layers; ++i) {
    m.blocks.push_back(transformer_layer(layer, seq, fmt::format("blocks.{}", i)));
  }

  BlockShape head;
  head.name = "head";
  head.params = 2 * std::int64_t{c.d_model} + std::int64_t{c.d_model} * classes + classes;
  head.forward_flops = 2 * d * classes;  // the class token only
  head.activation_bytes = kBf16 * s * d + kBf16 * d + (kBf16 + kFp32) * classes;
  head.output_bytes = kFp32;
  m.blocks.push_back(head);
  return m;
}

// ---- ResNet (bottleneck, torchvision v1.5: stride on the 3x3 convolution) --------------------

int conv_out(int in, int kernel, int stride, int pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

ModelShape build_resnet(const ModelArchitecture& a, int image) {
  const std::string& name = a.name;
  const std::vector<int>& depths = a.depths;
  const int classes = a.classes;
  const int base = a.width;
  ModelShape m;
  m.name = name;
  m.family = "resnet";
  m.compute = ComputeKind::kConvolution;
  m.image_size = image;
  m.input_bytes = kBf16 * 3.0 * image * image;

  // Stem: 7x7/2 convolution 3->base (64 in the published nets), BatchNorm, ReLU, 3x3/2 max-pool.
  const int h_conv = conv_out(image, 7, 2, 3);
  const int h_pool = conv_out(h_conv, 3, 2, 1);
  const double conv_elems = double(base) * h_conv * h_conv;
  const double pool_elems = double(base) * h_pool * h_pool;
  BlockShape stem;
  stem.name = "stem";
  stem.params = 7 * 7 * 3 * base + 2 * base;
  stem.forward_flops = 2 * conv_elems * 7 * 7 * 3;
  // Image (conv input), conv output (BatchNorm input), ReLU output (max-pool input), and the
  // max-pool's int64 argmax indices.
  stem.activation_bytes = m.input_bytes + 2 * kBf16 * conv_elems + kTokenId * pool_elems;
  stem.output_bytes = kBf16 * pool_elems;
  m.blocks.push_back(stem);

  int channels = base;
  int h = h_pool;
  const int widths[4] = {base, 2 * base, 4 * base, 8 * base};
  for (int stage = 0; stage < 4; ++stage) {
    const int w = widths[stage];
    for (int i = 0; i < depths[stage]; ++i) {
      const int stride = (stage > 0 && i == 0) ? 2 : 1;
      const bool downsample = i == 0;  // channel change (and stride) on the first block
      const int h2 = conv_out(h, 3, stride, 1);
      const double in_px = double(h) * h, out_px = double(h2) * h2;
      BlockShape b;
      b.name = fmt::format("layer{}.{}", stage + 1, i);
      // 1x1 in->w, 3x3 w->w, 1x1 w->4w, each with a BatchNorm (gain, bias); 1x1 projection.
      b.params = std::int64_t{channels} * w + 2 * w + std::int64_t{9} * w * w + 2 * w +
                 std::int64_t{w} * 4 * w + 2 * 4 * w +
                 (downsample ? std::int64_t{channels} * 4 * w + 2 * 4 * w : 0);
      const double macs = in_px * channels * w + out_px * 9.0 * w * w + out_px * w * 4.0 * w +
                          (downsample ? out_px * channels * 4.0 * w : 0);
      b.forward_flops = 2 * macs;
      // Block input; conv1 output and ReLU output (at the input resolution); conv2 output and
      // ReLU output; conv3 output; projection output. The block's final ReLU output is the next
      // block's input.
      double elems = channels * in_px + 2.0 * w * in_px + 2.0 * w * out_px + 4.0 * w * out_px;
      if (downsample) elems += 4.0 * w * out_px;
      b.activation_bytes = kBf16 * elems;
      b.output_bytes = kBf16 * 4.0 * w * out_px;
      m.blocks.push_back(b);
      channels = 4 * w;
      h = h2;
    }
  }

  BlockShape head;
  head.name = "head";
  head.params = std::int64_t{channels} * classes + classes;
  head.forward_flops = 2.0 * channels * classes;
  // Last ReLU output (its backward needs it), pooled features (the fc input), logits.
  head.activation_bytes =
      kBf16 * channels * double(h) * h + kBf16 * channels + (kBf16 + kFp32) * classes;
  head.output_bytes = kFp32;
  m.blocks.push_back(head);
  return m;
}

// ---- The catalogue ----------------------------------------------------------------------------

ModelArchitecture gpt2(const char* name, int layers, int d, int heads, int context = 1024) {
  ModelArchitecture a;
  a.name = name;
  a.family = "gpt2";
  a.layers = layers;
  a.d_model = d;
  a.heads = heads;
  a.mlp = 4 * d;
  a.vocab = 50257;
  a.context = context;
  return a;
}

ModelArchitecture vit(const char* name, int patch, int layers, int d, int mlp, int heads,
                      int image = kDefaultImage, int classes = 1000) {
  ModelArchitecture a;
  a.name = name;
  a.family = "vit";
  a.patch = patch;
  a.layers = layers;
  a.d_model = d;
  a.mlp = mlp;
  a.heads = heads;
  a.image_size = image;
  a.classes = classes;
  return a;
}

ModelArchitecture resnet(const char* name, std::vector<int> depths, int width = 64,
                         int image = kDefaultImage, int classes = 1000) {
  ModelArchitecture a;
  a.name = name;
  a.family = "resnet";
  a.depths = std::move(depths);
  a.width = width;
  a.image_size = image;
  a.classes = classes;
  return a;
}

// Every zoo model, in the order model_names() lists them.
const std::vector<ModelArchitecture>& catalogue() {
  static const std::vector<ModelArchitecture> entries = [] {
    std::vector<ModelArchitecture> z;
    z.push_back(gpt2("gpt2", 12, 768, 12));
    z.push_back(gpt2("gpt2-medium", 24, 1024, 16));
    z.push_back(gpt2("gpt2-large", 36, 1280, 20));
    z.push_back(gpt2("gpt2-xl", 48, 1600, 25));
    // Not a published model: the 4.24B GPT of the PyTorch FSDP CPU-offload baseline
    // (NOTES.md), too large for one GPU with fp32 Adam states; for offloading benchmarks.
    z.push_back(gpt2("gpt2-4b", 20, 4096, 32));
    ModelArchitecture gptj;
    gptj.name = "gptj-6b";
    gptj.family = "gptj";
    gptj.layers = 28;
    gptj.d_model = 4096;
    gptj.heads = 16;
    gptj.mlp = 16384;
    gptj.vocab = 50400;
    gptj.context = 2048;
    gptj.rotary_dim = 64;
    z.push_back(gptj);
    z.push_back(vit("vit-b-16", 16, 12, 768, 3072, 12));
    z.push_back(vit("vit-l-16", 16, 24, 1024, 4096, 16));
    z.push_back(vit("vit-h-14", 14, 32, 1280, 5120, 16));
    z.push_back(vit("vit-g-14", 14, 48, 1664, 8192, 16));
    z.push_back(resnet("resnet-50", {3, 4, 6, 3}));
    z.push_back(resnet("resnet-101", {3, 4, 23, 3}));
    z.push_back(resnet("resnet-152", {3, 8, 36, 3}));
    z.push_back(resnet("resnet-200", {3, 24, 36, 3}));
    // Tiny models for tests, demos and CPU runs: the same architectures, scaled down.
    z.push_back(gpt2("gpt2-tiny", 2, 64, 4, 256));
    z.push_back(gpt2("gpt2-mini", 4, 128, 4, 256));
    ModelArchitecture gptj_tiny = gptj;  // GPT-J's shape (rotary on 1/4 of each head), scaled down
    gptj_tiny.name = "gptj-tiny";
    gptj_tiny.layers = 2;
    gptj_tiny.d_model = 64;
    gptj_tiny.heads = 4;
    gptj_tiny.mlp = 256;
    gptj_tiny.context = 256;
    gptj_tiny.rotary_dim = 4;
    z.push_back(gptj_tiny);
    z.push_back(vit("vit-tiny", 8, 2, 64, 128, 4, 32, 10));
    z.push_back(resnet("resnet-tiny", {1, 1, 1, 1}, 8, 32, 10));
    return z;
  }();
  return entries;
}

const ModelArchitecture* find_entry(std::string_view name) {
  for (const ModelArchitecture& a : catalogue()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

Error unknown_model(std::string_view name) {
  std::string known;
  for (const std::string& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  return Error{"", 0, "model", fmt::format("unknown model \"{}\" (known: {})", name, known)};
}

void add_totals(ModelShape& m) {
  m.params = 0;
  m.forward_flops = 0;
  for (const BlockShape& b : m.blocks) {
    m.params += b.params;
    m.forward_flops += b.forward_flops;
  }
}

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const ModelArchitecture& a : catalogue()) out.push_back(a.name);
    return out;
  }();
  return names;
}

Result<ModelArchitecture> find_architecture(std::string_view name) {
  const ModelArchitecture* a = find_entry(name);
  if (!a) return unknown_model(name);
  return *a;
}

Result<ModelShape> find_model(std::string_view name) {
  return find_model(name, ModelInput{});
}

Result<ModelShape> find_model(std::string_view name, const ModelInput& input) {
  const ModelArchitecture* a = find_entry(name);
  if (!a) return unknown_model(name);
  return shape_model(*a, input);
}

const ModelArchitecture* find_zoo_match(const ModelArchitecture& x) {
  for (const ModelArchitecture& a : catalogue()) {
    if (a.family == x.family && a.layers == x.layers && a.d_model == x.d_model &&
        a.heads == x.heads && a.mlp == x.mlp && a.vocab == x.vocab && a.context == x.context &&
        a.patch == x.patch && a.rotary_dim == x.rotary_dim && a.depths == x.depths &&
        a.width == x.width && a.image_size == x.image_size && a.classes == x.classes &&
        a.norm_eps == x.norm_eps) {
      return &a;
    }
  }
  return nullptr;
}

Result<ModelShape> shape_model(const ModelArchitecture& architecture, const ModelInput& input) {
  const ModelArchitecture* a = &architecture;
  const std::string& name = a->name;
  const bool language = a->context > 0;
  ModelShape m;
  if (language) {
    if (input.image_size > 0) {
      return Error{"", 0, "data.image_size",
                   fmt::format("{} is a language model; image_size does not apply", name)};
    }
    if (input.seq_len > a->context) {
      return Error{"", 0, "data.seq_len",
                   fmt::format("{} has a context of {} tokens; seq_len {} is longer", name,
                               a->context, input.seq_len)};
    }
    const int seq = input.seq_len > 0 ? input.seq_len : a->context;
    m = build_gpt(a->name, gpt_config(*a, input.vocab > 0 ? input.vocab : a->vocab), seq);
  } else {
    if (input.seq_len > 0) {
      return Error{"", 0, "data.seq_len",
                   fmt::format("{} is an image model; seq_len does not apply", name)};
    }
    if (input.vocab > 0) {
      return Error{"", 0, "data.tokenizer",
                   fmt::format("{} is an image model; a tokenizer does not apply", name)};
    }
    const int image = input.image_size > 0 ? input.image_size : a->image_size;
    // ViT: at least one patch; ResNet: five stride-2 steps leave a 1x1 map from 32 px.
    const int smallest = a->family == "vit" ? a->patch : 32;
    if (image < smallest) {
      return Error{"", 0, "data.image_size",
                   fmt::format("{} needs images of at least {} px, got {}", name, smallest, image)};
    }
    m = a->family == "vit" ? build_vit(*a, image) : build_resnet(*a, image);
  }
  add_totals(m);
  return m;
}

}  // namespace saturn
