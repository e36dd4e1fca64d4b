// Pretrained models without libtorch (saturn/pretrained.h): config.json to architecture, the
// directory checks, the weight map's strictness, the workload's `init`, and export — names,
// transposition, dtypes rounded as torch rounds them, shards and their index, side files.
// The worker's tests load the same fixtures into real models (tests/worker/pretrained_test.cpp).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "saturn/pretrained.h"
#include "saturn/pretrained_files.h"
#include "saturn/safetensors.h"
#include "saturn/workload.h"
#include "support/hf_fixture.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TinyGpt2;
using testing::write_tiny_gpt2;

fs::path fresh(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / "saturn_pretrained" / name;
  fs::remove_all(dir);
  fs::create_directories(dir.parent_path());
  return dir;
}

json gpt2_config() {
  return {{"model_type", "gpt2"},
          {"n_layer", 12},
          {"n_embd", 768},
          {"n_head", 12},
          {"n_positions", 1024},
          {"vocab_size", 50257},
          {"n_inner", nullptr},
          {"activation_function", "gelu_new"},
          {"layer_norm_epsilon", 1e-5}};
}

TEST(PretrainedConfig, GivesTheArchitectureAndItsZooName) {
  auto a = architecture_from_config(gpt2_config(), "c.json", "mine");
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->name, "gpt2");
  EXPECT_EQ(a->mlp, 3072);
  EXPECT_EQ(a->context, 1024);
  json other = gpt2_config();
  other["layer_norm_epsilon"] = 1e-6;
  auto b = architecture_from_config(other, "c.json", "mine");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->name, "mine");  // another epsilon: not the zoo's gpt2
  EXPECT_DOUBLE_EQ(b->norm_eps, 1e-6);
}

TEST(PretrainedConfig, UnsupportedValuesAreErrorsNamingTheKey) {
  struct Case {
    const char* key;
    json value;
  };
  for (const Case& c :
       {Case{"activation_function", "relu"}, Case{"model_type", "llama"}, Case{"n_layer", nullptr},
        Case{"n_head", 7}, Case{"scale_attn_by_inverse_layer_idx", true},
        Case{"add_cross_attention", true}, Case{"tie_word_embeddings", false},
        Case{"layer_norm_epsilon", -1}, Case{"vocab_size", "many"}}) {
    json config = gpt2_config();
    config[c.key] = c.value;
    auto a = architecture_from_config(config, "dir/config.json", "x");
    ASSERT_FALSE(a) << c.key;
    EXPECT_EQ(a.error().file, "dir/config.json");
    const std::string text = a.error().to_string();
    EXPECT_TRUE(text.find(c.key) != std::string::npos ||
                (std::string(c.key) == "n_head" && text.find("multiple") != std::string::npos))
        << text;
  }
}

TEST(PretrainedDirectory, IsCheckedBeforeAnyTensorIsRead) {
  EXPECT_NE(open_pretrained("/nonexistent/model").error().message.find("no such directory"),
            std::string::npos);
  const fs::path empty = fresh("empty");
  fs::create_directories(empty);
  EXPECT_NE(open_pretrained(empty.string()).error().message.find("neither config.json"),
            std::string::npos);
  const fs::path no_weights = fresh("no_weights");
  write_tiny_gpt2(no_weights, TinyGpt2{});
  fs::remove(no_weights / "model.safetensors");
  EXPECT_NE(open_pretrained(no_weights.string()).error().message.find("model.safetensors"),
            std::string::npos);
  const fs::path sharded = fresh("sharded_missing");
  TinyGpt2 m;
  m.shards = 3;
  write_tiny_gpt2(sharded, m);
  auto ok = open_pretrained(sharded.string());
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->weight_files.size(), 3u);
  fs::remove(sharded / "model-00002-of-00003.safetensors");
  auto missing = open_pretrained(sharded.string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("model-00002-of-00003.safetensors"), std::string::npos);
}

TEST(PretrainedFiles, NamesEachTensorsFileAndRefusesOneInTwoFiles) {
  const fs::path dir = fresh("files");
  TinyGpt2 m;
  m.shards = 2;
  const std::vector<std::string> names = write_tiny_gpt2(dir, m);
  auto model = open_pretrained(dir.string());
  ASSERT_TRUE(model) << model.error().to_string();
  auto files = PretrainedFiles::open(model->weight_files);
  ASSERT_TRUE(files) << files.error().to_string();
  EXPECT_EQ(files->names().size(), names.size());
  EXPECT_EQ(files->tensors().at("transformer.wte.weight").file, model->weight_files[0]);
  auto twice = PretrainedFiles::open({model->weight_files[0], model->weight_files[0]});
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("is in two files"), std::string::npos);
}

