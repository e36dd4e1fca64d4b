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
//
// GPT-J (GPTJForCausalLM; nn.Linear, stored [out, in] as saturn-worker's):
//   wte.weight -> embed.wte.weight          h.i.ln_1.* -> h.i.ln_1.*
//   h.i.attn.{q,k,v,out}_proj.weight -> h.i.{q,k,v,out}_proj.weight (no bias)
//   h.i.mlp.fc_in.* -> h.i.fc_in.*          h.i.mlp.fc_out.* -> h.i.fc_out.*
//   ln_f.* -> head.ln_f.*                   lm_head.{weight,bias} -> head.lm_head.* (no prefix)
// Skipped by exact name: h.i.attn.bias, h.i.attn.masked_bias, h.i.attn.embed_positions (the
// sin/cos table older transformers saved).
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

std::vector<TensorLink> gptj_links(const ModelArchitecture& a, const std::string& prefix) {
  std::vector<TensorLink> links = {{"embed.wte.weight", prefix + "wte.weight", false}};
  static const std::pair<const char*, const char*> parts[] = {
      {"ln_1.weight", "ln_1.weight"},          {"ln_1.bias", "ln_1.bias"},
      {"q_proj.weight", "attn.q_proj.weight"}, {"k_proj.weight", "attn.k_proj.weight"},
      {"v_proj.weight", "attn.v_proj.weight"}, {"out_proj.weight", "attn.out_proj.weight"},
      {"fc_in.weight", "mlp.fc_in.weight"},    {"fc_in.bias", "mlp.fc_in.bias"},
      {"fc_out.weight", "mlp.fc_out.weight"},  {"fc_out.bias", "mlp.fc_out.bias"}};
  for (int i = 0; i < a.layers; ++i) {
    for (const auto& [ours, theirs] : parts) {
      links.push_back(
          {fmt::format("h.{}.{}", i, ours), fmt::format("{}h.{}.{}", prefix, i, theirs), false});
    }
  }
  links.push_back({"head.ln_f.weight", prefix + "ln_f.weight", false});
  links.push_back({"head.ln_f.bias", prefix + "ln_f.bias", false});
  links.push_back({"head.lm_head.weight", "lm_head.weight", false});
  links.push_back({"head.lm_head.bias", "lm_head.bias", false});
  return links;
}

std::vector<TensorLink> family_links(const ModelArchitecture& a, const std::string& prefix) {
  return a.family == "gptj" ? gptj_links(a, prefix) : gpt2_links(a, prefix);
}

bool known_family(const ModelArchitecture& a) {
  return a.family == "gpt2" || a.family == "gptj";
}

}  // namespace

Result<WeightMap> map_state_dict(const ModelArchitecture& architecture,
                                 const std::vector<std::string>& names, const std::string& where) {
  if (architecture.family != "resnet") {
    return Error{where, 0, "init",
                 fmt::format("a state dict without config.json loads into ResNet models; {} is "
                             "{}: give its Hugging Face directory",
                             architecture.name, architecture.family)};
  }
  const std::set<std::string> present(names.begin(), names.end());
  WeightMap map;
  auto norm = [&](const std::string& ours, const std::string& theirs) {
    for (const char* k : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}) {
      map.links.push_back({ours + "." + k, theirs + "." + k, false});
    }
  };
  map.links.push_back({"stem.conv1.weight", "conv1.weight", false});
  norm("stem.bn1", "bn1");
  int channels = architecture.width;
  for (std::size_t stage = 0; stage < architecture.depths.size(); ++stage) {
    const int w = architecture.width << stage;
    for (int i = 0; i < architecture.depths[stage]; ++i) {
      const std::string block = fmt::format("layer{}.{}", stage + 1, i);
      for (int k = 1; k <= 3; ++k) {
        map.links.push_back({fmt::format("{}.conv{}.weight", block, k),
                             fmt::format("{}.conv{}.weight", block, k), false});
        norm(fmt::format("{}.bn{}", block, k), fmt::format("{}.bn{}", block, k));
      }
      if ((stage > 0 && i == 0) || channels != 4 * w) {  // the projected shortcut
        map.links.push_back(
            {block + ".downsample_conv.weight", block + ".downsample.0.weight", false});
        norm(block + ".downsample_bn", block + ".downsample.1");
      }
      channels = 4 * w;
    }
  }
  map.links.push_back({"head.fc.weight", "fc.weight", false});
  map.links.push_back({"head.fc.bias", "fc.bias", false});
  map.classifier = {"head.fc.weight", "head.fc.bias"};
  std::set<std::string> used;
  for (const TensorLink& l : map.links) {
    if (!present.count(l.theirs)) {
      return Error{where, 0, "init",
                   fmt::format("tensor {} is missing ({} has blocks [{}]: {})", l.theirs,
                               architecture.name, fmt::join(architecture.depths, ", "), l.ours)};
    }
    used.insert(l.theirs);
  }
  for (const std::string& n : names) {
    if (!used.count(n)) {
      return Error{where, 0, "init",
                   fmt::format("tensor {} is not part of {} (an unknown tensor: another "
                               "architecture than `model` names)",
                               n, architecture.name)};
    }
  }
  return map;
}

