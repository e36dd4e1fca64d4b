// The estimator's formulas against hand-worked numbers (DDP, FSDP memory and communication,
// GPipe's bubble), feasibility (GPT-J 6B on a 40 GB A100), sanity (more GPUs, less memory), and
// the step count and error placement of whole workloads.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "saturn/estimator.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

TrainingSetup setup_for(const std::string& model, int batch, int seq = 0) {
  TrainingSetup s;
  s.job = "t";
  auto m = find_model(model, {seq, 0});
  EXPECT_TRUE(m.ok());
  s.model = *m;
  s.batch_size = batch;
  s.optimizer = "adamw";
  s.steps = 100;
  return s;
}

// Default factors, but no block overhead, no overlap, no fragmentation and no framework overhead:
// the formulas then come out exactly.
Calibration clean_calibration() {
  Calibration cal = default_calibration();
  cal.gpus.clear();
  cal.defaults.transformer_block_overhead_s.value = 0;
  cal.defaults.conv_block_overhead_s.value = 0;
  cal.defaults.comm_overlap.value = 0;
  cal.defaults.usable_memory_fraction.value = 1;
  cal.defaults.framework_overhead_bytes.value = 0;
  return cal;
}

ConfigEstimate estimate(const TrainingSetup& s, const std::string& technique, int gpus,
                        const GpuSpec& gpu, const Calibration& cal) {
  auto e = estimate_config(s, technique, gpus, gpu, cal);
  EXPECT_TRUE(e.ok()) << e.error().to_string();
  return e.ok() ? *e : ConfigEstimate{};
}

const GpuSpec a100_40 = *find_gpu("a100-40gb");
const GpuSpec a100_80 = *find_gpu("a100-80gb");

// The calibrated per-block overhead is paid once per block in the forward pass and twice in
// the backward, whatever the micro-batch: small micro-batches run at a lower share of peak.
TEST(Estimator, BlockOverheadIsAddedPerBlockAndPass) {
  Calibration cal = clean_calibration();
  const double overhead = 2e-4;
  cal.defaults.transformer_block_overhead_s.value = overhead;
  const TrainingSetup s = setup_for("gpt2-xl", 2);
  const double rate = 312e12 * cal.defaults.transformer_mfu.value;
  const double p = static_cast<double>(s.model.params);
  const double optimizer = p * 28 / (2039e9 * 0.8);
  const double blocks = static_cast<double>(s.model.blocks.size());  // embed + 48 + head
  const ConfigEstimate e = estimate(s, "ddp", 1, a100_80, cal);
  ASSERT_TRUE(e.feasible) << e.reason;
  EXPECT_NEAR(e.step_s, 2 * s.model.forward_flops * 3 / rate + 3 * blocks * overhead + optimizer,
              1e-9);
  // Per sample, a step of 2 costs more than half a step of 4 would: the overhead is fixed.
  const ConfigEstimate big = estimate(setup_for("gpt2-xl", 4), "ddp", 1, a100_80, cal);
  EXPECT_GT(e.step_s / 2, big.step_s / 4);
}

TEST(Estimator, DdpStepIsComputePlusAllReducePlusOptimizer) {
  const Calibration cal = clean_calibration();
  const TrainingSetup s = setup_for("gpt2", 64);
  const double p = 124439808;
  const double rate = 312e12 * cal.defaults.transformer_mfu.value;
  const double compute = 8 * s.model.forward_flops * 3 / rate;  // 8 samples per GPU
  const double optimizer = p * 28 / (2039e9 * 0.8);
  const double allreduce = 2.0 * 7 / 8 * 2 * p / (300e9 * 0.75);
  const ConfigEstimate e = estimate(s, "ddp", 8, a100_80, cal);
  ASSERT_TRUE(e.feasible) << e.reason;
  EXPECT_FALSE(e.params["activation_checkpointing"].get<bool>());
  EXPECT_NEAR(e.step_s, compute + allreduce + optimizer, 1e-12);
  EXPECT_NEAR(e.breakdown.comm_s, allreduce, 1e-12);
  EXPECT_DOUBLE_EQ(e.runtime_s, 100 * e.step_s);
  EXPECT_EQ(e.steps, 100);
  EXPECT_FALSE(e.params.contains("steps"));  // settings only: measured figures are fields
  // One GPU: no communication; `single` is the same thing.
  const TrainingSetup one = setup_for("gpt2", 8);
  const ConfigEstimate d1 = estimate(one, "ddp", 1, a100_80, cal);
  EXPECT_NEAR(d1.step_s, compute + optimizer, 1e-12);
  EXPECT_DOUBLE_EQ(estimate(one, "single", 1, a100_80, cal).step_s, d1.step_s);
  EXPECT_FALSE(estimate(one, "single", 2, a100_80, cal).feasible);
}

