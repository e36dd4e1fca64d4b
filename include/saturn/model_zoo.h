// The model zoo: the models a workload may name, with their exact layer shapes and the figures the
// performance estimator reasons with, all computed by walking the architecture (nothing is a
// hard-coded total). Every model is an explicit sequence of blocks (embedding, transformer layers
// or residual blocks, head): pipelining splits the sequence into stages, sharding gathers one
// block at a time, offloading streams blocks over the host link.
//
// Conventions (docs/estimator.md#model-zoo):
//   - FLOPs are 2 x multiply-accumulates of the matrix multiplications and convolutions, per
//     sample, forward only; transformers include the attention score and value products
//     (4 * seq^2 * d per layer). Element-wise work (norms, activations, softmax) is left out.
//   - Activation bytes are what the backward pass needs kept from the forward pass, per sample,
//     with bf16 (2-byte) tensors and 1-byte dropout masks, after Korthikanti et al. 2022. Attention
//     runs as a fused (flash) kernel, so no seq x seq score matrix is stored.
//   - Every block counts its own input among its activations, not its output (its successor
//     counts that), so the sum over blocks is the whole model's activation memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "saturn/error.h"

namespace saturn {

// Which measured efficiency applies to a model's arithmetic (calibration: transformer_mfu or
// conv_mfu).
enum class ComputeKind { kTransformer, kConvolution };

struct BlockShape {
  std::string name;              // "embed", "h.0", "head", "stem", "layer3.5", ...
  std::int64_t params = 0;       // parameters this block owns
  std::int64_t tied_params = 0;  // parameters it uses but another block owns (tied LM head)
  double forward_flops = 0;      // FLOPs per sample, forward pass
  double activation_bytes = 0;   // bytes per sample kept for the backward pass (incl. its input)
  double output_bytes = 0;       // bytes per sample of the block's output (the stage boundary)
  // Bytes the block holds from its forward pass through its backward pass whatever the batch:
  // a GPT head's copy of the tied weight padded to a multiple of 64 rows, and that copy's
  // gradient (saturn-worker pads the head on CUDA, see worker/models/transformer.cpp).
  double workspace_bytes = 0;

  // Parameters that must be on the GPU while the block runs.
  std::int64_t weight_params() const { return params + tied_params; }
};

struct ModelShape {
  std::string name;    // zoo name, e.g. "gpt2-xl"
  std::string family;  // "gpt2", "gptj", "vit", "resnet"
  ComputeKind compute = ComputeKind::kTransformer;
  int seq_len = 0;     // tokens (or patches + class token) per sample; 0 for convolutional nets
  int image_size = 0;  // pixels per side for image models; 0 for language models
  int context = 0;     // longest sequence a language model accepts; 0 for image models

  std::int64_t params = 0;   // total parameters (each tied tensor once)
  double forward_flops = 0;  // FLOPs per sample, forward pass
  double input_bytes = 0;    // bytes per sample of the model's input (token ids, pixels)
  std::vector<BlockShape> blocks;

  // Bytes per sample the backward pass needs without activation checkpointing: the sum over
  // blocks.
  double activation_bytes() const;
  // With activation checkpointing at block boundaries: every block's input is kept, and one block
  // at a time is recomputed, so input bytes of all blocks + the largest block's activations.
  double checkpointed_activation_bytes() const;
  // Input bytes per sample of block `i` (the previous block's output; input_bytes for block 0).
  double block_input_bytes(std::size_t i) const;
};

// What a trainer needs to build a zoo model (saturn-worker builds exactly this), and what the
// shapes above are computed from. Fields that do not apply to the family are 0 / empty.
struct ModelArchitecture {
  std::string name;    // zoo name
  std::string family;  // "gpt2", "gptj", "vit", "resnet"
  // Transformers (gpt2, gptj, vit).
  int layers = 0;   // transformer blocks
  int d_model = 0;  // hidden size
  int heads = 0;    // attention heads
  int mlp = 0;      // MLP width
  int vocab = 0;    // language models: vocabulary of the tokenizer it was published with
  int context = 0;  // language models: longest sequence, tokens
  int patch = 0;    // vit: patch size, pixels
  int rotary_dim = 0;  // gptj: dimensions of each head that rotary embeddings rotate (even)
  // ResNet (bottleneck blocks, torchvision v1.5).
  std::vector<int> depths;  // blocks per stage (4 stages)
  int width = 0;            // channels of the first stage; 64 in the published nets
  // Image models.
  int image_size = 0;  // default input, pixels per side
  int classes = 0;     // classifier outputs
  // LayerNorm epsilon (transformers); a pretrained model's config gives its own.
  double norm_eps = 1e-5;
};

// Shape a model for a job's data. 0 keeps the model's default (context for language models,
// the architecture's image size for image models, the published vocabulary).
struct ModelInput {
  int seq_len = 0;     // tokens per sample (language models only)
  int image_size = 0;  // pixels per side (image models only)
  int vocab = 0;       // tokenizer vocabulary (language models only), e.g. 256 for bytes
};

// The architecture of a zoo model. An unknown name is an Error (field "model") listing the known
// ones.
Result<ModelArchitecture> find_architecture(std::string_view name);

// Looks up a model by its zoo name (case-sensitive, e.g. "gpt2", "gptj-6b", "vit-b-16",
// "resnet-50"; the tiny "gpt2-tiny", "gpt2-mini", "vit-tiny", "resnet-tiny" are for tests and
// CPU runs) at its default input. An unknown name is an Error (field "model") that lists the
// known names.
Result<ModelShape> find_model(std::string_view name);

// The same, shaped for `input`. Errors: an unknown name (field "model"); a sequence longer than a
// language model's context or an image too small for the network (field "data.seq_len" or
// "data.image_size"); a seq_len or vocab for an image model or an image_size for a language
// model.
Result<ModelShape> find_model(std::string_view name, const ModelInput& input);

// The shape of any architecture (a zoo entry's, or one read from a pretrained model's config)
// for `input`, with the checks above; errors name `architecture.name`.
Result<ModelShape> shape_model(const ModelArchitecture& architecture, const ModelInput& input);

// The zoo entry with exactly `architecture`'s shape (family, layers, widths, heads, vocabulary,
// context, patch, image size, classes, epsilon), or nullptr.
const ModelArchitecture* find_zoo_match(const ModelArchitecture& architecture);

// Every zoo name, in a stable order.
const std::vector<std::string>& model_names();

}  // namespace saturn
