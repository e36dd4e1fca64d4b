// Which tensor of a Hugging Face file is which parameter of saturn-worker's model
// (saturn/pretrained.h WeightMap). One table per family; import and export both read it.
//
// GPT-2 (transformers' GPT2LMHeadModel / GPT2Model; names with or without "transformer."):
//   wte.weight [V, C] -> embed.wte.weight       wpe.weight [P, C] -> embed.wpe.weight
//   h.i.ln_1.*        -> h.i.ln_1.*             h.i.attn.c_attn.* -> h.i.c_attn.*   (Conv1D)
//   h.i.attn.c_proj.* -> h.i.c_proj.*  (Conv1D) h.i.ln_2.*        -> h.i.ln_2.*
//   h.i.mlp.c_fc.*    -> h.i.c_fc.*    (Conv1D) h.i.mlp.c_proj.*  -> h.i.mlp_proj.*  (Conv1D)
//   ln_f.*            -> head.ln_f.*            lm_head.weight: absent, or the token embedding
// Conv1D weights are stored [in, out]; saturn-worker's linear layers are [out, in]. The causal
// mask buffers h.i.attn.bias and h.i.attn.masked_bias are not weights (matched exactly: the real
// weight h.i.attn.c_attn.bias ends in ".bias" too).
#include <set>

#include <fmt/format.h>

#include "saturn/pretrained.h"

namespace saturn {
namespace {

std::vector<TensorLink> gpt2_links(const ModelArchitecture& a, const std::string& prefix) {
  std::vector<TensorLink> links = {{"embed.wte.weight", prefix + "wte.weight", false},
                                   {"embed.wpe.weight", prefix + "wpe.weight", false}};
  struct Part {
    const char* ours;
    const char* theirs;
    bool conv1d;
  };
  static const Part parts[] = {{"ln_1", "ln_1", false},         {"c_attn", "attn.c_attn", true},
                               {"c_proj", "attn.c_proj", true}, {"ln_2", "ln_2", false},
                               {"c_fc", "mlp.c_fc", true},      {"mlp_proj", "mlp.c_proj", true}};
  for (int i = 0; i < a.layers; ++i) {
    for (const Part& p : parts) {
      for (const char* kind : {"weight", "bias"}) {
        links.push_back({fmt::format("h.{}.{}.{}", i, p.ours, kind),
                         fmt::format("{}h.{}.{}.{}", prefix, i, p.theirs, kind),
                         p.conv1d && std::string(kind) == "weight"});
      }
    }
  }
  links.push_back({"head.ln_f.weight", prefix + "ln_f.weight", false});
  links.push_back({"head.ln_f.bias", prefix + "ln_f.bias", false});
  return links;
}

}  // namespace

Result<WeightMap> new_hugging_face_names(const ModelArchitecture& architecture) {
  if (architecture.family != "gpt2") {
    return Error{"", 0, "export",
                 fmt::format("export writes GPT-2 models as Hugging Face directories, not {} "
                             "(its weights are in the job's checkpoints)",
                             architecture.family)};
  }
  WeightMap map;
  map.prefix = "transformer.";
  map.links = gpt2_links(architecture, map.prefix);
  return map;
}

Result<WeightMap> map_hugging_face(const ModelArchitecture& architecture,
                                   const std::vector<std::string>& names,
                                   const std::string& where) {
  if (architecture.family != "gpt2") {
    return Error{where, 0, "init",
                 fmt::format("saturn-worker loads Hugging Face weights of gpt2 models, not {}",
                             architecture.family)};
  }
  const std::set<std::string> present(names.begin(), names.end());
  WeightMap map;
  map.prefix = present.count("transformer.wte.weight") ? "transformer." : "";
  map.links = gpt2_links(architecture, map.prefix);
  std::set<std::string> used;
  for (const TensorLink& l : map.links) {
    if (!present.count(l.theirs)) {
      return Error{where, 0, "init",
                   fmt::format("tensor {} is missing (the model has {} layers: {})", l.theirs,
                               architecture.layers, l.ours)};
    }
    used.insert(l.theirs);
  }
  if (present.count("lm_head.weight")) {
    map.tied_head = "lm_head.weight";
    used.insert(map.tied_head);
  }
  for (int i = 0; i < architecture.layers; ++i) {
    for (const char* buffer : {"attn.bias", "attn.masked_bias"}) {
      const std::string name = fmt::format("{}h.{}.{}", map.prefix, i, buffer);
      if (present.count(name)) {
        map.skipped.push_back(name);
        used.insert(name);
      }
    }
  }
  for (const std::string& n : names) {
    if (!used.count(n)) {
      return Error{where, 0, "init",
                   fmt::format("tensor {} is not part of a {}-layer GPT-2 (an unknown tensor: a "
                               "different architecture, or a config.json that does not match "
                               "the weights)",
                               n, architecture.layers)};
    }
  }
  return map;
}

}  // namespace saturn