TEST(Estimator, FsdpMemoryPerGpuMatchesTheHandWorkedNumber) {
  // gpt2-xl, 1024 tokens, batch 16 on 4 A100 80GB: 4 samples per GPU, no checkpointing needed.
  //   sharded state   20 B x 1,557,611,200 / 4                   =  7,788,056,000
  //     (bf16 weights and gradient, fp32 master, m, v and the fp32 gradient copy)
  //   gather buffers  (2 + 2) B x 1,638,022,400                   =  6,552,089,600
  //     (without checkpointing every block stays gathered with a gradient buffer from forward
  //     to backward; 1,557,611,200 + the tied head's 80,411,200)
  //                   + 2 B x 82,049,600 (the prefetched embedding) =    164,099,200
  //   activations     4 x 2,892,840,960 B per sample              = 11,571,363,840
  //                   + 2 x 2 B x 50,304 x 1,600 (the head's padded weight and its gradient)
  //                                                                =    321,945,600
  //     per sample: embed 8 s + s d; 48 layers x (34 s d + 4 s a); head 4 s d + 4 s V + 4 s
  //     with s = 1024, d = 1600, a = 25, V = 50257.
  const double s = 1024, d = 1600, a = 25, v = 50257;
  const double per_sample = 8 * s + s * d + 48 * (34 * s * d + 4 * s * a) + 4 * s * d + 4 * s * v +
                            4 * s;
  ASSERT_DOUBLE_EQ(per_sample, 2892840960.0);
  const ConfigEstimate e =
      estimate(setup_for("gpt2-xl", 16), "fsdp", 4, a100_80, clean_calibration());
  ASSERT_TRUE(e.feasible) << e.reason;
  EXPECT_FALSE(e.params["activation_checkpointing"].get<bool>());
  EXPECT_FALSE(e.params["cpu_offload"].get<bool>());
  EXPECT_DOUBLE_EQ(e.breakdown.state_bytes, 7788056000.0);
  EXPECT_DOUBLE_EQ(e.breakdown.buffer_bytes, 6716188800.0);
  EXPECT_DOUBLE_EQ(e.breakdown.activation_bytes, 11893309440.0);
  EXPECT_DOUBLE_EQ(e.peak_memory_bytes, 26397554240.0);
  // With the default calibration: / 0.9 for fragmentation, + 1 GiB of framework overhead.
  const ConfigEstimate with_defaults =
      estimate(setup_for("gpt2-xl", 16), "fsdp", 4, a100_80, default_calibration());
  EXPECT_DOUBLE_EQ(with_defaults.peak_memory_bytes, 26397554240.0 / 0.9 + 1073741824.0);
}

