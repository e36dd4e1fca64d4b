// Pretrained weights in saturn-worker (train/pretrained.h): a Hugging Face GPT-2 directory
// (tests/support/hf_fixture.h) loads into the model so that its logits equal an independent
// forward pass written here from the file's own tensors with transformers' GPT-2 arithmetic
// (Conv1D x W + b, gelu_new, the config's epsilon); import then export is bit-identical in F32,
// F16 and BF16, sharded or not; strict errors; a grown vocabulary; and a fine-tune that starts
// from a trained, exported model under every technique begins at that model's loss.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "saturn/pretrained.h"
#include "saturn/pretrained_files.h"
#include "saturn/safetensors.h"
#include "saturn/workload.h"
#include "support/hf_fixture.h"
#include "tiny_text_job.h"
#include "train/trainer.h"
#include "worker_process.h"

namespace saturn::worker {
namespace {

using saturn::testing::TinyGpt2;
using saturn::testing::TinyGptj;
using saturn::testing::write_tiny_gpt2;
using saturn::testing::write_tiny_gptj;

fs::path fresh(const std::string& name) {
  const fs::path dir = text_workdir("pretrained") / name;
  fs::remove_all(dir);
  return dir;
}

// A one-job workload on text.txt starting from `init` (YAML, resolved as the worker resolves
// it): byte-level text, `seq_len` tokens.
Result<JobSpec> init_job(const std::string& init, int seq_len = 16, int steps = 4,
                         const std::string& extra = "") {
  const std::string yaml =
      "jobs:\n  - name: ft\n    init: " + init +
      "\n    data: {format: text, path: text.txt, seq_len: " + std::to_string(seq_len) +
      "}\n    lr: 1.0e-3\n    batch_size: 8\n" + "    steps: " + std::to_string(steps) +
      "\n    gpus: [1]\n    techniques: [single]\n" + extra;
  auto w = parse_workload_yaml(yaml, "w.yaml", text_workdir("pretrained").string());
  if (!w) return w.error();
  return w->jobs[0];
}

// Every tensor of the weight files `source` is in `exported` under its name, with its dtype and
// bytes, and `exported` has no other; returns the number compared.
std::size_t expect_same_tensors(const std::vector<std::string>& source,
                                const std::vector<std::string>& exported, const std::string& what) {
  auto a = PretrainedFiles::open(source);
  auto e = PretrainedFiles::open(exported);
  EXPECT_TRUE(a && e) << what;
  if (!a || !e) return 0;
  EXPECT_EQ(a->tensors().size(), e->tensors().size()) << what;
  for (const auto& [name, t] : a->tensors()) {
    const auto it = e->tensors().find(name);
    if (it == e->tensors().end()) {
      ADD_FAILURE() << what << ": " << name << " is not exported";
      continue;
    }
    const SafetensorsFile::Entry& x = *it->second.entry;
    EXPECT_EQ(x.dtype, t.entry->dtype) << what << ": " << name;
    EXPECT_TRUE(x.bytes == t.entry->bytes && std::memcmp(x.data, t.entry->data, x.bytes) == 0)
        << what << ": " << name << " differs";
  }
  return a->tensors().size();
}

std::unique_ptr<Trainer> trainer_for(const JobSpec& job) {
  auto t = Trainer::create({job, text_workdir("pretrained").string(), torch::kCPU, nullptr});
  EXPECT_TRUE(t) << t.error().to_string();
  return t ? std::move(*t) : nullptr;
}

// transformers' GPT-2 forward, from the file's tensors: ids [B, T] -> logits [B, T, V].
torch::Tensor reference_logits(const fs::path& dir, const TinyGpt2& m, const torch::Tensor& ids) {
  auto file = SafetensorsFile::open((dir / "model.safetensors").string());
  EXPECT_TRUE(file);
  const auto get = [&](const std::string& name) {
    const SafetensorsFile::Entry* e = file->find("transformer." + name);
    const auto dtype = e->dtype == "F16"    ? torch::kHalf
                       : e->dtype == "BF16" ? torch::kBFloat16
                                            : torch::kFloat;
    return torch::from_blob(const_cast<unsigned char*>(e->data), e->shape,
                            torch::TensorOptions().dtype(dtype))
        .to(torch::kFloat);
  };
  const int64_t b = ids.size(0), t = ids.size(1), c = m.d, hd = m.d / m.heads;
  const auto ln = [&](const torch::Tensor& x, const std::string& name) {
    return torch::layer_norm(x, {c}, get(name + ".weight"), get(name + ".bias"), m.eps);
  };
  const auto conv1d = [&](const torch::Tensor& x, const std::string& name) {  // x W + b
    const torch::Tensor w = get(name + ".weight");
    return torch::addmm(get(name + ".bias"), x.reshape({-1, x.size(-1)}), w)
        .view({b, t, w.size(1)});
  };
  torch::Tensor x = get("wte.weight").index_select(0, ids.flatten()).view({b, t, c}) +
                    get("wpe.weight").slice(0, 0, t);
  const torch::Tensor future = torch::ones({t, t}, torch::kBool).triu(1);
  for (int i = 0; i < m.layers; ++i) {
    const std::string h = "h." + std::to_string(i) + ".";
    const auto qkv = conv1d(ln(x, h + "ln_1"), h + "attn.c_attn").split(c, 2);
    const auto split = [&](const torch::Tensor& y) {
      return y.view({b, t, m.heads, hd}).permute({0, 2, 1, 3});
    };
    torch::Tensor scores = split(qkv[0]).matmul(split(qkv[1]).transpose(-1, -2)) / std::sqrt(hd);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
    const torch::Tensor y = scores.softmax(-1).matmul(split(qkv[2])).permute({0, 2, 1, 3});
    x = x + conv1d(y.reshape({b, t, c}), h + "attn.c_proj");
    const torch::Tensor up = conv1d(ln(x, h + "ln_2"), h + "mlp.c_fc");
    const torch::Tensor gelu_new =
        0.5 * up * (1 + torch::tanh(std::sqrt(2.0 / M_PI) * (up + 0.044715 * up.pow(3))));
    x = x + conv1d(gelu_new, h + "mlp.c_proj");
  }
  return ln(x, "ln_f").matmul(get("wte.weight").t());
}

TEST(Pretrained, LogitsEqualTransformersGpt2Arithmetic) {
  for (const std::string dtype : {"F32", "F16"}) {
    TinyGpt2 m;
    m.dtype = dtype;
    m.eps = 1e-6;  // not the default: read from config.json
    m.lm_head = true;
    const fs::path dir = fresh("logits-" + dtype);
    write_tiny_gpt2(dir, m);
    auto job = init_job(dir.string());
    ASSERT_TRUE(job) << job.error().to_string();
    auto t = trainer_for(*job);
    ASSERT_TRUE(t);
    torch::manual_seed(5);
    const torch::Tensor ids = torch::randint(0, m.vocab, {2, 16}, torch::kLong);
    t->model().eval();
    const torch::NoGradGuard no_grad;
    const torch::Tensor ours = t->model().forward(ids);
    const torch::Tensor want = reference_logits(dir, m, ids);
    ASSERT_EQ(ours.sizes(), want.sizes());
    EXPECT_LT((ours - want).abs().max().item<double>(), 1e-4) << dtype;
  }
}

// transformers' GPT-J forward, from the file's tensors: ids [B, T] -> logits [B, T, V]. The
// rotation is written pair by pair, (a, b) -> (a cos - b sin, b cos + a sin) for the pair
// (2i, 2i + 1) at angle position x 10000^(-2i / rotary_dim).
torch::Tensor reference_gptj_logits(const fs::path& dir, const TinyGptj& m,
                                    const torch::Tensor& ids) {
  auto file = SafetensorsFile::open((dir / "model.safetensors").string());
  EXPECT_TRUE(file);
  const auto get = [&](const std::string& name) {
    const SafetensorsFile::Entry* e = file->find(name);
    return torch::from_blob(const_cast<unsigned char*>(e->data), e->shape).clone();
  };
  const int64_t b = ids.size(0), t = ids.size(1), c = m.d, hd = m.d / m.heads, rd = m.rotary_dim;
  const auto ln = [&](const torch::Tensor& x, const std::string& name) {
    return torch::layer_norm(x, {c}, get(name + ".weight"), get(name + ".bias"), m.eps);
  };
  const torch::Tensor pos = torch::arange(t, torch::kFloat).view({t, 1});
  const torch::Tensor freq =
      torch::pow(10000.0, -torch::arange(0, rd, 2, torch::kFloat) / static_cast<double>(rd));
  const torch::Tensor cos = (pos * freq).cos().view({1, t, 1, rd / 2});
  const torch::Tensor sin = (pos * freq).sin().view({1, t, 1, rd / 2});
  const auto rotate = [&](const torch::Tensor& x) {  // x [B, T, H, hd]
    const torch::Tensor pairs = x.slice(-1, 0, rd).reshape({b, t, m.heads, rd / 2, 2});
    const torch::Tensor a = pairs.select(-1, 0), bb = pairs.select(-1, 1);
    const torch::Tensor turned =
        torch::stack({a * cos - bb * sin, bb * cos + a * sin}, -1).reshape({b, t, m.heads, rd});
    return torch::cat({turned, x.slice(-1, rd)}, -1);
  };
  torch::Tensor x = get("transformer.wte.weight").index_select(0, ids.flatten()).view({b, t, c});
  const torch::Tensor future = torch::ones({t, t}, torch::kBool).triu(1);
  for (int i = 0; i < m.layers; ++i) {
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    const torch::Tensor h = ln(x, p + "ln_1");
    const auto proj = [&](const char* name) {
      return h.matmul(get(p + "attn." + name + ".weight").t()).view({b, t, m.heads, hd});
    };
    const torch::Tensor q = rotate(proj("q_proj")).permute({0, 2, 1, 3});
    const torch::Tensor k = rotate(proj("k_proj")).permute({0, 2, 1, 3});
    const torch::Tensor v = proj("v_proj").permute({0, 2, 1, 3});
    torch::Tensor scores = q.matmul(k.transpose(-1, -2)) / std::sqrt(hd);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
    const torch::Tensor y = scores.softmax(-1).matmul(v).permute({0, 2, 1, 3}).reshape({b, t, c});
    const torch::Tensor attn = y.matmul(get(p + "attn.out_proj.weight").t());
    const torch::Tensor up = h.matmul(get(p + "mlp.fc_in.weight").t()) + get(p + "mlp.fc_in.bias");
    const torch::Tensor gelu_new =
        0.5 * up * (1 + torch::tanh(std::sqrt(2.0 / M_PI) * (up + 0.044715 * up.pow(3))));
    const torch::Tensor mlp =
        gelu_new.matmul(get(p + "mlp.fc_out.weight").t()) + get(p + "mlp.fc_out.bias");
    x = x + attn + mlp;
  }
  return ln(x, "transformer.ln_f").matmul(get("lm_head.weight").t()) + get("lm_head.bias");
}

TEST(Pretrained, GptjLogitsEqualTransformersGptjArithmetic) {
  TinyGptj m;
  const fs::path dir = fresh("gptj-logits");
  write_tiny_gptj(dir, m);
  auto job = init_job(dir.string());
  ASSERT_TRUE(job) << job.error().to_string();
  EXPECT_EQ(job->architecture.family, "gptj");
  EXPECT_EQ(job->architecture.rotary_dim, 4);
  auto t = trainer_for(*job);
  ASSERT_TRUE(t);
  torch::manual_seed(6);
  const torch::Tensor ids = torch::randint(0, m.vocab, {2, 16}, torch::kLong);
  t->model().eval();
  const torch::NoGradGuard no_grad;
  const torch::Tensor ours = t->model().forward(ids);
  const torch::Tensor want = reference_gptj_logits(dir, m, ids);
  ASSERT_EQ(ours.sizes(), want.sizes());
  EXPECT_LT((ours - want).abs().max().item<double>(), 1e-4);

  // Import then export: every tensor bit-identical, the mask buffers included.
  auto checkpoint = t->save_checkpoint((dir.parent_path() / "gptj-ck").string());
  ASSERT_TRUE(checkpoint) << checkpoint.error().to_string();
  auto source = open_pretrained(dir.string());
  ASSERT_TRUE(source);
  const fs::path out = dir.parent_path() / "gptj-out";
  fs::remove_all(out);
  ASSERT_TRUE(export_model(job->architecture, &*source, *checkpoint, out.string()));
  expect_same_tensors({(dir / "model.safetensors").string()},
                      {(out / "model.safetensors").string()}, "gptj");
}

// Every technique trains GPT-J from pretrained weights: the first step's loss, on the same
// weights and batch, is the same under each.
TEST(Pretrained, EveryTechniqueTrainsGptjFromPretrainedWeights) {
  const fs::path dir = fresh("gptj-techniques");
  write_tiny_gptj(dir / "model", TinyGptj{});
  std::ofstream(dir / "job.yaml")
      << "jobs:\n  - name: j\n    init: " << (dir / "model").string()
      << "\n    data: {format: text, path: " << (text_workdir("pretrained") / "text.txt").string()
      << ", seq_len: 32}\n    lr: 1.0e-4\n    batch_size: 8\n    steps: 2\n"
         "    gpus: [1, 2]\n    techniques: [single, ddp, fsdp, gpipe, offload]\n";
  double first = -1;
  for (const auto& [technique, devices] :
       std::vector<std::pair<std::string, std::string>>{{"single", "cpu"},
                                                        {"offload", "cpu"},
                                                        {"ddp", "cpu:0,cpu:1"},
                                                        {"fsdp", "cpu:0,cpu:1"},
                                                        {"gpipe", "cpu:0,cpu:1"}}) {
    const WorkerRun run = worker("execute --job " + (dir / "job.yaml").string() + " --technique " +
                                 technique + " --devices " + devices + " --steps 2 --log-every 1");
    ASSERT_EQ(run.code, 0) << technique << ": "
                           << (run.last("error") ? run.last("error")->dump() : "no error event");
    const json* step = nullptr;
    for (const json& e : run.events) {
      if (e["event"] == "step" && e["step"] == 1) step = &e;
    }
    ASSERT_TRUE(step) << technique;
    const double loss = (*step)["loss"].get<double>();
    if (first < 0) first = loss;
    EXPECT_NEAR(loss, first, 1e-3 * first) << technique;
  }
}

// torchvision's own ResNet (tests/fixtures/pretrained/make_resnet_fixture.py: its Bottleneck,
// _make_layer and forward, random weights and BatchNorm statistics, eval mode) against
// saturn-worker's resnet-tiny loaded from its state dict; then the export of that state dict,
// byte for byte (num_batches_tracked included).
TEST(Pretrained, ResnetLogitsEqualTorchvisionsOnItsStateDict) {
  const fs::path fixtures = fs::path(SATURN_SOURCE_DIR) / "tests/fixtures/pretrained";
  const fs::path state = fixtures / "resnet-tiny-torchvision.safetensors";
  const std::string yaml =
      "jobs:\n  - name: r\n    model: resnet-tiny\n    init: " + state.string() +
      "\n    data: {format: synthetic-images, image_size: 32, samples: 16}\n"
      "    lr: 0.01\n    batch_size: 4\n    steps: 1\n    gpus: 1\n"
      "    techniques: single\n";
  auto w = parse_workload_yaml(yaml, "w.yaml", "/");
  ASSERT_TRUE(w) << w.error().to_string();
  auto t = trainer_for(w->jobs[0]);
  ASSERT_TRUE(t);
  auto golden =
      SafetensorsFile::open((fixtures / "resnet-tiny-torchvision.golden.safetensors").string());
  ASSERT_TRUE(golden);
  const auto tensor = [&](const char* name) {
    const SafetensorsFile::Entry* e = golden->find(name);
    return torch::from_blob(const_cast<unsigned char*>(e->data), e->shape).clone();
  };
  t->model().eval();
  const torch::NoGradGuard no_grad;
  const torch::Tensor ours = t->model().forward(tensor("images"));
  const torch::Tensor want = tensor("logits");
  ASSERT_EQ(ours.sizes(), want.sizes());
  EXPECT_LT((ours - want).abs().max().item<double>(), 1e-4);

  const fs::path dir = fresh("resnet");
  auto checkpoint = t->save_checkpoint((dir / "ck").string());
  ASSERT_TRUE(checkpoint) << checkpoint.error().to_string();
  auto source = open_pretrained(state.string());
  ASSERT_TRUE(source);
  ASSERT_TRUE(export_model(w->jobs[0].architecture, &*source, *checkpoint, (dir / "out").string()));
  EXPECT_FALSE(fs::exists(dir / "out" / "config.json"));  // a state dict goes back as one
  expect_same_tensors({state.string()}, {(dir / "out" / "model.safetensors").string()}, "resnet");
}

// init.classes: the usual image fine-tune to other classes. Every tensor but the classifier comes
// from the file; the classifier is new, of the asked size, and the export carries it.
TEST(Pretrained, ANewClassifierReplacesThePretrainedOneOnlyWhenAsked) {
  const fs::path state =
      fs::path(SATURN_SOURCE_DIR) / "tests/fixtures/pretrained/resnet-tiny-torchvision.safetensors";
  const std::string yaml =
      "jobs:\n  - name: r3\n    model: resnet-tiny\n    init: {path: " + state.string() +
      ", classes: 3}\n"
      "    data: {format: synthetic-images, image_size: 32, samples: 16}\n"
      "    lr: 0.01\n    batch_size: 4\n    steps: 2\n    gpus: 1\n"
      "    techniques: single\n";
  auto w = parse_workload_yaml(yaml, "w.yaml", "/");
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->jobs[0].architecture.classes, 3);
  auto t = trainer_for(w->jobs[0]);
  ASSERT_TRUE(t);
  auto file = SafetensorsFile::open(state.string());
  ASSERT_TRUE(file);
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : t->model().named_parameters()) params[p.key()] = p.value();
  ASSERT_EQ(params.at("head.fc.weight").size(0), 3);
  const auto* conv = file->find("layer3.0.conv2.weight");
  EXPECT_TRUE(torch::equal(params.at("layer3.0.conv2.weight"),
                           torch::from_blob(const_cast<unsigned char*>(conv->data), conv->shape)));
  while (t->step() < 2) EXPECT_TRUE(std::isfinite(t->train_step().loss));
  const fs::path dir = fresh("classes");
  auto checkpoint = t->save_checkpoint((dir / "ck").string());
  ASSERT_TRUE(checkpoint);
  auto source = open_pretrained(state.string());
  ASSERT_TRUE(export_model(w->jobs[0].architecture, &*source, *checkpoint, (dir / "out").string()));
  auto out = SafetensorsFile::open((dir / "out" / "model.safetensors").string());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("fc.weight")->shape, (std::vector<std::int64_t>{3, 256}));
  EXPECT_EQ(out->find("fc.bias")->shape, (std::vector<std::int64_t>{3}));

  // A language model has no classifier to replace.
  auto gpt = parse_workload_yaml(
      "jobs:\n  - name: g\n    model: gpt2-tiny\n    init: {path: /nonexistent, classes: 3}\n"
      "    data: {format: synthetic-text, seq_len: 16, samples: 8}\n    lr: 0.01\n"
      "    batch_size: 4\n    steps: 1\n    gpus: 1\n    techniques: single\n",
      "w.yaml", "/");
  ASSERT_FALSE(gpt);
  EXPECT_EQ(gpt.error().field, "jobs[0].init.classes");
}

