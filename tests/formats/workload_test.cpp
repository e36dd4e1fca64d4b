// Workload YAML: job fields, defaults, grid expansion and naming, and located errors.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "format_test_util.h"
#include "saturn/workload.h"

namespace saturn {
namespace {

using testing_formats::ErrorIs;
using testing_formats::write_temp_file;

std::vector<std::string> names_of(const Workload& workload) {
  std::vector<std::string> names;
  for (const JobSpec& job : workload.jobs) names.push_back(job.name);
  return names;
}

TEST(WorkloadYaml, GridExpandsToCartesianProductInKeyOrder) {
  const char* text = R"(name: lm-sweep
jobs:
  - name: gpt2
    model: gpt2-xl
    data: {name: wikitext-2, path: data/train.txt, format: text, seq_len: 1024}
    lr: [1e-5, 1e-4, 1e-3]
    batch_size: [16, 32]
    epochs: 10
    gpus: [1, 2, 4, 8]
    techniques: [ddp, fsdp, gpipe, offload]
)";
  auto workload = parse_workload_yaml(text, "w.yaml", "/data");
  ASSERT_TRUE(workload.ok()) << workload.error().to_string();
  EXPECT_EQ(workload->name, "lm-sweep");
  EXPECT_EQ(workload->base_dir, "/data");
  EXPECT_EQ(names_of(*workload),
            (std::vector<std::string>{"gpt2-lr1e-5-bs16", "gpt2-lr1e-5-bs32", "gpt2-lr1e-4-bs16",
                                      "gpt2-lr1e-4-bs32", "gpt2-lr1e-3-bs16", "gpt2-lr1e-3-bs32"}));
  const JobSpec& job = workload->jobs[3];
  EXPECT_EQ(job.model, "gpt2-xl");
  EXPECT_DOUBLE_EQ(job.lr, 1e-4);
  EXPECT_EQ(job.batch_size, 32);
  EXPECT_DOUBLE_EQ(job.epochs, 10);
  EXPECT_EQ(job.steps, 0);
  EXPECT_EQ(job.optimizer, "adamw");  // default
  EXPECT_EQ(job.grad_accum, 1);       // default
  EXPECT_EQ(job.data.name, "wikitext-2");
  EXPECT_EQ(job.data.path, "data/train.txt");
  EXPECT_EQ(job.data.format, "text");
  EXPECT_EQ(job.data.seq_len, 1024);
  EXPECT_EQ(job.gpus, (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(job.techniques, (std::vector<std::string>{"ddp", "fsdp", "gpipe", "offload"}));
  EXPECT_EQ(job.grid, (std::map<std::string, std::string>{{"lr", "1e-4"}, {"batch_size", "32"}}));
}

TEST(WorkloadYaml, NameOrderFollowsTheFile) {
  const char* text = R"(jobs:
  - {name: x, model: m, batch_size: [8, 16], lr: [0.1, 0.2], steps: 100, gpus: 1,
     techniques: ddp}
)";
  auto workload = parse_workload_yaml(text);
  ASSERT_TRUE(workload.ok()) << workload.error().to_string();
  EXPECT_EQ(names_of(*workload), (std::vector<std::string>{"x-bs8-lr0.1", "x-bs8-lr0.2",
                                                           "x-bs16-lr0.1", "x-bs16-lr0.2"}));
  EXPECT_EQ(workload->jobs[0].steps, 100);
}

TEST(WorkloadYaml, DefaultsMergeUnderJobs) {
  const char* text = R"(defaults:
  lr: [1e-4, 3e-4]
  data: {format: synthetic-text, seq_len: 512, samples: 1000}
  epochs: 1
  gpus: [8, 1, 2, 2]
  techniques: [fsdp]
jobs:
  - {name: a, model: m1, batch_size: [4, 8]}
  - {name: b, model: m2, batch_size: 4, lr: 0.01, data: {seq_len: 2048}, steps: 5, epochs: 2}
)";
  auto workload = parse_workload_yaml(text);
  ASSERT_FALSE(workload.ok());  // b gives both epochs (from defaults) and steps
  EXPECT_TRUE(ErrorIs(workload.error(), "<string>", 9, "jobs[1]", "exactly one of epochs"));