TEST(WeightMap, IsStrictAndSkipsOnlyTheMaskBuffers) {
  const fs::path dir = fresh("map");
  TinyGpt2 m;
  m.lm_head = true;
  const std::vector<std::string> names = write_tiny_gpt2(dir, m);
  auto model = open_pretrained(dir.string());
  ASSERT_TRUE(model) << model.error().to_string();
  auto map = map_hugging_face(model->architecture, names, dir.string());
  ASSERT_TRUE(map) << map.error().to_string();
  EXPECT_EQ(map->prefix, "transformer.");
  EXPECT_EQ(map->tied_head, "lm_head.weight");
  EXPECT_EQ(map->skipped.size(), 4u);  // attn.bias and attn.masked_bias of 2 layers
  bool c_attn_bias = false, transposed = false;
  for (const TensorLink& l : map->links) {
    if (l.theirs == "transformer.h.1.attn.c_attn.bias") c_attn_bias = l.ours == "h.1.c_attn.bias";
    if (l.theirs == "transformer.h.0.mlp.c_proj.weight") {
      transposed = l.transpose && l.ours == "h.0.mlp_proj.weight";
    }
  }
  EXPECT_TRUE(c_attn_bias) << "c_attn.bias is a weight, not a mask buffer";
  EXPECT_TRUE(transposed);

  std::vector<std::string> missing = names;
  missing.erase(std::find(missing.begin(), missing.end(), "transformer.h.1.ln_2.bias"));
  auto e = map_hugging_face(model->architecture, missing, "D");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("transformer.h.1.ln_2.bias is missing"), std::string::npos);
  std::vector<std::string> unknown = names;
  unknown.push_back("transformer.h.2.ln_1.weight");
  e = map_hugging_face(model->architecture, unknown, "D");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("transformer.h.2.ln_1.weight is not part"), std::string::npos);
}

TEST(WorkloadInit, TakesTheModelFromTheDirectoryAndChecksAGivenOne) {
  const fs::path dir = fresh("workload");
  write_tiny_gpt2(dir / "tiny-hf", TinyGpt2{});
  const std::string base = R"(
jobs:
  - name: ft
    init: tiny-hf
    data: {format: synthetic-text, seq_len: 16, samples: 64}
    lr: 1.0e-4
    batch_size: 8
    steps: 4
    gpus: [1]
    techniques: [ddp]
)";
  auto w = parse_workload_yaml(base, "w.yaml", dir.string());
  ASSERT_TRUE(w) << w.error().to_string();
  const JobSpec& job = w->jobs[0];
  EXPECT_EQ(job.model, "tiny-hf");
  EXPECT_EQ(job.architecture.layers, 2);
  EXPECT_EQ(job.architecture.vocab, 256);
  EXPECT_EQ(job.init.path, (dir / "tiny-hf").string());
  // The job file the worker reads resolves the same way.
  auto again = parse_workload_yaml(job_to_json(job, "w", dir.string()).dump(), "job.json", "/");
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->jobs[0].init.path, job.init.path);
  EXPECT_EQ(again->jobs[0].model, "tiny-hf");

  std::string mismatch = base;
  mismatch.replace(mismatch.find("    init: tiny-hf"), 17,
                   "    init: tiny-hf\n    model: gpt2-tiny");
  auto bad = parse_workload_yaml(mismatch, "w.yaml", dir.string());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().line, 5);
  EXPECT_NE(bad.error().message.find("does not match"), std::string::npos);
  EXPECT_NE(bad.error().message.find("d_model 64 vs 32"), std::string::npos);

  std::string gone = base;
  gone.replace(gone.find("tiny-hf"), 7, "elsewhere");
  auto missing = parse_workload_yaml(gone, "w.yaml", dir.string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().line, 4);
  EXPECT_NE(missing.error().message.find("no such directory"), std::string::npos);

  std::string vocab = base;
  vocab.replace(vocab.find("init: tiny-hf"), 13, "init: {path: tiny-hf, vocab: grow}");
  auto choice = parse_workload_yaml(vocab, "w.yaml", dir.string());
  ASSERT_FALSE(choice);
  EXPECT_NE(choice.error().field.find("init.vocab"), std::string::npos);

  // A larger data vocabulary is an error unless resizing is asked for.
  auto kept = job_model_vocab(job, job.architecture, 300);
  ASSERT_FALSE(kept);
  EXPECT_EQ(kept.error().field, "init.vocab");
  JobSpec resize = job;
  resize.init.vocab = "resize";
  EXPECT_EQ(*job_model_vocab(resize, job.architecture, 300), 300);
  EXPECT_EQ(*job_model_vocab(job, job.architecture, 200), 256);
}

