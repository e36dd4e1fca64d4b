// The worker's models: the zoo's architectures (saturn/model_zoo.h) built in libtorch as explicit
// block sequences. A model's forward pass is its blocks applied in order; pipelining, sharding
// and offloading work block by block. Shapes below: B samples, T tokens, C channels / hidden
// size, V vocabulary, H x W pixels, K classes.
//
//   GPT (GPT-2 architecture)  embed: ids [B, T] int64 -> [B, T, C] (tokens + learned positions)
//                             h.i:   [B, T, C] -> [B, T, C] (pre-LayerNorm, causal attention,
//                                    GELU MLP)
//                             head:  [B, T, C] -> logits [B, T, V] (final LayerNorm, LM head
//                                    tied to the token embedding)
//   ViT                       embed: images [B, 3, H, W] -> [B, 1 + HW/p^2, C] (patches, class
//                                    token, positions); blocks.i as above, not causal;
//                                    head: class token -> logits [B, K]
//   ResNet (bottleneck, v1.5) stem: [B, 3, H, W] -> [B, w, H/4, W/4]; layerS.i: bottlenecks;
//                             head: average pool -> logits [B, K]
//
// Parameters are created on the CPU from the job's seed (the same initial model on every
// machine), then moved to the training device.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "saturn/error.h"
#include "saturn/model_zoo.h"

namespace saturn::worker {

// One block: maps the previous block's output (or the model input) to its own output.
class BlockImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  // Parameters the block computes with but another block owns (registers), e.g. GPT's head's
  // token embedding; they are not in parameters().
  virtual std::vector<torch::Tensor> tied_parameters() const { return {}; }
};
using Block = std::shared_ptr<BlockImpl>;

// Called once per block as a model is built, in block order, right after the block is
// initialised and before the next one is (initialisation draws from one random stream, so a
// block's values never depend on what is done with the earlier ones): lets a caller take each
// block's initial values and free them while the rest is built (train/initial_part.h). It may
// replace the block's parameters' data but not their shapes, which later blocks may read (GPT's
// head reads the tied token embedding's).
using BlockSink = std::function<void(const std::string& name, BlockImpl& block)>;

class Model : public torch::nn::Module {
 public:
  explicit Model(ModelArchitecture architecture, BlockSink sink = {})
      : architecture_(std::move(architecture)), sink_(std::move(sink)) {}

  const ModelArchitecture& architecture() const { return architecture_; }
  bool is_language() const { return architecture_.context > 0; }
  const std::vector<Block>& blocks() const { return blocks_; }
  const std::vector<std::string>& block_names() const { return block_names_; }

  // All blocks in order: model input -> last block's output.
  torch::Tensor forward(const torch::Tensor& input);
  // Blocks are named "embed", "h.0", "head", ...: parameter names follow ("h.0.ln_1.weight").
  // Mean cross-entropy of the last block's output against `target` (next tokens [B, T] or
  // labels [B]), as an fp32 scalar.
  torch::Tensor loss(const torch::Tensor& output, const torch::Tensor& target) const;

  // Appends a block (for the family builders), then hands it to the sink, if any.
  void add_block(const std::string& name, Block block);
  // Drops the sink (build_model calls it once the model is built: what the sink refers to need
  // not outlive the build).
  void release_sink() { sink_ = {}; }

 private:
  ModelArchitecture architecture_;
  BlockSink sink_;
  std::map<std::string, torch::nn::ModuleList> lists_;  // "h", "layer1", ... by prefix
  std::vector<Block> blocks_;
  std::vector<std::string> block_names_;
};

// What shapes a model for a job: tokens per sample and vocabulary (language), image size
// (images); 0 keeps the architecture's.
struct ModelShapeOptions {
  int seq_len = 0;
  int vocab = 0;
  int image_size = 0;
  // GPT: the LM head computes logits for the vocabulary rounded up to this multiple (masked,
  // same loss; build_gpt); 0: exactly the vocabulary. The trainer asks for 64 on CUDA.
  int vocab_pad_multiple = 0;
  // GPT: position embeddings for the whole context rather than seq_len (a pretrained model's
  // own, exported whole).
  bool all_positions = false;
};

// Builds the zoo model `architecture` on the CPU, initialised from `seed` (GPT-2 and ViT: normal
// weights with std 0.02, the residual projections scaled by 1/sqrt(2 layers), zero biases,
// LayerNorm at identity; ResNet: Kaiming-normal convolutions, BatchNorm at identity). Errors: an
// unsupported family (the worker builds gpt2, vit and resnet). `sink`, when set, sees each block
// as it is built (BlockSink).
Result<std::shared_ptr<Model>> build_model(const ModelArchitecture& architecture,
                                           const ModelShapeOptions& shape, std::uint64_t seed,
                                           BlockSink sink = {});

// Family builders (transformer.cpp, gptj.cpp, resnet.cpp).
std::shared_ptr<Model> build_gpt(const ModelArchitecture& a, int vocab, int context,
                                 int vocab_pad_multiple = 0, BlockSink sink = {});
// GPT-J (gptj.cpp): no position embeddings (rotary), so no context-sized tensor.
std::shared_ptr<Model> build_gptj(const ModelArchitecture& a, int vocab, BlockSink sink = {});
std::shared_ptr<Model> build_vit(const ModelArchitecture& a, int image_size, BlockSink sink = {});
std::shared_ptr<Model> build_resnet(const ModelArchitecture& a, BlockSink sink = {});

}  // namespace saturn::worker
