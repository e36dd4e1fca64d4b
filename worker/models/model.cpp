// The block-sequence model base, its loss, and build_model(); see model.h.
#include "models/model.h"

#include "models/cross_entropy.h"

#include <mutex>

#include <fmt/format.h>

namespace saturn::worker {

void Model::add_block(const std::string& name, Block block) {
  // libtorch forbids dots in module names: "h.3" goes into a ModuleList "h" (as index 3), which
  // gives parameter names such as "h.3.attn.c_attn.weight".
  const std::size_t dot = name.find('.');
  if (dot == std::string::npos) {
    register_module(name, block);
  } else {
    const std::string list = name.substr(0, dot);
    auto it = lists_.find(list);
    if (it == lists_.end()) {
      it = lists_.emplace(list, register_module(list, torch::nn::ModuleList())).first;
    }
    it->second->push_back(block);
  }
  blocks_.push_back(block);
  block_names_.push_back(name);
  if (sink_) sink_(name, *block);
}

torch::Tensor Model::forward(const torch::Tensor& input) {
  torch::Tensor x = input;
  for (const Block& block : blocks_) x = block->forward(x);
  return x;
}

torch::Tensor Model::loss(const torch::Tensor& output, const torch::Tensor& target) const {
  // output: logits [B, T, V] (language) or [B, K] (images), any float dtype; loss in fp32.
  return mean_cross_entropy(output.reshape({-1, output.size(-1)}), target.reshape({-1}));
}

namespace {

Result<std::shared_ptr<Model>> build_family(const ModelArchitecture& architecture,
                                            const ModelShapeOptions& shape, BlockSink sink) {
  if (architecture.family == "gpt2") {
    const int vocab = shape.vocab > 0 ? shape.vocab : architecture.vocab;
    const int context = shape.seq_len > 0 ? shape.seq_len : architecture.context;
    if (context > architecture.context) {
      return Error{"", 0, "data.seq_len",
                   fmt::format("{} has a context of {} tokens; seq_len {} is longer",
                               architecture.name, architecture.context, context)};
    }
    return build_gpt(architecture, vocab, shape.all_positions ? architecture.context : context,
                     shape.vocab_pad_multiple, std::move(sink));
  }
  if (architecture.family == "gptj") {
    const int context = shape.seq_len > 0 ? shape.seq_len : architecture.context;
    if (context > architecture.context) {
      return Error{"", 0, "data.seq_len",
                   fmt::format("{} has a context of {} tokens; seq_len {} is longer",
                               architecture.name, architecture.context, context)};
    }
    return build_gptj(architecture, shape.vocab > 0 ? shape.vocab : architecture.vocab,
                      std::move(sink));
  }
  if (architecture.family == "vit") {
    const int image = shape.image_size > 0 ? shape.image_size : architecture.image_size;
    if (image % architecture.patch != 0) {
      return Error{"", 0, "data.image_size",
                   fmt::format("{} cuts images into {} px patches; {} px is not a multiple",
                               architecture.name, architecture.patch, image)};
    }
    return build_vit(architecture, image, std::move(sink));
  }
  if (architecture.family == "resnet") return build_resnet(architecture, std::move(sink));
  return Error{"", 0, "model",
               fmt::format("saturn-worker cannot build {} (family {}); it builds GPT-2, GPT-J, ViT "
                           "and ResNet models",
                           architecture.name, architecture.family)};
}

}  // namespace

Result<std::shared_ptr<Model>> build_model(const ModelArchitecture& architecture,
                                           const ModelShapeOptions& shape, std::uint64_t seed,
                                           BlockSink sink) {
  // Initialisation draws from libtorch's process-wide CPU generator: one model at a time, so
  // models built on several threads (ranks in one process) get the same weights for a seed.
  static std::mutex build_mutex;
  const std::lock_guard<std::mutex> lock(build_mutex);
  torch::manual_seed(seed);
  const torch::NoGradGuard no_grad;
  auto model = build_family(architecture, shape, std::move(sink));
  if (model) (*model)->release_sink();
  return model;
}

}  // namespace saturn::worker
