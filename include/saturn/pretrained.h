// Pretrained weights a job starts from (a workload's `init`, docs/formats.md#init) and the
// trained model written back in the layout they came in (docs/fine-tuning.md).
//
// Layouts read:
//   Hugging Face directory  config.json + model.safetensors, or model.safetensors.index.json
//                           naming shards ("weight_map": tensor -> file); the architecture comes
//                           from config.json (model_type "gpt2").
//   Saturn checkpoint       a run's checkpoint directory (LATEST + step-N/) or one step-N/
//                           directory: saturn-worker's own names, fp32; the model it names.
//   State dict              one .safetensors file of a torchvision or timm ResNet's
//                           state_dict (no config: the job's `model` gives the architecture).
//
// Which tensor of the file is which parameter of saturn-worker's model is decided once, here
// (WeightMap): the worker's import and `saturn export` both use it, so export inverts import
// exactly. Pure C++ (no libtorch): tensors are named and shaped here, copied by the worker.
//
// Thread-safety: plain values; PretrainedModel and WeightMap may be read from several threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/error.h"
#include "saturn/model_zoo.h"

namespace saturn {

// What a workload's `init` says (docs/formats.md#init).
struct InitSpec {
  std::string path;  // as written (relative to the workload file) until loaded; then absolute
  // "keep": the data's vocabulary must fit the model's; "resize": token embeddings grow to the
  // data's vocabulary (new rows initialised like a new model's). Never resized silently.
  std::string vocab = "keep";
  // Image models: > 0 replaces the pretrained classifier with a new one of this many outputs
  // (the usual fine-tune to other classes; it starts as a new model's head would); 0 keeps it.
  int classes = 0;

  bool empty() const { return path.empty(); }
};

enum class PretrainedLayout { kHuggingFace, kSaturnCheckpoint, kStateDict };

// A pretrained model on disk, inspected (configuration read, files listed; no tensor read).
struct PretrainedModel {
  PretrainedLayout layout = PretrainedLayout::kHuggingFace;
  std::string path;                       // the directory (the file: kStateDict), absolute
  std::vector<std::string> weight_files;  // absolute; one unless sharded
  std::string index_file;                 // model.safetensors.index.json when sharded, else ""
  nlohmann::json config;                  // Hugging Face: config.json as read
  // From config.json, or the checkpoint's zoo model; kStateDict: none (family ""), the job's
  // `model` gives it.
  ModelArchitecture architecture;
};

// Inspects `path` (a directory, or a .safetensors state-dict file). Errors name the path and what
// is missing or wrong: not a directory, neither config.json nor a checkpoint, no weights file, an
// index whose weight_map names a missing file, an unsupported config value (see
// architecture_from_config).
Result<PretrainedModel> open_pretrained(const std::string& path);

// The architecture a Hugging Face config.json describes. Supported: model_type "gpt2" with
// activation_function gelu_new (or gelu_pytorch_tanh), no cross-attention, no per-layer
// attention scaling. The name is the zoo model of exactly this shape when there is one, else
// `fallback_name`. Errors name `file` and the key.
Result<ModelArchitecture> architecture_from_config(const nlohmann::json& config,
                                                   const std::string& file,
                                                   const std::string& fallback_name);

// Fields on which two architectures of one family differ, "" when none ("layers 12 vs 2, ...").
std::string architecture_difference(const ModelArchitecture& a, const ModelArchitecture& b);

// One parameter (or buffer) of saturn-worker's model and the tensor of the file it comes from.
struct TensorLink {
  std::string ours;    // "h.0.c_attn.weight"
  std::string theirs;  // "transformer.h.0.attn.c_attn.weight"
  // The file stores it [in, out] (GPT-2's Conv1D) where saturn-worker's is [out, in].
  bool transpose = false;
};

// The correspondence between a file's tensors and the model's parameters.
struct WeightMap {
  std::vector<TensorLink> links;  // every parameter the file gives, in the model's order
  // Tensors in the file that are not parameters and are read by nothing (GPT-2's causal-mask
  // buffers `.attn.bias` / `.attn.masked_bias`, matched by exact suffix); export writes them
  // back unchanged.
  std::vector<std::string> skipped;
  // GPT-2: the file has no lm_head.weight (the head is the token embedding) — or has one equal
  // to it, named here so that export writes it back.
  std::string tied_head;
  std::string prefix;  // "transformer." when the file's names carry it, else ""
  // Image models: the model's classifier parameters ("head.fc.weight", "head.fc.bias"), which
  // init.classes replaces (their links are then not loaded).
  std::vector<std::string> classifier;
};

// The map for `architecture` over the tensor names of a Hugging Face file set. Errors (field
// "init", naming `where` and the tensor): a tensor the model needs is missing; a tensor is
// neither a parameter nor a known buffer.
Result<WeightMap> map_hugging_face(const ModelArchitecture& architecture,
                                   const std::vector<std::string>& names, const std::string& where);

// The map for a torchvision or timm ResNet state dict (the two name ResNets alike):
//   conv1 / bn1 -> stem.conv1 / stem.bn1            layerS.i.{conv,bn}K -> the same names
//   layerS.i.downsample.0 / .1 -> layerS.i.downsample_conv / downsample_bn    fc -> head.fc
// BatchNorm statistics (running_mean, running_var, num_batches_tracked) are links like weights.
// Errors as map_hugging_face's.
Result<WeightMap> map_state_dict(const ModelArchitecture& architecture,
                                 const std::vector<std::string>& names, const std::string& where);

// The map for `source`'s layout (map_hugging_face or map_state_dict; a Saturn checkpoint's names
// are the model's own).
Result<WeightMap> map_pretrained(const PretrainedModel& source,
                                 const ModelArchitecture& architecture,
                                 const std::vector<std::string>& names);

// The names a model of `architecture` gets in a new Hugging Face directory (GPT2LMHeadModel's:
// "transformer."-prefixed, no lm_head.weight). Errors: a family export does not write.
Result<WeightMap> new_hugging_face_names(const ModelArchitecture& architecture);

// Writes the trained weights of a Saturn checkpoint as a Hugging Face directory `out` (created;
// it must not exist, or be empty; written beside it and renamed into place):
//   - `source` given (the job's init): its layout — a state dict's file alone, or
//     config.json (vocab_size as trained) and each
//     tensor under the name and in the dtype it had there, its skipped buffers and an lm_head
//     it had written back as they were, its tokenizer and generation files copied beside.
//     Import followed by export is bit-identical for every tensor.
//   - no source: a new directory — config.json made from `architecture` and the trained shapes
//     (vocab_size, n_positions), fp32 tensors under GPT2LMHeadModel's names.
// Weights go to model.safetensors with {"format": "pt"} metadata, or, above `shard_bytes`, to
// model-0000k-of-0000n.safetensors shards and model.safetensors.index.json. Host memory: one
// shard's converted tensors (the checkpoint is mapped).
struct ExportOptions {
  std::int64_t shard_bytes = 5'000'000'000;  // Hugging Face's default max_shard_size
  // The job's tokenizer directory (data.tokenizer), whose files go beside an export whose
  // vocabulary grew (init.vocab: resize) in place of the source's; "" when it has none.
  std::string tokenizer_dir;
};
Status export_model(const ModelArchitecture& architecture, const PretrainedModel* source,
                    const std::string& checkpoint, const std::string& out,
                    const ExportOptions& options = {});

// The checkpoint directory `LATEST` names in `checkpoints` (a job's checkpoint directory), or
// `checkpoints` itself when it is one step directory. Errors: no checkpoint there.
Result<std::string> newest_checkpoint(const std::string& checkpoints);

}  // namespace saturn