// Knobs pin a variant: the same hand-worked FSDP case with activation checkpointing and with
// the shards on the host, which the free search would not pick; knobs no variant has are an
// infeasible estimate that names them; knobs that are not an object are an Error.
TEST(Estimator, KnobsPinTheVariant) {
  const TrainingSetup s = setup_for("gpt2-xl", 16);
  const Calibration cal = clean_calibration();
  auto pinned = estimate_config(s, "fsdp", 4, a100_80, cal,
                                {{"activation_checkpointing", true}, {"cpu_offload", true}});
  ASSERT_TRUE(pinned.ok()) << pinned.error().to_string();
  ASSERT_TRUE(pinned->feasible) << pinned->reason;
  EXPECT_TRUE(pinned->params["activation_checkpointing"].get<bool>());
  EXPECT_TRUE(pinned->params["cpu_offload"].get<bool>());
  EXPECT_DOUBLE_EQ(pinned->breakdown.state_bytes, 0);  // the shards live on the host
  const ConfigEstimate free = estimate(s, "fsdp", 4, a100_80, cal);
  EXPECT_LT(pinned->peak_memory_bytes, free.peak_memory_bytes);
  EXPECT_GT(pinned->step_s, free.step_s);
  auto none = estimate_config(s, "fsdp", 4, a100_80, cal, {{"micro_batches", 7}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->feasible);
  EXPECT_NE(none->reason.find("no fsdp variant has the knobs {\"micro_batches\":7}"),
            std::string::npos)
      << none->reason;
  EXPECT_FALSE(estimate_config(s, "fsdp", 4, a100_80, cal, nlohmann::json::array()).ok());
}

TEST(Estimator, FsdpCommunicationIsTwoGathersAndAReduceScatter) {
  // No overlap: 3 x (N-1)/N x 2 bytes per parameter over NVLink, plus the tied LM head's
  // weights gathered twice more (forward and backward of the head).
  const TrainingSetup s = setup_for("gpt2-xl", 16);
  const ConfigEstimate e = estimate(s, "fsdp", 4, a100_80, clean_calibration());
  const double p = 1557611200, tied = 50257.0 * 1600;
  const double bytes = 0.75 * 2 * (3 * p + 2 * tied);
  EXPECT_NEAR(e.breakdown.comm_s, bytes / (300e9 * 0.75), 1e-9);
}

TEST(Estimator, GptJOnA100FortyGigabytesNeedsOffloadOrSharding) {
  const Calibration cal = default_calibration();
  const TrainingSetup s = setup_for("gptj-6b", 16, 1024);
  // 16 bytes x 6.05e9 parameters = 97 GB of state alone.
  for (int gpus : {1, 2, 4, 8}) {
    const ConfigEstimate ddp = estimate(s, "ddp", gpus, a100_40, cal);
    EXPECT_FALSE(ddp.feasible) << gpus;
    EXPECT_NE(ddp.reason.find("GiB per GPU"), std::string::npos) << ddp.reason;
    EXPECT_GT(ddp.peak_memory_bytes, 16 * 6.05e9);
  }
  const ConfigEstimate offload = estimate(s, "offload", 1, a100_40, cal);
  ASSERT_TRUE(offload.feasible) << offload.reason;
  EXPECT_LE(offload.peak_memory_bytes, a100_40.memory_bytes);
  // The blocks kept on the GPU hold 20 bytes per parameter there; the host AdamW step over the
  // rest bounds the step from below.
  const ModelShape& model = s.model;
  const int kept = offload.params["device_blocks"].get<int>();
  double kept_params = 0;
  for (std::size_t i = model.blocks.size() - static_cast<std::size_t>(kept); i < model.blocks.size();
       ++i) {
    kept_params += static_cast<double>(model.blocks[i].params);
  }
  EXPECT_DOUBLE_EQ(offload.breakdown.state_bytes, 20 * kept_params);
  EXPECT_GT(offload.step_s, (static_cast<double>(model.params) - kept_params) /
                                cal.defaults.cpu_adam_params_per_s.value);
  EXPECT_TRUE(estimate(s, "fsdp", 8, a100_40, cal).feasible);
}

// Offloading keeps as many of the last blocks on the GPU as its memory allows: more on a larger
// GPU, and a faster step for it (fewer copies, less of the optimizer step on the host).
TEST(Estimator, OffloadKeepsMoreBlocksOnALargerGpu) {
  const Calibration cal = default_calibration();
  const TrainingSetup s = setup_for("gptj-6b", 16, 1024);
  const ConfigEstimate small = estimate(s, "offload", 1, a100_40, cal);
  const ConfigEstimate large = estimate(s, "offload", 1, *find_gpu("a100-80gb"), cal);
  ASSERT_TRUE(small.feasible && large.feasible);
  EXPECT_GT(large.params["device_blocks"].get<int>(), small.params["device_blocks"].get<int>());
  EXPECT_LT(large.step_s, small.step_s);
  EXPECT_GT(large.breakdown.optimizer_s, 0);
}

TEST(Estimator, GpipeBubbleFraction) {
  const Calibration cal = clean_calibration();
  const TrainingSetup s = setup_for("gpt2-xl", 16);
  for (int stages : {2, 4, 8}) {
    const ConfigEstimate e = estimate(s, "gpipe", stages, a100_80, cal);
    ASSERT_TRUE(e.feasible) << e.reason;
    const int m = e.params["micro_batches"].get<int>();
    const double bubble = static_cast<double>(stages - 1) / (m + stages - 1);
    EXPECT_DOUBLE_EQ(e.params["bubble_fraction"].get<double>(), bubble);
    // Fill-drain: the slowest stage computes M of the M + N - 1 slots; the small stage-boundary
    // sends take the rest of the difference.
    const double pipeline_s = e.step_s - e.breakdown.optimizer_s;
    EXPECT_NEAR(e.breakdown.compute_s / pipeline_s, 1 - bubble, 0.01) << stages;
    int blocks = 0;
    for (const auto& n : e.params["blocks_per_stage"]) blocks += n.get<int>();
    EXPECT_EQ(blocks, static_cast<int>(s.model.blocks.size()));
    EXPECT_EQ(e.params["blocks_per_stage"].size(), static_cast<std::size_t>(stages));
  }
  const ConfigEstimate too_many = estimate(setup_for("gpt2", 16), "gpipe", 15, a100_80, cal);
  EXPECT_FALSE(too_many.feasible);
}

TEST(Estimator, FsdpMemoryPerGpuFallsWithMoreGpus) {
  GpuSpec roomy = *find_gpu("h200");
  roomy.memory_bytes = 1e15;  // the same variant (no checkpointing, no offload) wins at every N
  const TrainingSetup s = setup_for("gptj-6b", 8, 1024);
  double previous = HUGE_VAL;
  for (int gpus : {1, 2, 4, 8}) {
    const ConfigEstimate e = estimate(s, "fsdp", gpus, roomy, default_calibration());
    ASSERT_TRUE(e.feasible);
    EXPECT_FALSE(e.params["activation_checkpointing"].get<bool>());
    EXPECT_LT(e.peak_memory_bytes, previous) << gpus;
    previous = e.peak_memory_bytes;
  }
}

TEST(Estimator, MoreGpusAreFasterForDataParallelism) {
  const TrainingSetup s = setup_for("vit-g-14", 128);
  double previous = HUGE_VAL;
  for (int gpus : {1, 2, 4, 8}) {
    const ConfigEstimate e = estimate(s, "fsdp", gpus, a100_80, default_calibration());
    ASSERT_TRUE(e.feasible) << e.reason;
    EXPECT_LT(e.step_s, previous);
    previous = e.step_s;
  }
}

TEST(Estimator, SgdKeepsLessStateThanAdamW) {
  TrainingSetup adam = setup_for("resnet-200", 64);
  TrainingSetup sgd = adam;
  sgd.optimizer = "sgd";
  sgd.momentum = 0.9;
  const Calibration cal = clean_calibration();
  const double p = static_cast<double>(adam.model.params);
  // bf16 weights and gradient, the fp32 gradient copy, then master, m, v / master, momentum.
  EXPECT_DOUBLE_EQ(estimate(adam, "ddp", 1, a100_40, cal).breakdown.state_bytes, 20 * p);
  EXPECT_DOUBLE_EQ(estimate(sgd, "ddp", 1, a100_40, cal).breakdown.state_bytes, 16 * p);
}

TEST(Estimator, RestartCostAddsCheckpointStartLoadAndWarmUp) {
  const Calibration cal = default_calibration();
  const ModelShape gpt2 = *find_model("gpt2");
  const double bytes = 124439808.0 * 12;
  const double expected = bytes / 5.57e8 + 3.8 + bytes / 2.31e8 + 0.35;
  EXPECT_DOUBLE_EQ(estimate_restart_s(gpt2, *find_gpu("h100-80gb"), cal), expected);
  EXPECT_DOUBLE_EQ(estimate_restart_s(gpt2, *find_gpu("h100-80gb"), cal, 2.0), expected + 2.0);
}

TEST(Estimator, UnknownTechniqueIsAnError) {
  auto e = estimate_config(setup_for("gpt2", 8), "zero-bubble", 2, a100_40, default_calibration());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("ddp, fsdp, gpipe, offload"), std::string::npos);
}

