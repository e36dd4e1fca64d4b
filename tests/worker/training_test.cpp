// Training, in process: data-parallel ranks equal one process on the same global batch,
// gradient accumulation equals one large micro-batch, a resumed run reproduces the
// uninterrupted one exactly, and checkpoints are safetensors files with the model's names.
// GradientReducer: buckets start during the backward pass, in one order, covering the buffer;
// on a GPU, over a one-rank NCCL group.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "saturn/safetensors.h"
#include "local_group.h"
#include "same_weights.h"
#include "tiny_text_job.h"
#include "train/trainer.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

fs::path workdir() { return text_workdir("training"); }

JobSpec tiny_job(int batch = 8, int accum = 1) { return tiny_text_job(batch, accum); }

std::unique_ptr<Trainer> make(const JobSpec& job, Communicator* comm = nullptr,
                              torch::Device device = torch::kCPU) {
  TrainerSetup setup{job, workdir().string(), device, comm, 0};
  auto t = Trainer::create(setup);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return std::move(*t);
}


TEST(Training, LossFallsOnText) {
  JobSpec job = tiny_job();
  job.steps = 20;
  auto t = make(job);
  const double first = t->train_step().loss;
  double last = first;
  while (t->step() < t->total_steps()) last = t->train_step().loss;
  EXPECT_LT(last, 0.6 * first);
}

TEST(Training, TwoRanksEqualOneProcessOnTheSameGlobalBatch) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  const JobSpec job = tiny_job(8);
  auto single = make(job);
  for (int i = 0; i < 4; ++i) single->train_step();

  auto comms = local_group(2, 29731);
  std::vector<std::unique_ptr<Trainer>> ranks(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      ranks[static_cast<std::size_t>(r)] = make(job, comms[static_cast<std::size_t>(r)].get());
      for (int i = 0; i < 4; ++i) ranks[static_cast<std::size_t>(r)]->train_step();
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(ranks[static_cast<std::size_t>(r)]->micro_batch(), 4);
    EXPECT_TRUE(same_weights(ranks[static_cast<std::size_t>(r)]->parameters().master(),
                             single->parameters().master()))
        << "rank " << r;
  }
}

// Two identical ranks, simulated: a started sum doubles its bucket at once; records the buckets.
class RecordingCommunicator final : public Communicator {
 public:
  struct Done final : PendingCollective {
    void wait() override {}
  };
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  std::unique_ptr<PendingCollective> start_sum(torch::Tensor tensor) override {
    started.emplace_back(tensor.data_ptr<float>(), tensor.numel());
    tensor.mul_(2);
    return std::make_unique<Done>();
  }
  // Only sums are recorded; the reducer uses nothing else.
  std::unique_ptr<PendingCollective> start_all_gather(torch::Tensor, torch::Tensor) override {
    ADD_FAILURE() << "unexpected all_gather";
    return std::make_unique<Done>();
  }
  std::unique_ptr<PendingCollective> start_reduce_scatter(torch::Tensor, torch::Tensor) override {
    ADD_FAILURE() << "unexpected reduce_scatter";
    return std::make_unique<Done>();
  }
  std::unique_ptr<PendingCollective> start_send(torch::Tensor, int, int) override {
    ADD_FAILURE() << "unexpected send";
    return std::make_unique<Done>();
  }
  std::unique_ptr<PendingCollective> start_recv(torch::Tensor, int, int) override {
    ADD_FAILURE() << "unexpected recv";
    return std::make_unique<Done>();
  }
  double all_reduce_mean(double value) override { return value; }
  void barrier() override {}
  std::vector<std::pair<float*, std::int64_t>> started;
};

