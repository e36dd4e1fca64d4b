// Test-only: a tiny GPT-2 written as transformers' save_pretrained writes one (config.json,
// model.safetensors or shards with an index, Conv1D weights [in, out], optional "transformer."
// prefix, causal-mask buffers, a tied lm_head copy), with seeded random values in F32, F16 or
// BF16. Pure C++ (no libtorch), header-only so that both test binaries use it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/safetensors.h"

namespace saturn::testing {

struct TinyGpt2 {
  int layers = 2;
  int d = 32;
  int heads = 4;
  int vocab = 256;
  int positions = 64;
  double eps = 1e-5;
  std::string dtype = "F32";  // "F32" | "F16" | "BF16"
  bool prefix = true;         // names start with "transformer." (GPT2LMHeadModel)
  bool mask_buffers = true;   // h.i.attn.bias [1, 1, P, P] and h.i.attn.masked_bias
  bool lm_head = false;       // an lm_head.weight equal to wte.weight
  bool untied_head = false;   // with lm_head: its values differ from wte's (not GPT-2)
  int shards = 1;             // > 1: model-0000k-of-0000n.safetensors and the index
  std::uint32_t seed = 1;
  std::string activation = "gelu_new";
};

// One tensor's bytes in `dtype` from fp32 values. F16: values are drawn in a range F16 holds
// exactly after this conversion (|x| in [2^-14, 2^15)), rounded by truncation of the mantissa.
inline std::vector<unsigned char> fixture_bytes(const std::vector<float>& values,
                                                const std::string& dtype) {
  std::vector<unsigned char> out;
  for (float f : values) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    if (dtype == "F32") {
      out.insert(out.end(), reinterpret_cast<unsigned char*>(&x),
                 reinterpret_cast<unsigned char*>(&x) + 4);
      continue;
    }
    std::uint16_t h;
    if (dtype == "BF16") {
      h = static_cast<std::uint16_t>(x >> 16);
    } else {  // F16 of a normal value: sign, rebiased exponent, the top 10 mantissa bits
      const std::uint32_t sign = (x >> 16) & 0x8000;
      const int exponent = static_cast<int>((x >> 23) & 0xFF) - 127 + 15;
      h = exponent <= 0 ? static_cast<std::uint16_t>(sign)
                        : static_cast<std::uint16_t>(sign | (exponent << 10) | ((x >> 13) & 0x3FF));
    }
    out.push_back(static_cast<unsigned char>(h & 0xFF));
    out.push_back(static_cast<unsigned char>(h >> 8));
  }
  return out;
}

// Writes `m` to `dir` (created). Returns the tensors' names.
inline std::vector<std::string> write_tiny_gpt2(const std::filesystem::path& dir,
                                                const TinyGpt2& m) {
  std::filesystem::create_directories(dir);
  nlohmann::json config = {{"architectures", {"GPT2LMHeadModel"}},
                           {"model_type", "gpt2"},
                           {"n_layer", m.layers},
                           {"n_embd", m.d},
                           {"n_head", m.heads},
                           {"n_inner", nullptr},
                           {"n_positions", m.positions},
                           {"n_ctx", m.positions},
                           {"vocab_size", m.vocab},
                           {"activation_function", m.activation},
                           {"layer_norm_epsilon", m.eps},
                           {"resid_pdrop", 0.1},
                           {"tie_word_embeddings", true}};
  std::ofstream(dir / "config.json") << config.dump(2);
  std::mt19937 rng(m.seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  struct T {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<unsigned char> bytes;
    std::string dtype;
  };
  std::vector<T> tensors;
  const std::string p = m.prefix ? "transformer." : "";
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, float centre) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = centre + normal(rng);
    tensors.push_back({name, shape, fixture_bytes(v, m.dtype), m.dtype});
  };
  add(p + "wte.weight", {m.vocab, m.d}, 0);
  add(p + "wpe.weight", {m.positions, m.d}, 0);
  const int mlp = 4 * m.d;
  for (int i = 0; i < m.layers; ++i) {
    const std::string h = p + "h." + std::to_string(i) + ".";
    add(h + "ln_1.weight", {m.d}, 1);
    add(h + "ln_1.bias", {m.d}, 0);
    add(h + "attn.c_attn.weight", {m.d, 3 * m.d}, 0);
    add(h + "attn.c_attn.bias", {3 * m.d}, 0);
    add(h + "attn.c_proj.weight", {m.d, m.d}, 0);
    add(h + "attn.c_proj.bias", {m.d}, 0);
    add(h + "ln_2.weight", {m.d}, 1);
    add(h + "ln_2.bias", {m.d}, 0);
    add(h + "mlp.c_fc.weight", {m.d, mlp}, 0);
    add(h + "mlp.c_fc.bias", {mlp}, 0);
    add(h + "mlp.c_proj.weight", {mlp, m.d}, 0);
    add(h + "mlp.c_proj.bias", {m.d}, 0);
    if (m.mask_buffers) {
      // The causal mask as transformers stored it: lower-triangular booleans [1, 1, P, P] (U8
      // here) and a scalar -1e4.
      std::vector<unsigned char> mask;
      for (int r = 0; r < m.positions; ++r) {
        for (int c = 0; c < m.positions; ++c) mask.push_back(c <= r ? 1 : 0);
      }
      tensors.push_back({h + "attn.bias", {1, 1, m.positions, m.positions}, mask, "BOOL"});
      tensors.push_back({h + "attn.masked_bias", {}, fixture_bytes({-1e4f}, "F32"), "F32"});
    }
  }
  add(p + "ln_f.weight", {m.d}, 1);
  add(p + "ln_f.bias", {m.d}, 0);
  if (m.lm_head) tensors.push_back({"lm_head.weight", tensors[0].shape, tensors[0].bytes, m.dtype});
  if (m.lm_head && m.untied_head) tensors.back().bytes[0] ^= 1;

  std::vector<std::string> names;
  nlohmann::json weight_map = nlohmann::json::object();
  const std::size_t per = (tensors.size() + m.shards - 1) / m.shards;
  for (int s = 0; s < m.shards; ++s) {
    char file[64];
    std::snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, m.shards);
    const std::string name = m.shards == 1 ? "model.safetensors" : file;
    std::vector<TensorView> views;
    for (std::size_t i = s * per; i < std::min(tensors.size(), (s + 1) * per); ++i) {
      const T& t = tensors[i];
      views.push_back({t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
      weight_map[t.name] = name;
      names.push_back(t.name);
    }
    (void)write_safetensors((dir / name).string(), views, {{"format", "pt"}});
  }
  if (m.shards > 1) {
    std::ofstream(dir / "model.safetensors.index.json")
        << nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(2);
  }
  std::ofstream(dir / "vocab.json") << "{}";  // a tokenizer file export copies beside
  return names;
}