Result<WeightMap> map_pretrained(const PretrainedModel& source,
                                 const ModelArchitecture& architecture,
                                 const std::vector<std::string>& names) {
  if (source.layout == PretrainedLayout::kStateDict) {
    return map_state_dict(architecture, names, source.path);
  }
  if (source.layout == PretrainedLayout::kHuggingFace) {
    return map_hugging_face(architecture, names, source.path);
  }
  WeightMap identity;
  for (const std::string& n : names) identity.links.push_back({n, n, false});
  return identity;
}

Result<WeightMap> new_hugging_face_names(const ModelArchitecture& architecture) {
  if (!known_family(architecture)) {
    return Error{"", 0, "export",
                 fmt::format("export writes GPT-2 and GPT-J models as Hugging Face directories, "
                             "not {} (its weights are in the job's checkpoints)",
                             architecture.family)};
  }
  WeightMap map;
  map.prefix = "transformer.";
  map.links = family_links(architecture, map.prefix);
  return map;
}

Result<WeightMap> map_hugging_face(const ModelArchitecture& architecture,
                                   const std::vector<std::string>& names,
                                   const std::string& where) {
  if (!known_family(architecture)) {
    return Error{where, 0, "init",
                 fmt::format("saturn-worker loads Hugging Face weights of gpt2 and gptj models, "
                             "not {}",
                             architecture.family)};
  }
  const std::set<std::string> present(names.begin(), names.end());
  WeightMap map;
  map.prefix = present.count("transformer.wte.weight") ? "transformer." : "";
  map.links = family_links(architecture, map.prefix);
  std::set<std::string> used;
  for (const TensorLink& l : map.links) {
    if (!present.count(l.theirs)) {
      return Error{where, 0, "init",
                   fmt::format("tensor {} is missing (the model has {} layers: {})", l.theirs,
                               architecture.layers, l.ours)};
    }
    used.insert(l.theirs);
  }
  if (architecture.family == "gpt2" && present.count("lm_head.weight")) {
    map.tied_head = "lm_head.weight";
    used.insert(map.tied_head);
  }
  for (int i = 0; i < architecture.layers; ++i) {
    for (const char* buffer : {"attn.bias", "attn.masked_bias", "attn.embed_positions"}) {
      const std::string name = fmt::format("{}h.{}.{}", map.prefix, i, buffer);
      if (present.count(name)) {
        map.skipped.push_back(name);
        used.insert(name);
      }
    }
  }
  for (const std::string& n : names) {
    if (!used.count(n)) {
      return Error{
          where, 0, "init",
          fmt::format("tensor {} is not part of a {}-layer {} (an unknown tensor: a "
                      "different architecture, or a config.json that does not match "
                      "the weights)",
                      n, architecture.layers, architecture.family == "gptj" ? "GPT-J" : "GPT-2")};
    }
  }
  return map;
}

}  // namespace saturn