TEST(GradientReducer, BucketsStartDuringBackwardFromTheTailAndCoverTheBuffer) {
  auto t = make(tiny_job());
  FlatParameters& params = t->parameters();
  RecordingCommunicator comm;
  GradientReducer reducer(params, comm, /*bucket_bytes=*/16 * 1024);
  ASSERT_GT(reducer.buckets(), 3u);
  const torch::Tensor ids = torch::arange(32, torch::kLong).remainder(29).view({2, 16});
  auto backward = [&] {
    params.zero_grad();
    Model& m = t->model();
    m.loss(m.forward(ids), ids).backward();
  };
  backward();  // not armed: nothing starts
  EXPECT_TRUE(comm.started.empty());
  const torch::Tensor expected = params.grad().clone();

  backward();
  reducer.arm();
  backward();
  reducer.finish();
  EXPECT_EQ(reducer.started_during_backward(), reducer.buckets());
  ASSERT_EQ(comm.started.size(), reducer.buckets());
  // From the end of the buffer to its start, contiguous, each element once.
  float* end = params.grad().data_ptr<float>() + params.grad().numel();
  for (const auto& [begin, numel] : comm.started) {
    EXPECT_EQ(begin + numel, end);
    end = begin;
  }
  EXPECT_EQ(end, params.grad().data_ptr<float>());
  EXPECT_TRUE(torch::allclose(params.grad(), expected, 1e-5, 1e-6));  // x2 / 2

  comm.started.clear();
  reducer.finish();  // not armed: everything now, still in order
  EXPECT_EQ(reducer.started_during_backward(), 0u);
  EXPECT_EQ(comm.started.size(), reducer.buckets());
}

// DDP's gradient buckets over NCCL (one rank on cuda:0; several need several GPUs): they start
// from the autograd engine's thread during the backward pass, and after finish() the gradient is
// the plain backward pass's (a sum over one rank).
TEST(GradientReducer, OverOneNcclRankOnCudaLeavesTheGradient) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
#ifndef SATURN_WITH_NCCL
  GTEST_SKIP() << "this build has no NCCL";
#endif
  const torch::Device cuda(torch::kCUDA, 0);
  auto t = make(tiny_job(), nullptr, cuda);
  RankEnvironment env;
  env.master_port = 29749;
  auto comm = connect(env, cuda, 60);
  ASSERT_TRUE(comm.ok()) << comm.error().to_string();
  FlatParameters& params = t->parameters();
  GradientReducer reducer(params, **comm, /*bucket_bytes=*/16 * 1024);
  ASSERT_GT(reducer.buckets(), 3u);
  const torch::Tensor ids =
      torch::arange(32, torch::kLong).remainder(29).view({2, 16}).to(cuda);
  auto backward = [&] {
    params.zero_grad();
    Model& m = t->model();
    m.loss(m.forward(ids), ids).backward();
  };
  backward();
  const torch::Tensor expected = params.grad().to(torch::kFloat).cpu();
  reducer.arm();
  backward();
  reducer.finish();
  EXPECT_EQ(reducer.started_during_backward(), reducer.buckets());
  // Element by element: two backward passes on a GPU may round differently (bf16), so a few
  // elements may differ by more than a bf16 step; a bucket lost or zeroed (at least 16 KiB of
  // the buffer) would move far more of them.
  const torch::Tensor got = params.grad().to(torch::kFloat).cpu();
  const torch::Tensor off = ((got - expected).abs() > 2e-2 * expected.abs() + 1e-5);
  EXPECT_LT(off.sum().item<double>(), 1e-3 * static_cast<double>(expected.numel()))
      << "of " << expected.numel();
  EXPECT_LT(((got - expected).norm() / expected.norm()).item<double>(), 1e-2);
}

TEST(Training, AccumulationEqualsOneLargeMicroBatch) {
  auto whole = make(tiny_job(8, 1));
  auto split = make(tiny_job(8, 4));
  EXPECT_EQ(split->micro_batch(), 2);
  for (int i = 0; i < 3; ++i) {
    const double a = whole->train_step().loss;
    const double b = split->train_step().loss;
    EXPECT_NEAR(a, b, 1e-4);
  }
  EXPECT_TRUE(same_weights(split->parameters().master(), whole->parameters().master()));
}