TEST(Pretrained, ImportThenExportIsBitIdentical) {
  for (const std::string dtype : {"F32", "F16", "BF16"}) {
    TinyGpt2 m;
    m.dtype = dtype;
    m.lm_head = dtype != "F32";
    m.prefix = dtype != "BF16";
    m.shards = dtype == "F16" ? 2 : 1;
    const fs::path dir = fresh("roundtrip-" + dtype);
    const std::vector<std::string> names = write_tiny_gpt2(dir / "src", m);
    auto job = init_job((dir / "src").string());
    ASSERT_TRUE(job) << job.error().to_string();
    auto t = trainer_for(*job);
    ASSERT_TRUE(t);
    auto checkpoint = t->save_checkpoint((dir / "ck").string());
    ASSERT_TRUE(checkpoint) << checkpoint.error().to_string();
    auto source = open_pretrained((dir / "src").string());
    ASSERT_TRUE(source);
    ExportOptions options;
    options.shard_bytes = m.shards > 1 ? 40000 : ExportOptions{}.shard_bytes;
    ASSERT_TRUE(
        export_model(job->architecture, &*source, *checkpoint, (dir / "out").string(), options));
    auto exported = open_pretrained((dir / "out").string());
    ASSERT_TRUE(exported) << exported.error().to_string();
    EXPECT_EQ(exported->weight_files.size() > 1, m.shards > 1) << dtype;
    EXPECT_EQ(expect_same_tensors(source->weight_files, exported->weight_files, dtype),
              names.size());
  }
}