  std::string fixed = text;
  fixed.replace(fixed.find("steps: 5, "), 10, "");
  workload = parse_workload_yaml(fixed);
  ASSERT_TRUE(workload.ok()) << workload.error().to_string();
  // Defaults' keys come first (lr), then the job's own (batch_size).
  EXPECT_EQ(names_of(*workload), (std::vector<std::string>{"a-lr1e-4-bs4", "a-lr1e-4-bs8",
                                                           "a-lr3e-4-bs4", "a-lr3e-4-bs8", "b"}));
  const JobSpec& b = workload->jobs[4];
  EXPECT_DOUBLE_EQ(b.lr, 0.01);
  EXPECT_DOUBLE_EQ(b.epochs, 2);
  EXPECT_EQ(b.data.format, "synthetic-text");
  EXPECT_EQ(b.data.seq_len, 2048);
  EXPECT_EQ(b.data.samples, 1000);
  EXPECT_TRUE(b.grid.empty());
  EXPECT_EQ(b.gpus, (std::vector<int>{1, 2, 8}));
}

TEST(WorkloadYaml, OverriddenDefaultKeepsItsPlace) {
  const char* text = R"(defaults:
  data: {format: synthetic-images, image_size: 224, samples: 10}
  lr: 1e-4
  batch_size: 128
  steps: 5
  gpus: 8
  techniques: ddp
jobs:
  - name: vision
    model: [vit-g-14, resnet-200]
    data: {image_size: [224, 384]}
)";
  auto workload = parse_workload_yaml(text);
  ASSERT_TRUE(workload.ok()) << workload.error().to_string();
  EXPECT_EQ(names_of(*workload),
            (std::vector<std::string>{
                "vision-image_size224-vit-g-14", "vision-image_size224-resnet-200",
                "vision-image_size384-vit-g-14", "vision-image_size384-resnet-200"}));
  EXPECT_EQ(workload->jobs[3].data.image_size, 384);
  EXPECT_EQ(workload->jobs[3].data.samples, 10);
  EXPECT_EQ(workload->jobs[3].grid.at("data.image_size"), "384");
  EXPECT_EQ(workload->jobs[3].grid.at("model"), "resnet-200");
}

TEST(WorkloadYaml, AbbreviationsAndSanitising) {
  const char* text = R"(jobs:
  - name: j
    model: [m1]
    optimizer: [sgd]
    lr: [1e-3]
    weight_decay: [0.01]
    momentum: [0.9]
    warmup_steps: [100]
    grad_clip: [1.0]
    grad_accum: [2]
    batch_size: [32]
    epochs: [0.5]
    seed: [7]
    eval_every: [50]
    data: {format: tokens, path: [corpus/a b.bin], seq_len: [256]}
    gpus: 4
    techniques: [ddp]
)";
  auto workload = parse_workload_yaml(text);
  ASSERT_TRUE(workload.ok()) << workload.error().to_string();
  ASSERT_EQ(workload->jobs.size(), 1u);
  const JobSpec& job = workload->jobs[0];
  EXPECT_EQ(job.name,
            "j-m1-sgd-lr1e-3-wd0.01-mom0.9-wu100-clip1.0-acc2-bs32-ep0.5-seed7-eval50-"
            "pathcorpus_a_b.bin-seq_len256");
  EXPECT_EQ(job.grid.at("data.path"), "corpus/a b.bin");
  EXPECT_EQ(job.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(job.momentum, 0.9);
  EXPECT_EQ(job.warmup_steps, 100);
  EXPECT_EQ(job.seed, 7u);
  EXPECT_EQ(job.eval_every, 50);
  EXPECT_EQ(job.gpus, (std::vector<int>{4}));
}

TEST(WorkloadYaml, LoadSetsBaseDirAndDefaultName) {
  const std::string path = write_temp_file(
      "my-sweep.yaml",
      "jobs:\n  - {name: a, model: m, lr: 1, batch_size: 1, steps: 1, gpus: 1, techniques: x}\n");
  auto workload = load_workload_yaml(path);
  ASSERT_TRUE(workload.ok()) << workload.error().to_string();
  EXPECT_EQ(workload->name, "my-sweep");
  EXPECT_EQ(workload->base_dir, std::filesystem::path(path).parent_path().string());
  EXPECT_EQ(parse_workload_yaml("jobs: [{name: a, model: m, lr: 1, batch_size: 1, steps: 1, "
                                "gpus: 1, techniques: x}]")
                ->base_dir,
            ".");
}

