// Loading pretrained weights (train/pretrained.h): seconds and peak host memory to build a model
// from a large Hugging Face GPT-2 directory, against the file's size and the fp32 model's.
//
//   bench_pretrained_load write DIR [--layers 48 --d 1600 --heads 25 --vocab 50257
//                                    --positions 1024 --dtype BF16]
//       a synthetic GPT2LMHeadModel directory (gpt2-xl's shape by default: 1.56B parameters,
//       3.1 GB in BF16); every tensor holds the same pattern (values do not matter here)
//   bench_pretrained_load load DIR [--build-only]
//       one load in this process, then one JSON line: seconds, peak RSS (ru_maxrss), file bytes,
//       fp32 model bytes. --build-only builds the same model from its seed without reading the
//       files: what building and initialising cost apart from loading. Run it in a fresh process
//       per measurement (bench/run/load_bench.sh).
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "models/model.h"
#include "saturn/safetensors.h"
#include "saturn/workload.h"
#include "train/pretrained.h"

namespace {

namespace fs = std::filesystem;
using saturn::TensorView;

struct Shape {
  int layers = 48, d = 1600, heads = 25, vocab = 50257, positions = 1024;
  std::string dtype = "BF16";
};

int write(const std::string& dir, const Shape& s) {
  fs::create_directories(dir);
  std::ofstream(fs::path(dir) / "config.json") << nlohmann::json{
      {"model_type", "gpt2"},
      {"n_layer", s.layers},
      {"n_embd", s.d},
      {"n_head", s.heads},
      {"vocab_size", s.vocab},
      {"n_positions", s.positions},
      {"activation_function", "gelu_new"}}.dump(2);
  const std::size_t element = saturn::safetensors_dtype_size(s.dtype);
  const std::int64_t d = s.d, mlp = 4 * d;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes = {
      {"transformer.wte.weight", {s.vocab, d}}, {"transformer.wpe.weight", {s.positions, d}}};
  for (int i = 0; i < s.layers; ++i) {
    const std::string h = fmt::format("transformer.h.{}.", i);
    for (const char* ln : {"ln_1", "ln_2"}) {
      shapes.push_back({h + ln + ".weight", {d}});
      shapes.push_back({h + ln + ".bias", {d}});
    }
    shapes.push_back({h + "attn.c_attn.weight", {d, 3 * d}});
    shapes.push_back({h + "attn.c_attn.bias", {3 * d}});
    shapes.push_back({h + "attn.c_proj.weight", {d, d}});
    shapes.push_back({h + "attn.c_proj.bias", {d}});
    shapes.push_back({h + "mlp.c_fc.weight", {d, mlp}});
    shapes.push_back({h + "mlp.c_fc.bias", {mlp}});
    shapes.push_back({h + "mlp.c_proj.weight", {mlp, d}});
    shapes.push_back({h + "mlp.c_proj.bias", {d}});
  }
  shapes.push_back({"transformer.ln_f.weight", {d}});
  shapes.push_back({"transformer.ln_f.bias", {d}});
  std::size_t largest = 0;
  for (const auto& [name, shape] : shapes) {
    std::size_t n = element;
    for (auto x : shape) n *= static_cast<std::size_t>(x);
    largest = std::max(largest, n);
  }
  // One buffer of 0x3C00 / 0x3F80-style small values that every tensor's view reads.
  std::vector<unsigned char> pattern(largest);
  for (std::size_t i = 0; i + 1 < largest; i += 2) {
    pattern[i] = 0x00;
    pattern[i + 1] = s.dtype == "BF16" ? 0x3C : 0x20;
  }
  std::vector<TensorView> views;
  for (const auto& [name, shape] : shapes) {
    std::size_t n = element;
    for (auto x : shape) n *= static_cast<std::size_t>(x);
    views.push_back({name, s.dtype, shape, pattern.data(), n});
  }
  if (auto st = saturn::write_safetensors((fs::path(dir) / "model.safetensors").string(), views,
                                          {{"format", "pt"}});
      !st) {
    fmt::print(stderr, "{}\n", st.error().to_string());
    return 1;
  }
  return 0;
}

int load(const std::string& dir, bool build_only) {
  saturn::JobSpec job;
  job.name = "load";
  job.init.path = fs::absolute(dir).string();
  auto pretrained = saturn::open_pretrained(job.init.path);
  if (!pretrained) {
    fmt::print(stderr, "{}\n", pretrained.error().to_string());
    return 1;
  }
  job.architecture = pretrained->architecture;
  job.model = job.architecture.name;
  const auto t0 = std::chrono::steady_clock::now();
  auto loader = saturn::worker::PretrainedLoader::open(job, job.architecture);
  if (!loader) {
    fmt::print(stderr, "{}\n", loader.error().to_string());
    return 1;
  }
  saturn::worker::ModelShapeOptions shape;
  shape.all_positions = true;
  auto model = saturn::worker::build_model(job.architecture, shape, 0,
                                          build_only ? saturn::worker::BlockSink{}
                                                     : (*loader)->sink({}));
  if (!model || !(build_only || (*loader)->finish())) {
    fmt::print(stderr, "load failed\n");
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::int64_t params = 0;
  for (const auto& p : (*model)->parameters()) params += p.numel();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::uintmax_t file_bytes = 0;
  for (const std::string& f : pretrained->weight_files) file_bytes += fs::file_size(f);
  fmt::print("{}\n", nlohmann::json{{"seconds", seconds},
                                    {"peak_rss_bytes", usage.ru_maxrss * 1024.0},
                                    {"file_bytes", file_bytes},
                                    {"params", params},
                                    {"fp32_model_bytes", 4.0 * static_cast<double>(params)},
                                    {"tensors", (*loader)->loaded()},
                                    {"build_only", build_only}}
                         .dump());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Pretrained weights: load time and peak host memory"};
  app.require_subcommand(1);
  std::string dir;
  Shape shape;
  CLI::App* w = app.add_subcommand("write", "Write a synthetic GPT-2 directory");
  w->add_option("dir", dir)->required();
  w->add_option("--layers", shape.layers);
  w->add_option("--d", shape.d);
  w->add_option("--heads", shape.heads);
  w->add_option("--vocab", shape.vocab);
  w->add_option("--positions", shape.positions);
  w->add_option("--dtype", shape.dtype)->check(CLI::IsMember({"F32", "F16", "BF16"}));
  CLI::App* l = app.add_subcommand("load", "Build the model from DIR once");
  l->add_option("dir", dir)->required();
  bool build_only = false;
  l->add_flag("--build-only", build_only, "Build from the seed; read no tensor");
  CLI11_PARSE(app, argc, argv);
  return w->parsed() ? write(dir, shape) : load(dir, build_only);
}