TEST(StateDict, NeedsModelAndMapsTorchvisionNamesStrictly) {
  const std::string state = std::string(SATURN_SOURCE_DIR) +
                            "/tests/fixtures/pretrained/resnet-tiny-torchvision.safetensors";
  const std::string job = "jobs:\n  - name: r\n    init: " + state +
                          "\n    data: {format: synthetic-images, image_size: 32, samples: 8}\n"
                          "    lr: 0.1\n    batch_size: 4\n    steps: 1\n    gpus: 1\n"
                          "    techniques: single\n";
  auto no_model = parse_workload_yaml(job, "w.yaml", "/");
  ASSERT_FALSE(no_model);
  EXPECT_NE(no_model.error().message.find("give `model`"), std::string::npos);
  auto w = parse_workload_yaml(job + "    model: resnet-tiny\n", "w.yaml", "/");
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->jobs[0].architecture.name, "resnet-tiny");

  auto file = SafetensorsFile::open(state);
  ASSERT_TRUE(file);
  std::vector<std::string> names;
  for (const auto& [n, e] : file->tensors()) names.push_back(n);
  auto map = map_state_dict(w->jobs[0].architecture, names, state);
  ASSERT_TRUE(map) << map.error().to_string();
  bool downsample = false;
  for (const TensorLink& l : map->links) {
    downsample |= l.theirs == "layer2.0.downsample.1.running_var" &&
                  l.ours == "layer2.0.downsample_bn.running_var";
  }
  EXPECT_TRUE(downsample);
  // resnet-50's blocks are not in resnet-tiny's file.
  auto other = map_state_dict(*find_architecture("resnet-50"), names, state);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("is missing"), std::string::npos);
  auto gpt = map_state_dict(*find_architecture("gpt2"), names, state);
  ASSERT_FALSE(gpt);
}

// A Saturn checkpoint's model.safetensors (fp32, the worker's names) for `names`' links.
void write_checkpoint(const fs::path& step, const WeightMap& map, const SafetensorsFile& source,
                      const std::map<std::string, std::vector<float>>& values) {
  fs::create_directories(step);
  std::vector<TensorView> views;
  for (const TensorLink& l : map.links) {
    std::vector<std::int64_t> shape = source.find(l.theirs)->shape;
    if (l.transpose) std::swap(shape[0], shape[1]);
    const std::vector<float>& v = values.at(l.ours);
    views.push_back({l.ours, "F32", shape, v.data(), v.size() * 4});
  }
  ASSERT_TRUE(write_safetensors((step / "model.safetensors").string(), views));
}