struct BadWorkload {
  const char* name;
  std::string text;
  int line;
  const char* field;
  const char* message;
};

void PrintTo(const BadWorkload& c, std::ostream* os) {
  *os << c.name;
}

class WorkloadYamlRejects : public ::testing::TestWithParam<BadWorkload> {};

TEST_P(WorkloadYamlRejects, WithFileLineAndField) {
  const BadWorkload& c = GetParam();
  const std::string path = write_temp_file("workload.yaml", c.text);
  auto workload = load_workload_yaml(path);
  ASSERT_FALSE(workload.ok());
  EXPECT_TRUE(ErrorIs(workload.error(), path, c.line, c.field, c.message));
}

// A valid job over lines 2-8; cases below replace or add lines.
#define JOB_HEAD "jobs:\n  - name: a\n    model: m\n"
#define JOB_TAIL "    batch_size: 8\n    epochs: 1\n    gpus: [1, 2]\n    techniques: [ddp]\n"

INSTANTIATE_TEST_SUITE_P(
    Cases, WorkloadYamlRejects,
    ::testing::Values(
        BadWorkload{"LrElement", JOB_HEAD "    lr: [1e-5, 1e-4, -1]\n" JOB_TAIL, 4, "jobs[0].lr[2]",
                    "must be > 0, got -1"},
        BadWorkload{"LrString", JOB_HEAD "    lr: fast\n" JOB_TAIL, 4, "jobs[0].lr",
                    "expected a number"},
        BadWorkload{"LrInfinite", JOB_HEAD "    lr: .inf\n" JOB_TAIL, 4, "jobs[0].lr", "finite"},
        BadWorkload{"UnknownKey", JOB_HEAD "    lr: 1\n    learning_rate: 1\n" JOB_TAIL, 5,
                    "jobs[0].learning_rate", "unknown key"},
        BadWorkload{"UnknownDataKey",
                    JOB_HEAD "    lr: 1\n    data:\n      format: text\n"
                             "      seqlen: 5\n" JOB_TAIL,
                    7, "jobs[0].data.seqlen", "unknown key"},
        BadWorkload{"DataFormat", JOB_HEAD "    lr: 1\n    data: {format: csv}\n" JOB_TAIL, 5,
                    "jobs[0].data.format", "allowed: text, tokens"},
        BadWorkload{"TextNeedsPath",
                    JOB_HEAD "    lr: 1\n    data: {format: text, seq_len: 8}\n" JOB_TAIL, 2,
                    "jobs[0].data", "needs a path"},
        BadWorkload{"TokenizerOnTokens",
                    JOB_HEAD "    lr: 1\n    data: {format: tokens, path: t.bin, seq_len: 8, "
                             "tokenizer: bytes}\n" JOB_TAIL,
                    2, "jobs[0].data.tokenizer", "applies only to text"},
        BadWorkload{"ImagesNeedSize",
                    JOB_HEAD "    lr: 1\n    data: {format: synthetic-images, "
                             "samples: 10}\n" JOB_TAIL,
                    2, "jobs[0].data", "needs image_size"},
        BadWorkload{"Optimizer", JOB_HEAD "    lr: 1\n    optimizer: adam\n" JOB_TAIL, 5,
                    "jobs[0].optimizer", "allowed: adamw, sgd"},
        BadWorkload{"MissingModel", "jobs:\n  - name: a\n    lr: 1\n" JOB_TAIL, 2, "jobs[0].model",
                    "missing required key \"model\""},
        BadWorkload{"MissingLr", JOB_HEAD JOB_TAIL, 2, "jobs[0].lr", "missing required key"},
        BadWorkload{"EpochsAndSteps", JOB_HEAD "    lr: 1\n    steps: 10\n" JOB_TAIL, 2, "jobs[0]",
                    "exactly one of epochs and steps"},
        BadWorkload{"StepsFraction",
                    "jobs:\n  - name: a\n    model: m\n    lr: 1\n"
                    "    steps: 1.5\n    batch_size: 8\n    gpus: 1\n    techniques: ddp\n",
                    5, "jobs[0].steps", "expected a positive integer, got 1.5"},
        BadWorkload{"BatchZero",
                    JOB_HEAD "    lr: 1\n    batch_size: 0\n    epochs: 1\n"
                             "    gpus: 1\n    techniques: x\n",
                    5, "jobs[0].batch_size", "must be in [1,"},
        BadWorkload{"GradAccumZero", JOB_HEAD "    lr: 1\n    grad_accum: 0\n" JOB_TAIL, 5,
                    "jobs[0].grad_accum", "must be in [1,"},
        BadWorkload{"MomentumOne", JOB_HEAD "    lr: 1\n    momentum: 1\n" JOB_TAIL, 5,
                    "jobs[0].momentum", "must be < 1"},
        BadWorkload{"GpuCountZero",
                    JOB_HEAD "    lr: 1\n    batch_size: 8\n    epochs: 1\n"
                             "    gpus: [1, 0]\n    techniques: [ddp]\n",
                    7, "jobs[0].gpus[1]", "must be in [1, 1024]"},
        BadWorkload{"GpusEmpty",
                    JOB_HEAD "    lr: 1\n    batch_size: 8\n    epochs: 1\n"
                             "    gpus: []\n    techniques: [ddp]\n",
                    7, "jobs[0].gpus", "at least one"},
        BadWorkload{"TechniqueTwice",
                    JOB_HEAD "    lr: 1\n    batch_size: 8\n    epochs: 1\n"
                             "    gpus: 1\n    techniques: [ddp, fsdp, ddp]\n",
                    8, "jobs[0].techniques[2]", "listed twice"},
        BadWorkload{"TechniqueEmpty",
                    JOB_HEAD "    lr: 1\n    batch_size: 8\n    epochs: 1\n"
                             "    gpus: 1\n    techniques: [\"\"]\n",
                    8, "jobs[0].techniques[0]", "must not be empty"},
        BadWorkload{"UnsafeName", "jobs:\n  - name: a/b\n    model: m\n    lr: 1\n" JOB_TAIL, 2,
                    "jobs[0].name", "letters, digits"},
        // "." and ".." once put a job's checkpoints in checkpoints/ itself or the run directory.
        BadWorkload{"NameDot", "jobs:\n  - name: \".\"\n    model: m\n    lr: 1\n" JOB_TAIL, 2,
                    "jobs[0].name", "\".\" is not a job name: a name must start with a letter"},
        BadWorkload{"NameDotDot",
                    "jobs:\n  - name: \"..\"\n    model: m\n    lr: [1, 2]\n" JOB_TAIL, 2,
                    "jobs[0].name", "\"..\" is not a job name"},
        BadWorkload{"NameHidden", "jobs:\n  - name: .a\n    model: m\n    lr: 1\n" JOB_TAIL, 2,
                    "jobs[0].name", "start with a letter or digit"},
        BadWorkload{"NameOption", "jobs:\n  - name: -a\n    model: m\n    lr: 1\n" JOB_TAIL, 2,
                    "jobs[0].name", "start with a letter or digit"},
        BadWorkload{
            "NameTooLong",
            "jobs:\n  - name: " + std::string(129, 'a') + "\n    model: m\n    lr: 1\n" JOB_TAIL, 2,
            "jobs[0].name", "at most 128 characters"},
        BadWorkload{"GridNameTooLong",
                    "jobs:\n  - name: " + std::string(120, 'a') +
                        "\n    model: m\n    lr: [1, 2.000000001]\n" JOB_TAIL,
                    2, "jobs[0].name", "made by jobs[0] (lr[1]=2.000000001) is not a job name"},
        BadWorkload{"NameMissing", "jobs:\n  - model: m\n    lr: 1\n" JOB_TAIL, 2, "jobs[0].name",
                    "missing required key \"name\""},
        BadWorkload{"NameList", "jobs:\n  - name: [a, b]\n    model: m\n    lr: 1\n" JOB_TAIL, 2,
                    "jobs[0].name", "cannot be a list"},
        BadWorkload{"DuplicateJobs",
                    JOB_HEAD "    lr: 1\n" JOB_TAIL
                             "  - {name: a, model: m, lr: 2, batch_size: 8, epochs: 1, gpus: 1, "
                             "techniques: x}\n",
                    9, "jobs[1].name",
                    "\"a\" is produced twice: by jobs[0] on line 2 and by jobs[1]"},
        BadWorkload{"DuplicateFromGrid", JOB_HEAD "    lr: [1e-3, 0.1, 1e-3]\n" JOB_TAIL, 2,
                    "jobs[0].name",
                    "by jobs[0] (lr[0]=1e-3) on line 2 and by jobs[0] (lr[2]=1e-3)"},
        BadWorkload{"GridCollidesWithJob",
                    JOB_HEAD
                    "    lr: [1, 2]\n" JOB_TAIL
                    "  - {name: a-lr2, model: m, lr: 2, batch_size: 8, epochs: 1, gpus: 1, "
                    "techniques: x}\n",
                    9, "jobs[1].name", "by jobs[0] (lr[1]=2) on line 2"},
        BadWorkload{"EmptyGrid", JOB_HEAD "    lr: []\n" JOB_TAIL, 4, "jobs[0].lr", "empty list"},
        BadWorkload{"GridTooLarge",
                    JOB_HEAD "    lr: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                             "    seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                             "    warmup_steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                             "    eval_every: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                             "    grad_clip: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n" JOB_TAIL,
                    8, "jobs[0].grad_clip", "more than 100000 jobs"},
        BadWorkload{"DefaultsName", "defaults: {name: x}\njobs: []\n", 1, "defaults.name",
                    "unknown key"},
        BadWorkload{"DefaultsBadLr", "name: w\ndefaults:\n  lr: [0.1, zero]\n" JOB_HEAD JOB_TAIL, 3,
                    "defaults.lr[1]", "expected a number, got zero"},
        BadWorkload{"NoJobs", "name: w\njobs: []\n", 2, "jobs", "no jobs"},
        BadWorkload{"JobsMissing", "name: w\n", 1, "jobs", "missing required key"},
        BadWorkload{"JobNotMap", "jobs:\n  - gpt2\n", 2, "jobs[0]", "expected a map"},
        BadWorkload{"TopLevelKey", "name: w\nversion: 2\njobs: []\n", 2, "version", "unknown key"},
        BadWorkload{"NoValue", JOB_HEAD "    lr:\n" JOB_TAIL, 4, "jobs[0].lr", "has no value"},
        BadWorkload{"Syntax", JOB_HEAD "    lr: [1, 2\n" JOB_TAIL, 5, "", "invalid YAML"}),
    [](const ::testing::TestParamInfo<BadWorkload>& info) { return std::string(info.param.name); });

