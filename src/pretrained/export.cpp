// A trained model written back in the layout its pretrained weights came in
// (saturn/pretrained.h export_model): the checkpoint's fp32 tensors, renamed and transposed by
// the WeightMap, converted to each source tensor's dtype, sharded like transformers'
// save_pretrained. Memory: one shard's converted tensors at a time (the files are mapped, and a
// tensor is converted when its shard is written).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "saturn/atomic_file.h"
#include "saturn/pretrained.h"
#include "saturn/pretrained_files.h"
#include "saturn/safetensors.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Error export_error(const std::string& where, const std::string& message) {
  return Error{where, 0, "export", message};
}

Error write_error(const std::string& where, const std::string& message) {
  return Error{where, 0, "export", message, ErrorKind::kWrite};
}

// fp32 -> bf16 / fp16 bits, rounding to nearest even (what torch's .to() does for numbers); a NaN
// stays a NaN (bf16 keeps its sign and top payload bits, where torch writes 0x7FC0).
std::uint16_t to_bf16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f)) return static_cast<std::uint16_t>((x >> 16) | 0x40);
  x += 0x7FFF + ((x >> 16) & 1);
  return static_cast<std::uint16_t>(x >> 16);
}

std::uint16_t to_fp16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000);
  const std::uint32_t abs = x & 0x7FFFFFFF;
  if (abs > 0x7F800000) return sign | 0x7E00;   // NaN
  if (abs >= 0x477FF000) return sign | 0x7C00;  // rounds to infinity (or is one)
  if (abs < 0x38800000) {                       // fp16 subnormal or zero
    if (abs < 0x33000000) return sign;          // below half the smallest subnormal
    const std::uint32_t mantissa = (abs & 0x7FFFFF) | 0x800000;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24 for this range
    const std::uint32_t half = 1u << (shift - 1);
    std::uint32_t v = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1);
    if (rest > half || (rest == half && (v & 1))) ++v;
    return sign | static_cast<std::uint16_t>(v);
  }
  std::uint32_t v = abs - 0x38000000;  // rebias the exponent 127 -> 15
  v += 0xFFF + ((v >> 13) & 1);
  return sign | static_cast<std::uint16_t>(v >> 13);
}

// One tensor of the export: its bytes, converted.
struct Out {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> bytes;
};

// The checkpoint's fp32 tensor `e` ([rows, cols] when transposing) as `dtype`.
Result<Out> convert(const SafetensorsFile::Entry& e, const std::string& name,
                    const std::string& dtype, bool transpose) {
  Out o{name, dtype, e.shape, {}};
  const std::size_t n = e.bytes / 4;
  std::vector<float> values(n);
  std::memcpy(values.data(), e.data, e.bytes);
  if (transpose) {
    if (e.shape.size() != 2) return export_error(name, "expected a matrix to transpose");
    const std::int64_t rows = e.shape[0], cols = e.shape[1];
    std::vector<float> t(n);
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < cols; ++c) t[c * rows + r] = values[r * cols + c];
    }
    values.swap(t);
    o.shape = {cols, rows};
  }
  if (dtype == "F32") {
    o.bytes.resize(n * 4);
    std::memcpy(o.bytes.data(), values.data(), n * 4);
    return o;
  }
  if (dtype != "BF16" && dtype != "F16") {
    return export_error(name, "the source tensor's dtype " + dtype + " is not written back");
  }
  o.bytes.resize(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t h = dtype == "BF16" ? to_bf16(values[i]) : to_fp16(values[i]);
    std::memcpy(o.bytes.data() + 2 * i, &h, 2);
  }
  return o;
}

// One tensor of the export before it is converted: its name, dtype and shape, and how to make
// its bytes (convert() from the checkpoint, or a copy of the source's), called when its shard is
// written.
struct Planned {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::size_t bytes = 0;
  std::function<Result<Out>()> make;
};

// A copy of `e`'s bytes as `name`.
Planned copied(const std::string& name, const SafetensorsFile::Entry& e) {
  return {
      name, e.dtype, e.shape, e.bytes, [name, &e]() -> Result<Out> {
        return Out{name, e.dtype, e.shape, std::vector<unsigned char>(e.data, e.data + e.bytes)};
      }};
}

// `e` (the checkpoint's fp32 tensor) converted to `dtype`, transposed when asked.
Planned converted(const std::string& name, const SafetensorsFile::Entry& e,
                  const std::string& dtype, bool transpose) {
  std::vector<std::int64_t> shape = e.shape;
  if (transpose && shape.size() == 2) std::swap(shape[0], shape[1]);
  return {name, dtype, shape, e.bytes / 4 * safetensors_dtype_size(dtype),
          [name, &e, dtype, transpose] { return convert(e, name, dtype, transpose); }};
}

