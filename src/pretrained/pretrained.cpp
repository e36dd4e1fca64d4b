// Pretrained models on disk: what a directory holds and the architecture its config describes
// (saturn/pretrained.h).
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "formats/common.h"
#include "saturn/pretrained.h"
#include "saturn/safetensors.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Error init_error(const std::string& file, const std::string& message) {
  return Error{file, 0, "init", message};
}

// config[key] as a positive integer; `fallback` when absent or null (nullopt: required).
Result<int> config_int(const json& config, const std::string& file, const char* key,
                       std::optional<int> fallback) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) {
    if (fallback) return *fallback;
    return init_error(file, fmt::format("config.json has no \"{}\"", key));
  }
  if (!it->is_number_integer() || it->get<std::int64_t>() <= 0 ||
      it->get<std::int64_t>() > (1 << 30)) {
    return init_error(
        file, fmt::format("config.json: \"{}\" is {}, not a positive integer", key, it->dump()));
  }
  return it->get<int>();
}

// config[key] == expected (a bool or string), or absent: else an unsupported-value error.
Status expect_value(const json& config, const std::string& file, const char* key,
                    const json& expected, const char* why) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null() || *it == expected) return Status::Ok();
  return init_error(file, fmt::format("config.json: \"{}\" is {}: saturn-worker supports only {} "
                                      "({})",
                                      key, it->dump(), expected.dump(), why));
}

Result<ModelArchitecture> gpt2_from_config(const json& config, const std::string& file) {
  ModelArchitecture a;
  a.family = "gpt2";
  auto layers = config_int(config, file, "n_layer", std::nullopt);
  auto d = config_int(config, file, "n_embd", std::nullopt);
  auto heads = config_int(config, file, "n_head", std::nullopt);
  auto vocab = config_int(config, file, "vocab_size", std::nullopt);
  auto context = config_int(config, file, "n_positions", std::nullopt);
  for (const Result<int>* r : {&layers, &d, &heads, &vocab, &context}) {
    if (!*r) return r->error();
  }
  a.layers = *layers;
  a.d_model = *d;
  a.heads = *heads;
  a.vocab = *vocab;
  a.context = *context;
  auto mlp = config_int(config, file, "n_inner", 4 * a.d_model);
  if (!mlp) return mlp.error();
  a.mlp = *mlp;
  if (a.d_model % a.heads != 0) {
    return init_error(file, fmt::format("config.json: n_embd {} is not a multiple of n_head {}",
                                        a.d_model, a.heads));
  }
  const auto act = config.find("activation_function");
  if (act != config.end() &&
      !(act->is_string() && (*act == "gelu_new" || *act == "gelu_pytorch_tanh"))) {
    return init_error(file, fmt::format("config.json: \"activation_function\" is {}: "
                                        "saturn-worker's GPT-2 computes gelu_new (the tanh GELU)",
                                        act->dump()));
  }
  const auto eps = config.find("layer_norm_epsilon");
  if (eps != config.end() && !eps->is_null()) {
    if (!eps->is_number() || !(eps->get<double>() > 0) || eps->get<double>() > 1) {
      return init_error(file, fmt::format("config.json: \"layer_norm_epsilon\" is {}, not a "
                                          "number in (0, 1]",
                                          eps->dump()));
    }
    a.norm_eps = eps->get<double>();
  }
  for (auto [key, expected, why] :
       {std::tuple<const char*, json, const char*>{"add_cross_attention", false,
                                                   "a decoder without an encoder"},
        {"scale_attn_by_inverse_layer_idx", false, "attention scaled by 1/sqrt(head size) alone"},
        {"scale_attn_weights", true, "attention scaled by 1/sqrt(head size)"},
        {"tie_word_embeddings", true, "the LM head is the token embedding"}}) {
    if (Status s = expect_value(config, file, key, expected, why); !s) return s.error();
  }
  return a;
}