TEST(Export, WritesTheSourceLayoutWithTorchsRounding) {
  const fs::path dir = fresh("export");
  TinyGpt2 m;
  m.dtype = "F16";
  m.lm_head = true;
  write_tiny_gpt2(dir / "src", m);
  auto source = open_pretrained((dir / "src").string());
  ASSERT_TRUE(source) << source.error().to_string();
  auto file = SafetensorsFile::open(source->weight_files[0]);
  ASSERT_TRUE(file);
  std::vector<std::string> names;
  for (const auto& [n, e] : file->tensors()) names.push_back(n);
  auto map = map_hugging_face(source->architecture, names, "src");
  ASSERT_TRUE(map);
  // Every value 0.5, but ln_f.bias gets values whose F16 rounding is known (torch's .half()):
  // ties to even, overflow to infinity, subnormals, NaN.
  std::map<std::string, std::vector<float>> values;
  for (const TensorLink& l : map->links) {
    std::int64_t n = 1;
    for (auto s : file->find(l.theirs)->shape) n *= s;
    values[l.ours].assign(static_cast<std::size_t>(n), 0.5f);
  }
  // c_fc.weight of layer 0: ours [mlp, d] holds at (r, c) a value exact in F16 that names them,
  // to check the transposition.
  auto& fc = values["h.0.c_fc.weight"];
  const int d = m.d, mlp = 4 * m.d;
  const auto named = [](int r, int c) { return static_cast<float>((r % 16) * 64 + c) / 1024.0f; };
  for (int r = 0; r < mlp; ++r) {
    for (int c = 0; c < d; ++c) fc[r * d + c] = named(r, c);
  }
  const std::vector<std::pair<float, std::uint16_t>> cases = {
      {1.0f, 0x3C00},           {-2.0f, 0xC000},         {65504.0f, 0x7BFF},
      {65520.0f, 0x7C00},       {1e-8f, 0x0000},         {5.9604645e-8f, 0x0001},
      {0.1f, 0x2E66},           {1.0009765625f, 0x3C01}, {1.00048828125f, 0x3C00},
      {1.00146484375f, 0x3C02}, {6.1035156e-5f, 0x0400}, {std::nanf(""), 0x7E00}};
  auto& bias = values["head.ln_f.bias"];
  for (std::size_t i = 0; i < cases.size(); ++i) bias[i] = cases[i].first;
  write_checkpoint(dir / "ckpt", *map, *file, values);

  ExportOptions options;
  options.shard_bytes = 20000;  // several shards
  ASSERT_TRUE(export_model(source->architecture, &*source, (dir / "ckpt").string(),
                           (dir / "out").string(), options));
  EXPECT_TRUE(fs::exists(dir / "out" / "vocab.json"));
  std::ifstream index_in(dir / "out" / "model.safetensors.index.json");
  const json index = json::parse(index_in);
  std::map<std::string, const SafetensorsFile::Entry*> out;
  std::vector<SafetensorsFile> files;
  std::set<std::string> shard_names;
  for (const auto& [t, f] : index["weight_map"].items()) shard_names.insert(f.get<std::string>());
  EXPECT_GT(shard_names.size(), 1u);
  for (const std::string& f : shard_names) {
    auto sf = SafetensorsFile::open((dir / "out" / f).string());
    ASSERT_TRUE(sf) << sf.error().to_string();
    EXPECT_EQ(sf->metadata().at("format"), "pt");
    files.push_back(std::move(*sf));
  }
  for (const SafetensorsFile& f : files) {
    for (const auto& [n, e] : f.tensors()) out[n] = &e;
  }
  EXPECT_EQ(out.size(), names.size());  // every source tensor, the buffers and lm_head too
  for (const std::string& n : names) {
    ASSERT_TRUE(out.count(n)) << n;
    EXPECT_EQ(out[n]->dtype, file->find(n)->dtype) << n;
    EXPECT_EQ(out[n]->shape, file->find(n)->shape) << n;
  }
  // Mask buffers: written back byte for byte.
  const auto* mask = file->find("transformer.h.1.attn.bias");
  EXPECT_EQ(std::memcmp(out["transformer.h.1.attn.bias"]->data, mask->data, mask->bytes), 0);
  // Transposed back: theirs [d, mlp] at (c, r) is ours (r, c).
  const auto* theirs = out["transformer.h.0.mlp.c_fc.weight"];
  auto f16 = [&](const SafetensorsFile::Entry* e, std::size_t i) {
    std::uint16_t h;
    std::memcpy(&h, e->data + 2 * i, 2);
    return h;
  };
  const int r = 77, c = 5;
  const std::uint16_t bits = f16(theirs, static_cast<std::size_t>(c) * mlp + r);
  const std::vector<unsigned char> expect = testing::fixture_bytes({named(r, c)}, "F16");
  EXPECT_EQ(bits, static_cast<std::uint16_t>(expect[0] | (expect[1] << 8)));
  const auto* ln_f = out["transformer.ln_f.bias"];
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(f16(ln_f, i), cases[i].second) << "value " << cases[i].first;
  }
  std::ifstream config_in(dir / "out" / "config.json");
  EXPECT_EQ(json::parse(config_in)["vocab_size"], m.vocab);

  // "out/" is the directory "out".
  ASSERT_TRUE(export_model(source->architecture, &*source, (dir / "ckpt").string(),
                           (dir / "slash").string() + "/", options));
  EXPECT_TRUE(fs::exists(dir / "slash" / "config.json"));
  EXPECT_FALSE(fs::exists(dir / "slash" / ".tmp"));

  // Never over an existing export.
  auto again = export_model(source->architecture, &*source, (dir / "ckpt").string(),
                            (dir / "out").string(), options);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("not an empty directory"), std::string::npos);
}

}  // namespace
}  // namespace saturn