TEST(Pretrained, StrictErrorsNameTheFileAndTensor) {
  const fs::path dir = fresh("strict");
  TinyGpt2 m;
  write_tiny_gpt2(dir / "mlp", m);
  {  // config.json says a narrower MLP than the weights have
    std::ifstream in(dir / "mlp" / "config.json");
    auto config = nlohmann::json::parse(in);
    config["n_inner"] = 64;
    std::ofstream(dir / "mlp" / "config.json") << config.dump();
  }
  auto job = init_job((dir / "mlp").string());
  ASSERT_TRUE(job) << job.error().to_string();
  auto t = Trainer::create({*job, text_workdir("pretrained").string(), torch::kCPU, nullptr});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().file.find("model.safetensors"), std::string::npos) << t.error().to_string();
  EXPECT_NE(t.error().message.find("transformer.h.0.mlp.c_fc.weight has shape [32, 128]"),
            std::string::npos)
      << t.error().to_string();

  m.lm_head = true;
  m.untied_head = true;
  write_tiny_gpt2(dir / "untied", m);
  job = init_job((dir / "untied").string());
  ASSERT_TRUE(job);
  t = Trainer::create({*job, text_workdir("pretrained").string(), torch::kCPU, nullptr});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("lm_head.weight differs"), std::string::npos);

  // A sequence longer than the model's positions.
  write_tiny_gpt2(dir / "short", TinyGpt2{});
  job = init_job((dir / "short").string(), /*seq_len=*/128);
  ASSERT_TRUE(job);
  t = Trainer::create({*job, text_workdir("pretrained").string(), torch::kCPU, nullptr});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().field, "data.seq_len") << t.error().to_string();
}