// ---- Whole workloads ---------------------------------------------------------------------------

Cluster one_node(const std::string& gpu = "a100-40gb") {
  auto c = parse_cluster_yaml("nodes: 1\ngpus_per_node: 8\ngpu: " + gpu + "\n");
  EXPECT_TRUE(c.ok());
  return *c;
}

Result<Workload> workload(const std::string& text, const std::string& base_dir = ".") {
  return parse_workload_yaml(text, "w.yaml", base_dir);
}

TEST(Estimator, StepsComeFromEpochsAndSamples) {
  auto w = workload(
      "jobs:\n  - name: g\n    model: gpt2-xl\n"
      "    data: {format: text, path: none.txt, seq_len: 1024, samples: 2318}\n"
      "    lr: 1e-4\n    batch_size: 16\n    epochs: 10\n    gpus: [8]\n    techniques: [fsdp]\n");
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  auto setup = make_training_setup(w->jobs[0], *w, default_calibration());
  ASSERT_TRUE(setup.ok()) << setup.error().to_string();
  EXPECT_EQ(setup->steps, 1449);  // ceil(10 x 2318 / 16)
}

TEST(Estimator, SamplesAreCountedFromATextFile) {
  const fs::path dir = fs::path(testing::TempDir()) / "saturn_estimator_text";
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "train.txt");
    out << std::string(10 * 1024 * 4 + 100, 'x');  // 41,060 bytes
  }
  // A BPE vocabulary: about 4 bytes per token, so 10 samples of 1,024 tokens.
  auto w = workload(
      "jobs:\n  - name: g\n    model: gpt2\n"
      "    data: {format: text, path: train.txt, seq_len: 1024, tokenizer: gpt2-bpe}\n"
      "    lr: 1e-4\n    batch_size: 4\n    epochs: 1\n    gpus: 1\n    techniques: ddp\n",
      dir.string());
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  auto setup = make_training_setup(w->jobs[0], *w, default_calibration());
  ASSERT_TRUE(setup.ok()) << setup.error().to_string();
  EXPECT_EQ(setup->steps, 3);  // ceil(10 / 4)
  EXPECT_EQ(setup->model.params, find_model("gpt2")->params);
  // Bytes (the default): a token per byte, 40 samples, and a 256-symbol vocabulary.
  auto b = workload(
      "jobs:\n  - name: g\n    model: gpt2\n"
      "    data: {format: text, path: train.txt, seq_len: 1024}\n"
      "    lr: 1e-4\n    batch_size: 4\n    epochs: 1\n    gpus: 1\n    techniques: ddp\n",
      dir.string());
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  auto bytes = make_training_setup(b->jobs[0], *b, default_calibration());
  ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
  EXPECT_EQ(bytes->steps, 10);  // ceil(40 / 4)
  EXPECT_EQ(find_model("gpt2")->params - bytes->model.params, (50257 - 256) * 768);
}