// Every output tensor, in name order: the parameters (each in `dtype_of` its name), the tied
// head, and the skipped buffers copied from the source. Nothing is converted yet.
Result<std::vector<Planned>> plan_tensors(const PretrainedFiles* src, const WeightMap& map,
                                          const SafetensorsFile& trained,
                                          const std::string& checkpoint) {
  const auto dtype_of = [&](const std::string& theirs) {
    return src ? src->tensors().at(theirs).entry->dtype : std::string("F32");
  };
  std::vector<Planned> out;
  const SafetensorsFile::Entry* wte = nullptr;
  for (const TensorLink& l : map.links) {
    const SafetensorsFile::Entry* e = trained.find(l.ours);
    if (e && e->dtype != "F32" && e->dtype == dtype_of(l.theirs) && !l.transpose) {
      out.push_back(copied(l.theirs, *e));  // a buffer in its own dtype (num_batches_tracked)
      continue;
    }
    if (!e || e->dtype != "F32") {
      return export_error(checkpoint,
                          fmt::format("model.safetensors has no fp32 tensor {}", l.ours));
    }
    const std::string dtype = dtype_of(l.theirs);
    if (dtype != "F32" && dtype != "F16" && dtype != "BF16") {
      return export_error(l.theirs, "the source tensor's dtype " + dtype + " is not written back");
    }
    out.push_back(converted(l.theirs, *e, dtype, l.transpose));
    if (l.ours == "embed.wte.weight") wte = e;
  }
  if (!map.tied_head.empty() && wte) {
    out.push_back(converted(map.tied_head, *wte, dtype_of(map.tied_head), false));
  }
  for (const std::string& name : map.skipped) {
    out.push_back(copied(name, *src->tensors().at(name).entry));
  }
  std::sort(out.begin(), out.end(),
            [](const Planned& a, const Planned& b) { return a.name < b.name; });
  return out;
}

// A new directory's config.json: the architecture, with the vocabulary and positions trained.
json new_config(const ModelArchitecture& a, std::int64_t vocab, std::int64_t positions) {
  if (a.family == "gptj") {
    return json{{"architectures", {"GPTJForCausalLM"}},
                {"model_type", "gptj"},
                {"n_layer", a.layers},
                {"n_embd", a.d_model},
                {"n_head", a.heads},
                {"n_inner", a.mlp},
                {"rotary_dim", a.rotary_dim},
                {"n_positions", a.context},
                {"vocab_size", vocab},
                {"activation_function", "gelu_new"},
                {"layer_norm_epsilon", a.norm_eps},
                {"tie_word_embeddings", false},
                {"torch_dtype", "float32"}};
  }
  return json{{"architectures", {"GPT2LMHeadModel"}},
              {"model_type", "gpt2"},
              {"n_layer", a.layers},
              {"n_embd", a.d_model},
              {"n_head", a.heads},
              {"n_inner", a.mlp},
              {"n_positions", positions},
              {"vocab_size", vocab},
              {"activation_function", "gelu_new"},
              {"layer_norm_epsilon", a.norm_eps},
              {"tie_word_embeddings", true},
              {"torch_dtype", "float32"}};
}

Status write_json(const fs::path& path, const json& doc) {
  return write_file_atomically(path.string(), doc.dump(2) + "\n");
}