TEST(Pretrained, AVocabularyGrowsOnlyWhenAskedAndKeepsTheFileRows) {
  TinyGpt2 m;
  m.vocab = 200;  // the data's bytes need 256
  const fs::path dir = fresh("vocab");
  write_tiny_gpt2(dir, m);
  auto job = init_job(dir.string());
  ASSERT_TRUE(job);
  auto refused = Trainer::create({*job, text_workdir("pretrained").string(), torch::kCPU, nullptr});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "init.vocab");
  job = init_job("{path: " + dir.string() + ", vocab: resize}");
  ASSERT_TRUE(job) << job.error().to_string();
  auto t = trainer_for(*job);
  ASSERT_TRUE(t);
  torch::Tensor wte;
  for (const auto& p : t->model().named_parameters()) {
    if (p.key() == "embed.wte.weight") wte = p.value();
  }
  ASSERT_EQ(wte.size(0), 256);
  auto file = SafetensorsFile::open((dir / "model.safetensors").string());
  const auto* e = file->find("transformer.wte.weight");
  const torch::Tensor want = torch::from_blob(const_cast<unsigned char*>(e->data), e->shape);
  EXPECT_TRUE(torch::equal(wte.slice(0, 0, 200), want));
}

// Trains gpt2-tiny from scratch, exports it as a new Hugging Face directory, and fine-tunes from
// that under every technique: the first step's loss is the trained model's, far below a new
// model's.
TEST(Pretrained, EveryTechniqueFineTunesFromAnExportedModel) {
  const fs::path dir = fresh("finetune");
  JobSpec scratch = tiny_text_job(/*batch=*/8, /*accum=*/1, /*steps=*/40);
  auto t = trainer_for(scratch);
  ASSERT_TRUE(t);
  const double new_model_loss = t->train_step().loss;
  double trained_loss = 0;
  while (t->step() < 40) trained_loss = t->train_step().loss;
  ASSERT_LT(trained_loss, 0.6 * new_model_loss);
  auto checkpoint = t->save_checkpoint((dir / "ck").string());
  ASSERT_TRUE(checkpoint);
  auto arch = job_architecture(scratch);
  ASSERT_TRUE(export_model(*arch, nullptr, *checkpoint, (dir / "model").string()));

  // The run's own checkpoint directory as init: its vocabulary (256) and positions (32) come
  // from its tensors, not the zoo's gpt2-tiny (50,257 and 256).
  auto from_checkpoint = init_job((dir / "ck").string(), /*seq_len=*/32);
  ASSERT_TRUE(from_checkpoint) << from_checkpoint.error().to_string();
  EXPECT_EQ(from_checkpoint->architecture.vocab, 256);
  EXPECT_EQ(from_checkpoint->architecture.context, 32);
  auto resumed = trainer_for(*from_checkpoint);
  ASSERT_TRUE(resumed);
  EXPECT_NEAR(resumed->train_step().loss, trained_loss, 0.25 * trained_loss);

  const fs::path work = workdir();  // the worker CLI tests' text (the same kind of sentences)
  std::ofstream(work / "finetune.yaml")
      << "jobs:\n  - name: ft\n    init: " << (dir / "model").string()
      << "\n    data: {format: text, path: " << (text_workdir("pretrained") / "text.txt").string()
      << ", seq_len: 32}\n    lr: 1.0e-4\n    batch_size: 8\n    steps: 2\n"
         "    gpus: [1, 2]\n    techniques: [single, ddp, fsdp, gpipe, offload]\n";
  for (const auto& [technique, devices] :
       std::vector<std::pair<std::string, std::string>>{{"single", "cpu"},
                                                        {"offload", "cpu"},
                                                        {"ddp", "cpu:0,cpu:1"},
                                                        {"fsdp", "cpu:0,cpu:1"},
                                                        {"gpipe", "cpu:0,cpu:1"}}) {
    const WorkerRun run =
        worker("execute --job " + (work / "finetune.yaml").string() + " --technique " + technique +
               " --devices " + devices + " --steps 1 --log-every 1");
    ASSERT_EQ(run.code, 0) << technique << ": "
                           << (run.last("error") ? run.last("error")->dump() : "no error event");
    const json* step = run.last("step");
    ASSERT_TRUE(step) << technique;
    const double loss = (*step)["loss"].get<double>();
    EXPECT_LT(loss, 0.6 * new_model_loss) << technique;
    EXPECT_NEAR(loss, trained_loss, 0.25 * trained_loss) << technique;
  }
}

}  // namespace
}  // namespace saturn::worker