TEST(Estimator, WorkloadErrorsNameFileLineAndField) {
  auto missing = workload(
      "jobs:\n  - name: g\n    model: gpt2\n"
      "    data: {format: text, path: missing.txt, seq_len: 1024}\n"
      "    lr: 1e-4\n    batch_size: 4\n    epochs: 1\n    gpus: 1\n    techniques: ddp\n",
      "/nonexistent");
  ASSERT_TRUE(missing.ok());
  auto e = estimate_profile_table(*missing, one_node(), default_calibration());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().to_string(),
            "w.yaml:2: jobs[0].data.samples: job \"g\": cannot count samples per epoch: "
            "/nonexistent/missing.txt does not exist; give data.samples");

  auto unknown = workload(
      "defaults: {lr: 1e-4, batch_size: 4, steps: 10, gpus: 1, techniques: [ddp, tp]}\n"
      "jobs:\n  - name: g\n    model: [gpt2, gpt3]\n");
  ASSERT_TRUE(unknown.ok());
  e = estimate_profile_table(*unknown, one_node(), default_calibration());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().file, "w.yaml");
  EXPECT_EQ(e.error().line, 1);
  EXPECT_EQ(e.error().field, "defaults.techniques");
  EXPECT_NE(e.error().message.find("no estimator for technique \"tp\""), std::string::npos);

  unknown = workload(
      "defaults: {lr: 1e-4, batch_size: 4, steps: 10, gpus: 1, techniques: ddp}\n"
      "jobs:\n  - name: g\n    model: [gpt2,\n            gpt3]\n");
  ASSERT_TRUE(unknown.ok());
  e = estimate_profile_table(*unknown, one_node(), default_calibration());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().line, 5);
  EXPECT_EQ(e.error().field, "jobs[0].model[1]");
  EXPECT_NE(e.error().message.find("job \"g-gpt3\": unknown model \"gpt3\""), std::string::npos);
}