// Writes `tensors` as one file or shards of at most `shard_bytes`, with the index.
Status write_shards(const fs::path& dir, const std::vector<Planned>& tensors,
                    std::int64_t shard_bytes) {
  std::vector<std::vector<const Planned*>> shards(1);
  std::int64_t in_shard = 0, total = 0;
  for (const Planned& t : tensors) {
    const auto size = static_cast<std::int64_t>(t.bytes);
    if (in_shard > 0 && in_shard + size > shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&t);
    in_shard += size;
    total += size;
  }
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  json weight_map = json::object();
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string name = shards.size() == 1 ? "model.safetensors"
                                                : fmt::format("model-{:05d}-of-{:05d}.safetensors",
                                                              i + 1, shards.size());
    std::vector<Out> made;  // this shard's bytes only
    made.reserve(shards[i].size());
    for (const Planned* t : shards[i]) {
      auto o = t->make();
      if (!o) return o.error();
      made.push_back(std::move(*o));
    }
    std::vector<TensorView> views;
    for (const Out& t : made) {
      views.push_back({t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
      weight_map[t.name] = name;
    }
    if (Status s = write_safetensors((dir / name).string(), views, metadata); !s) return s;
  }
  if (shards.size() == 1) return Status::Ok();
  return write_json(dir / "model.safetensors.index.json",
                    json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
}

// Files a Hugging Face directory keeps beside the weights, copied as they are.
const char* const kSideFiles[] = {"vocab.json",
                                  "merges.txt",
                                  "tokenizer.json",
                                  "tokenizer_config.json",
                                  "special_tokens_map.json",
                                  "added_tokens.json",
                                  "generation_config.json"};

}  // namespace

Result<std::string> newest_checkpoint(const std::string& checkpoints) {
  std::error_code ec;
  const fs::path dir(checkpoints);
  if (fs::is_regular_file(dir / "model.safetensors", ec)) return dir.string();
  std::ifstream in(dir / "LATEST");
  std::string name;
  if (!in || !std::getline(in, name) || name.empty() || name.find('/') != std::string::npos) {
    return export_error(checkpoints, "holds no checkpoint (no LATEST naming one)");
  }
  if (!fs::is_regular_file(dir / name / "model.safetensors", ec)) {
    return export_error((dir / name).string(), "LATEST names it, but it has no model.safetensors");
  }
  return (dir / name).string();
}

Status export_model(const ModelArchitecture& architecture, const PretrainedModel* source,
                    const std::string& checkpoint, const std::string& out_dir,
                    const ExportOptions& options) {
  if (source && source->layout == PretrainedLayout::kSaturnCheckpoint) source = nullptr;
  std::error_code ec;
  // "model/" and "model" are one directory; the export is written beside it, then renamed.
  fs::path target = fs::path(out_dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  if (target.empty() || target.filename() == "." || target.filename() == "..") {
    return export_error(out_dir, "is not a directory name to write the export to");
  }
  const std::string out = target.string();
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
    return export_error(out, "exists and is not an empty directory; nothing was written");
  }
  std::optional<PretrainedFiles> src;
  Result<WeightMap> map = export_error(out, "");
  if (source) {
    auto opened = PretrainedFiles::open(source->weight_files);
    if (!opened) return opened.error();
    src = std::move(*opened);
    map = map_pretrained(*source, architecture, src->names());
  } else {
    map = new_hugging_face_names(architecture);
  }
  if (!map) return map.error();
  auto trained = SafetensorsFile::open((fs::path(checkpoint) / "model.safetensors").string());
  if (!trained) return trained.error();
  auto tensors = plan_tensors(src ? &*src : nullptr, *map, *trained, checkpoint);
  if (!tensors) return tensors.error();
  std::int64_t vocab = 0, positions = 0;
  for (const Planned& t : *tensors) {
    if (t.name == map->prefix + "wte.weight") vocab = t.shape[0];
    if (t.name == map->prefix + "wpe.weight") positions = t.shape[0];
  }
  json config = source ? source->config : new_config(architecture, vocab, positions);
  if (vocab > 0) config["vocab_size"] = vocab;

  const fs::path tmp = fmt::format("{}.tmp.{}", out, ::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return write_error(tmp.string(), "cannot create: " + ec.message());
  // A state dict came without a config: it goes back without one.
  const bool state_dict = source && source->layout == PretrainedLayout::kStateDict;
  Status s = state_dict ? Status::Ok() : write_json(tmp / "config.json", config);
  if (s) s = write_shards(tmp, *tensors, options.shard_bytes);
  // A grown vocabulary has tokens the source's tokenizer lacks: the data's tokenizer goes beside
  // it instead (when the job had a tokenizer directory), never the source's.
  const bool resized =
      source && source->config.contains("vocab_size") && source->config["vocab_size"] != vocab;
  const std::string side_dir = resized ? options.tokenizer_dir : (source ? source->path : "");
  for (const char* side : kSideFiles) {
    if (!s || side_dir.empty() || state_dict) break;
    const fs::path from = fs::path(side_dir) / side;
    if (fs::is_regular_file(from, ec) && !fs::copy_file(from, tmp / side, ec)) {
      s = write_error(from.string(), "cannot copy: " + ec.message());
    }
  }
  if (s && fs::exists(out, ec)) fs::remove(out, ec);
  if (s) fs::rename(tmp, out, ec);
  if (s && ec) s = write_error(out, "cannot move the export into place: " + ec.message());
  if (!s) fs::remove_all(tmp, ec);
  return s;
}

}  // namespace saturn