// GPT-J (transformers' GPTJConfig): the GPT-2 keys, rotary_dim, an untied head.
Result<ModelArchitecture> gptj_from_config(const json& config, const std::string& file) {
  json as_gpt2 = config;
  as_gpt2.erase("tie_word_embeddings");
  auto a = gpt2_from_config(as_gpt2, file);
  if (!a) return a;
  a->family = "gptj";
  auto rotary = config_int(config, file, "rotary_dim", a->d_model / a->heads);
  if (!rotary) return rotary.error();
  if (*rotary % 2 != 0 || *rotary > a->d_model / a->heads) {
    return init_error(file, fmt::format("config.json: rotary_dim {} is not an even number of at "
                                        "most the head size {}",
                                        *rotary, a->d_model / a->heads));
  }
  a->rotary_dim = *rotary;
  if (Status s = expect_value(config, file, "tie_word_embeddings", false,
                              "GPT-J's LM head is its own weight and bias");
      !s) {
    return s.error();
  }
  return a;
}

}  // namespace

Result<ModelArchitecture> architecture_from_config(const json& config, const std::string& file,
                                                   const std::string& fallback_name) {
  if (!config.is_object()) return init_error(file, "config.json is not a JSON object");
  const auto type = config.find("model_type");
  if (type == config.end() || !type->is_string()) {
    return init_error(file, "config.json has no \"model_type\" string");
  }
  Result<ModelArchitecture> a = init_error(file, "");
  if (*type == "gpt2") {
    a = gpt2_from_config(config, file);
  } else if (*type == "gptj") {
    a = gptj_from_config(config, file);
  } else {
    return init_error(file, fmt::format("config.json: model_type \"{}\" is not one saturn-worker "
                                        "loads (it loads gpt2 and gptj)",
                                        type->get<std::string>()));
  }
  if (!a) return a;
  const ModelArchitecture* zoo = find_zoo_match(*a);
  a->name = zoo ? zoo->name : fallback_name;
  return a;
}

std::string architecture_difference(const ModelArchitecture& a, const ModelArchitecture& b) {
  std::string out;
  auto differ = [&](const char* what, const auto& x, const auto& y) {
    if (x == y) return;
    out += fmt::format("{}{} {} vs {}", out.empty() ? "" : ", ", what, x, y);
  };
  differ("family", a.family, b.family);
  differ("layers", a.layers, b.layers);
  differ("d_model", a.d_model, b.d_model);
  differ("heads", a.heads, b.heads);
  differ("mlp", a.mlp, b.mlp);
  differ("vocab", a.vocab, b.vocab);
  differ("context", a.context, b.context);
  differ("patch", a.patch, b.patch);
  differ("rotary_dim", a.rotary_dim, b.rotary_dim);
  differ("width", a.width, b.width);
  differ("image_size", a.image_size, b.image_size);
  differ("classes", a.classes, b.classes);
  differ("norm_eps", a.norm_eps, b.norm_eps);
  if (a.depths != b.depths) out += std::string(out.empty() ? "" : ", ") + "depths differ";
  return out;
}

namespace {

Result<PretrainedModel> open_hugging_face(PretrainedModel m) {
  const std::string config_file = (fs::path(m.path) / "config.json").string();
  auto text = formats::read_text_file(config_file, 1 << 20);
  if (!text) return text.error();
  m.config = json::parse(*text, nullptr, false);
  if (m.config.is_discarded()) return init_error(config_file, "config.json is not valid JSON");
  auto arch = architecture_from_config(
      m.config, config_file, formats::sanitize_name(fs::path(m.path).filename().string()));
  if (!arch) return arch.error();
  m.architecture = *arch;
  const fs::path single = fs::path(m.path) / "model.safetensors";
  const fs::path index = fs::path(m.path) / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::is_regular_file(single, ec)) {
    m.weight_files.push_back(single.string());
    return m;
  }
  if (!fs::is_regular_file(index, ec)) {
    return init_error(m.path,
                      "has config.json but neither model.safetensors nor "
                      "model.safetensors.index.json (PyTorch .bin files are not read: "
                      "convert them to safetensors)");
  }
  m.index_file = index.string();
  auto index_text = formats::read_text_file(m.index_file, 64 << 20);
  if (!index_text) return index_text.error();
  const json doc = json::parse(*index_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("weight_map") ||
      !doc["weight_map"].is_object()) {
    return init_error(m.index_file, "not a safetensors index: no \"weight_map\" object");
  }
  std::set<std::string> files;
  for (const auto& [tensor, file] : doc["weight_map"].items()) {
    if (!file.is_string() || !formats::is_safe_name(file.get<std::string>())) {
      return init_error(m.index_file, fmt::format("weight_map[\"{}\"] is {}: not a file name in "
                                                  "the directory",
                                                  tensor, file.dump()));
    }
    files.insert(file.get<std::string>());
  }
  if (files.empty()) return init_error(m.index_file, "weight_map names no file");
  for (const std::string& f : files) {
    const fs::path p = fs::path(m.path) / f;
    if (!fs::is_regular_file(p, ec)) {
      return init_error(m.index_file, fmt::format("names {}, which is not in {}", f, m.path));
    }
    m.weight_files.push_back(p.string());
  }
  return m;
}