TEST(Training, ResumedRunReproducesTheUninterruptedOne) {
  const fs::path ck = workdir() / "resume";
  fs::remove_all(ck);
  const JobSpec job = tiny_job();
  std::vector<double> straight;
  auto a = make(job);
  while (a->step() < a->total_steps()) straight.push_back(a->train_step().loss);

  auto b = make(job);
  std::vector<double> resumed;
  for (int i = 0; i < 3; ++i) resumed.push_back(b->train_step().loss);
  ASSERT_TRUE(b->save_checkpoint(ck.string()).ok());
  b.reset();
  auto c = make(job);
  auto restored = c->restore_checkpoint(ck.string());
  ASSERT_TRUE(restored.ok()) << restored.error().to_string();
  EXPECT_TRUE(*restored);
  EXPECT_EQ(c->step(), 3);
  while (c->step() < c->total_steps()) resumed.push_back(c->train_step().loss);
  ASSERT_EQ(resumed.size(), straight.size());
  for (std::size_t i = 0; i < straight.size(); ++i) EXPECT_DOUBLE_EQ(resumed[i], straight[i]) << i;
  EXPECT_TRUE(torch::equal(a->parameters().master(), c->parameters().master()));
}

TEST(Training, CheckpointsAreSafetensorsWithTheModelsNames) {
  const fs::path ck = workdir() / "names";
  fs::remove_all(ck);
  auto t = make(tiny_job());
  t->train_step();
  auto where = t->save_checkpoint(ck.string());
  ASSERT_TRUE(where.ok()) << where.error().to_string();
  t->train_step();
  t->train_step();
  ASSERT_TRUE(t->save_checkpoint(ck.string()).ok());
  ASSERT_TRUE(t->train_step().step == 4 && t->save_checkpoint(ck.string()).ok());
  // The two newest are kept, LATEST names the newest.
  EXPECT_FALSE(fs::exists(ck / "step-00000001"));
  EXPECT_TRUE(fs::exists(ck / "step-00000003"));
  std::ifstream latest(ck / "LATEST");
  std::string name;
  latest >> name;
  EXPECT_EQ(name, "step-00000004");
  auto f = SafetensorsFile::open((ck / name / "model.safetensors").string());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  const auto* wte = f->find("embed.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->shape, (std::vector<std::int64_t>{256, 64}));
  EXPECT_NE(f->find("h.1.c_attn.weight"), nullptr);
  EXPECT_EQ(f->metadata().at("step"), "4");
  auto opt = SafetensorsFile::open((ck / name / "optimizer.safetensors").string());
  ASSERT_TRUE(opt.ok());
  EXPECT_NE(opt->find("exp_avg_sq.h.0.mlp_proj.weight"), nullptr);
  // Another job's checkpoint is refused.
  JobSpec other = tiny_job();
  other.name = "other";
  auto o = make(other);
  EXPECT_FALSE(o->restore_checkpoint(ck.string()).ok());
}

TEST(Training, BadSetupsAreErrorsNamingTheField) {
  JobSpec job = tiny_job(6);
  TrainerSetup setup{job, workdir().string(), torch::kCPU, nullptr, 4};
  auto t = Trainer::create(setup);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().field, "batch_size");
  job = tiny_job();
  job.data.path = "missing.txt";
  setup.job = job;
  setup.grad_accum = 0;
  t = Trainer::create(setup);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().field, "data.path");
  job = tiny_job();
  job.model = "no-such-model";  // every zoo family is built (GPT-J too): an unknown name
  setup.job = job;
  t = Trainer::create(setup);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().field, "model");
}

TEST(Training, ImageModelsTrainOnSyntheticImages) {
  for (const char* model : {"resnet-tiny", "vit-tiny"}) {
    JobSpec job;
    job.name = model;
    job.model = model;
    job.data.format = "synthetic-images";
    job.data.image_size = 32;
    job.data.samples = 64;
    job.optimizer = std::string(model) == "resnet-tiny" ? "sgd" : "adamw";
    job.momentum = 0.9;
    job.lr = std::string(model) == "resnet-tiny" ? 0.05 : 2e-3;
    job.batch_size = 16;
    job.steps = 25;
    TrainerSetup setup{job, ".", torch::kCPU, nullptr, 0};
    auto t = Trainer::create(setup);
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    const double first = (*t)->evaluate(32);
    while ((*t)->step() < (*t)->total_steps()) (*t)->train_step();
    EXPECT_LT((*t)->evaluate(32), first) << model;
  }
}

}  // namespace
}  // namespace saturn::worker