// The 100,000-job limit held only for grids: a file listing 287,104 jobs was accepted.
TEST(WorkloadYaml, AListOfMoreJobsThanTheLimitIsRefused) {
  std::string text = "jobs:\n";
  for (int i = 0; i <= 100000; ++i) text += "  - {name: j" + std::to_string(i) + "}\n";
  auto workload = parse_workload_yaml(text, "w.yaml");
  ASSERT_FALSE(workload.ok());
  EXPECT_TRUE(ErrorIs(workload.error(), "w.yaml", 2, "jobs",
                      "lists more than 100000 jobs, the most one may have"))
      << workload.error().to_string();
  // Counted before the document is built, in one pass that stops at the limit: in flow style
  // and under `defaults` too.
  text = "defaults: {model: m}\njobs: [";
  for (int i = 0; i <= 100000; ++i) text += (i ? ", " : "") + std::string("{name: j}");
  text += "]\n";
  workload = parse_workload_yaml(text, "w.yaml");
  ASSERT_FALSE(workload.ok());
  EXPECT_NE(workload.error().message.find("more than 100000 jobs"), std::string::npos)
      << workload.error().to_string();
  // Exactly the limit is allowed (it fails later, for what the jobs lack).
  text = "jobs:\n";
  for (int i = 0; i < 100000; ++i) text += "  - {name: j" + std::to_string(i) + "}\n";
  workload = parse_workload_yaml(text, "w.yaml");
  ASSERT_FALSE(workload.ok());
  EXPECT_EQ(workload.error().message.find("more than 100000 jobs"), std::string::npos)
      << workload.error().to_string();
  // Jobs that are grids add up too.
  text = "jobs:\n";
  for (int i = 0; i < 3; ++i) {
    text += "  - {name: g" + std::to_string(i) +
            ", model: m, batch_size: 8, steps: 1, gpus: 1, techniques: x, lr: [1, 2], "
            "seed: [" +
            [] {
              std::string seeds;
              for (int k = 0; k < 20000; ++k) seeds += (k ? ", " : "") + std::to_string(k);
              return seeds;
            }() +
            "]}\n";
  }
  workload = parse_workload_yaml(text, "w.yaml");
  ASSERT_FALSE(workload.ok());
  EXPECT_NE(workload.error().message.find("more than 100000 jobs"), std::string::npos)
      << workload.error().to_string();
}