// A run's checkpoint directory (LATEST names the step) or one step-N directory.
Result<PretrainedModel> open_checkpoint(PretrainedModel m) {
  fs::path step = m.path;
  std::error_code ec;
  if (fs::is_regular_file(step / "LATEST", ec)) {
    auto latest = formats::read_text_file((step / "LATEST").string(), 4096);
    if (!latest) return latest.error();
    std::string name = *latest;
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    if (!formats::is_safe_name(name)) {
      return init_error((step / "LATEST").string(), "does not name a checkpoint directory");
    }
    step /= name;
  }
  const fs::path weights = step / "model.safetensors";
  auto trainer_text = formats::read_text_file((step / "trainer.json").string(), 1 << 20);
  if (!trainer_text) return trainer_text.error();
  const json trainer = json::parse(*trainer_text, nullptr, false);
  if (trainer.is_discarded() || !trainer.contains("model") || !trainer["model"].is_string()) {
    return init_error((step / "trainer.json").string(), "has no \"model\" string");
  }
  auto arch = find_architecture(trainer["model"].get<std::string>());
  if (!arch) {
    return init_error((step / "trainer.json").string(),
                      fmt::format("the checkpoint is of model \"{}\", not a zoo model: start from "
                                  "the Hugging Face directory it was trained from instead",
                                  trainer["model"].get<std::string>()));
  }
  m.architecture = *arch;
  if (!fs::is_regular_file(weights, ec)) {
    return init_error(step.string(), "is a checkpoint without model.safetensors");
  }
  // A language model was trained at the data's vocabulary and (GPT-2) seq_len positions, not the
  // zoo's: the tensors say which.
  auto file = SafetensorsFile::open(weights.string());
  if (!file) return file.error();
  if (const auto* wte = file->find("embed.wte.weight"); wte && wte->shape.size() == 2) {
    m.architecture.vocab = static_cast<int>(wte->shape[0]);
  }
  if (const auto* wpe = file->find("embed.wpe.weight"); wpe && wpe->shape.size() == 2) {
    m.architecture.context = static_cast<int>(wpe->shape[0]);
  }
  m.path = step.string();
  m.weight_files.push_back(weights.string());
  return m;
}

}  // namespace

Result<PretrainedModel> open_pretrained(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && fs::path(path).extension() == ".safetensors") {
    PretrainedModel m;
    m.layout = PretrainedLayout::kStateDict;
    m.path = fs::absolute(path).lexically_normal().string();
    m.weight_files.push_back(m.path);
    return m;
  }
  if (!fs::is_directory(path, ec)) {
    return init_error(path, fs::exists(path, ec)
                                ? "is neither a directory (a Hugging Face directory with "
                                  "config.json, or a Saturn checkpoint) nor a .safetensors state "
                                  "dict"
                                : "no such directory");
  }
  PretrainedModel m;
  m.path = fs::absolute(path).lexically_normal().string();
  if (!m.path.empty() && m.path.back() == '/') m.path.pop_back();
  if (fs::is_regular_file(fs::path(path) / "config.json", ec)) {
    m.layout = PretrainedLayout::kHuggingFace;
    return open_hugging_face(std::move(m));
  }
  if (fs::is_regular_file(fs::path(path) / "LATEST", ec) ||
      fs::is_regular_file(fs::path(path) / "trainer.json", ec)) {
    m.layout = PretrainedLayout::kSaturnCheckpoint;
    return open_checkpoint(std::move(m));
  }
  return init_error(path,
                    "holds neither config.json (a Hugging Face model) nor a Saturn "
                    "checkpoint (LATEST or trainer.json)");
}

}  // namespace saturn