// A tiny GPT-J as GPTJForCausalLM's save_pretrained writes it (nn.Linear weights [out, in], q/k/v
// and out projections without bias, an untied lm_head with bias), F32, seeded.
struct TinyGptj {
  int layers = 2;
  int d = 32;
  int heads = 4;
  int rotary_dim = 4;  // of each head's 8
  int vocab = 256;
  int positions = 64;
  double eps = 1e-5;
  bool mask_buffers = true;  // h.i.attn.bias, masked_bias (older transformers)
  std::uint32_t seed = 2;
};

inline std::vector<std::string> write_tiny_gptj(const std::filesystem::path& dir,
                                                const TinyGptj& m) {
  std::filesystem::create_directories(dir);
  nlohmann::json config = {{"architectures", {"GPTJForCausalLM"}},
                           {"model_type", "gptj"},
                           {"n_layer", m.layers},
                           {"n_embd", m.d},
                           {"n_head", m.heads},
                           {"rotary_dim", m.rotary_dim},
                           {"n_inner", nullptr},
                           {"n_positions", m.positions},
                           {"vocab_size", m.vocab},
                           {"activation_function", "gelu_new"},
                           {"layer_norm_epsilon", m.eps},
                           {"tie_word_embeddings", false}};
  std::ofstream(dir / "config.json") << config.dump(2);
  std::mt19937 rng(m.seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<std::string> names;
  std::vector<std::vector<unsigned char>> bytes;
  std::vector<std::vector<std::int64_t>> shapes;
  std::vector<std::string> dtypes;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, float centre) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = centre + normal(rng);
    names.push_back(name);
    shapes.push_back(shape);
    bytes.push_back(fixture_bytes(v, "F32"));
    dtypes.push_back("F32");
  };
  const std::int64_t d = m.d, mlp = 4 * m.d;
  add("transformer.wte.weight", {m.vocab, d}, 0);
  for (int i = 0; i < m.layers; ++i) {
    const std::string h = "transformer.h." + std::to_string(i) + ".";
    add(h + "ln_1.weight", {d}, 1);
    add(h + "ln_1.bias", {d}, 0);
    for (const char* p : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(h + "attn." + p + ".weight", {d, d}, 0);
    }
    add(h + "mlp.fc_in.weight", {mlp, d}, 0);
    add(h + "mlp.fc_in.bias", {mlp}, 0);
    add(h + "mlp.fc_out.weight", {d, mlp}, 0);
    add(h + "mlp.fc_out.bias", {d}, 0);
    if (m.mask_buffers) {
      std::vector<unsigned char> mask;
      for (int r = 0; r < m.positions; ++r) {
        for (int c = 0; c < m.positions; ++c) mask.push_back(c <= r ? 1 : 0);
      }
      names.push_back(h + "attn.bias");
      shapes.push_back({1, 1, m.positions, m.positions});
      bytes.push_back(mask);
      dtypes.push_back("BOOL");
    }
  }
  add("transformer.ln_f.weight", {d}, 1);
  add("transformer.ln_f.bias", {d}, 0);
  add("lm_head.weight", {m.vocab, d}, 0);
  add("lm_head.bias", {m.vocab}, 0);
  std::vector<TensorView> views;
  for (std::size_t i = 0; i < names.size(); ++i) {
    views.push_back({names[i], dtypes[i], shapes[i], bytes[i].data(), bytes[i].size()});
  }
  (void)write_safetensors((dir / "model.safetensors").string(), views, {{"format", "pt"}});
  return names;
}

}  // namespace saturn::testing