// A workload, profile or calibration path that is a device or a FIFO hung while memory grew.
TEST(WorkloadYaml, ANonRegularOrHugeFileIsRefusedAtOnce) {
  auto workload = load_workload_yaml("/dev/zero");
  ASSERT_FALSE(workload.ok());
  EXPECT_TRUE(ErrorIs(workload.error(), "/dev/zero", 0, "", "not a regular file"));
  const std::string fifo = ::testing::TempDir() + "/saturn_workload_fifo";
  std::remove(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);  // no writer: opening it to read would block
  workload = load_workload_yaml(fifo);
  ASSERT_FALSE(workload.ok());
  EXPECT_TRUE(ErrorIs(workload.error(), fifo, 0, "", "not a regular file"));
  std::remove(fifo.c_str());
  const std::string big = write_temp_file("big.yaml", "");
  ASSERT_EQ(::truncate(big.c_str(), (64 << 20) + 1), 0);
  workload = load_workload_yaml(big);
  ASSERT_FALSE(workload.ok());
  EXPECT_TRUE(ErrorIs(workload.error(), big, 0, "", "larger than 64 MiB"));
}

TEST(WorkloadYaml, MissingFileIsNamed) {
  auto workload = load_workload_yaml("/nonexistent/w.yaml");
  ASSERT_FALSE(workload.ok());
  EXPECT_TRUE(ErrorIs(workload.error(), "/nonexistent/w.yaml", 0, "", "cannot open"));
}

}  // namespace
}  // namespace saturn