TEST(Estimator, JobThatFitsNowhereIsAnError) {
  auto w = workload(
      "jobs:\n  - name: big\n    model: gptj-6b\n    lr: 1e-4\n    batch_size: 16\n"
      "    steps: 10\n    gpus: [1, 8]\n    techniques: [ddp]\n");
  ASSERT_TRUE(w.ok());
  auto table = estimate_profile_table(*w, one_node(), default_calibration());
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.error().line, 2);
  EXPECT_EQ(table.error().field, "jobs[0]");
  EXPECT_NE(table.error().message.find("job \"big\" fits on no GPU of the cluster"),
            std::string::npos);
  EXPECT_NE(table.error().message.find("GiB per GPU"), std::string::npos);
}

TEST(Estimator, PaperWorkloadGivesAPlannableProfileTable) {
  auto w = load_workload_yaml(std::string(SATURN_SOURCE_DIR) + "/examples/paper/wikitext.yaml");
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  const Cluster cluster = one_node();
  auto table = estimate_profile_table(*w, cluster, default_calibration());
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tasks.size(), 12u);
  for (const Task& task : table->tasks) {
    EXPECT_GT(task.restart_s, 0) << task.name;
    EXPECT_FALSE(task.configs.empty()) << task.name;
    for (const Config& c : task.configs) {
      EXPECT_TRUE(config_fits(c, cluster.nodes[0])) << task.name << " " << c.technique;
      EXPECT_TRUE(c.gpu_type.empty());
      EXPECT_DOUBLE_EQ(c.runtime_s, c.step_s * static_cast<double>(c.steps));
    }
  }
  auto again = parse_profile_table(to_json(*table).dump());
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(again->tasks.size(), 12u);
}

TEST(Estimator, MixedClusterTagsConfigsWithTheirGpuType) {
  auto cluster = parse_cluster_yaml(
      "nodes:\n  - {name: a, gpus: 8, gpu: a100-80gb}\n  - {name: h, gpus: 4, gpu: h100-80gb}\n");
  ASSERT_TRUE(cluster.ok());
  auto w = workload(
      "jobs:\n  - name: g\n    model: gpt2-xl\n    lr: 1e-4\n    batch_size: 16\n"
      "    steps: 100\n    gpus: [4, 8]\n    techniques: [fsdp]\n");
  ASSERT_TRUE(w.ok());
  auto table = estimate_profile_table(*w, *cluster, default_calibration());
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  const std::vector<Config>& configs = table->tasks[0].configs;
  ASSERT_EQ(configs.size(), 3u);  // 8 GPUs fit only the A100 node
  EXPECT_EQ(configs[0].gpu_type, "a100-80gb");
  EXPECT_EQ(configs[1].gpu_type, "h100-80gb");
  EXPECT_LT(configs[1].runtime_s, configs[0].runtime_s);
}

}  // namespace
}  // namespace saturn