namespace saturn {
namespace {

// The worker reads a job as a one-job workload document; loading it gives the same job back.
TEST(JobToJson, RoundTripsAJobWithAbsoluteDataPaths) {
  auto w = parse_workload_yaml(
      "name: sweep\n"
      "defaults: {data: {format: text, path: data/train.txt, seq_len: 64, tokenizer: bpe}}\n"
      "jobs:\n"
      "  - name: g\n    model: gpt2-tiny\n    lr: [1e-3, 3e-4]\n    batch_size: 8\n"
      "    steps: 20\n    warmup_steps: 2\n    grad_clip: 1\n    seed: 5\n"
      "    gpus: [1, 2]\n    techniques: [single, ddp]\n",
      "w.yaml", "/base");
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  const JobSpec& job = w->jobs[1];
  const std::string text = job_to_json(job, w->name, "/base").dump();
  auto back = parse_workload_yaml(text, "job.json", "/elsewhere");
  ASSERT_TRUE(back.ok()) << back.error().to_string() << "\n" << text;
  ASSERT_EQ(back->jobs.size(), 1u);
  const JobSpec& b = back->jobs[0];
  EXPECT_EQ(b.name, job.name);
  EXPECT_EQ(b.model, "gpt2-tiny");
  EXPECT_DOUBLE_EQ(b.lr, 3e-4);
  EXPECT_EQ(b.steps, 20);
  EXPECT_EQ(b.seed, 5u);
  EXPECT_DOUBLE_EQ(b.grad_clip, 1);
  EXPECT_EQ(b.data.path, "/base/data/train.txt");
  EXPECT_EQ(b.data.tokenizer, "/base/bpe");
  EXPECT_EQ(b.data.seq_len, 64);
  EXPECT_EQ(b.gpus, (std::vector<int>{1, 2}));
  EXPECT_EQ(back->name, "sweep");
}

}  // namespace
}  // namespace saturn
