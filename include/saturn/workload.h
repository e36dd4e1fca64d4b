// A workload: the training jobs a user wants run, as written in workload YAML. A list value in
// any hyper-parameter expands into a grid: one job per combination, named after the values that
// vary, each value as written in the YAML ("gpt2-lr1e-5-bs16"). `gpus` and `techniques` are
// lists by design (the options the planner may choose from) and never expand.
//
// YAML (docs/formats.md#workload):
//   name: lm-sweep
//   jobs:
//     - name: gpt2
//       model: gpt2-xl
//       data: {name: wikitext-2, path: data/wikitext-2/train.txt, format: text, seq_len: 1024}
//       optimizer: adamw
//       lr: [1.0e-5, 1.0e-4, 1.0e-3]
//       batch_size: [16, 32]
//       epochs: 10
//       gpus: [1, 2, 4, 8]
//       techniques: [ddp, fsdp, gpipe, offload]
//
// The profiler, simulator and executor read the expanded jobs; none of them sees a grid.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/error.h"
#include "saturn/pretrained.h"

namespace saturn {

// Where a job's training data comes from.
struct DataSpec {
  std::string name;          // e.g. "wikitext-2"; informational
  std::string path;          // file or directory, relative to the workload file; empty: synthetic
  std::string format;        // "text" | "tokens" | "synthetic-text" | "synthetic-images"
  int seq_len = 0;           // tokens per sample (text and token formats), > 0 for those
  int image_size = 0;        // pixels per side (image formats)
  std::int64_t samples = 0;  // samples per epoch; 0: derived from the data at run time
  // Text only: "bytes" (or empty) — one token per byte, 256 symbols; or a directory, relative to
  // the workload file, holding a GPT-2 byte-level BPE vocabulary (vocab.json, merges.txt).
  std::string tokenizer;

  // Tokens in the vocabulary the data uses: 256 for byte-level text, 0 when it is the model's
  // own (BPE directories, token files) or the data is images.
  int byte_level_vocab() const {
    return format == "text" && (tokenizer.empty() || tokenizer == "bytes") ? 256 : 0;
  }
};

// Where a value was written in the workload file, so that checks made after loading (e.g. by
// the estimator: an unknown model) can point at it.
struct SourceRef {
  std::string field;  // "jobs[1].model", "defaults.data.samples", "jobs[0].lr[2]"
  int line = 0;       // 1-based line in the workload file; 0 when unknown
};

// One training job after grid expansion.
struct JobSpec {
  std::string name;   // unique, safe for paths: [A-Za-z0-9._-]
  // Model zoo name, e.g. "gpt2-xl", "vit-g-14", "resnet-200"; with `init` from a Hugging Face
  // directory it may be left out (the zoo name of the config's shape, or the directory's name).
  std::string model;
  // Pretrained weights to start from (docs/formats.md#init); empty: a new model from `seed`.
  InitSpec init;
  // What the worker builds: the zoo entry `model` names, or the architecture init's config
  // describes (the loader sets it; jobs built in code may leave it empty, see
  // job_architecture).
  ModelArchitecture architecture;
  DataSpec data;
  std::string optimizer;  // "adamw" | "sgd"
  double lr = 0;          // peak learning rate, > 0
  double weight_decay = 0;
  double momentum = 0;  // SGD only
  int warmup_steps = 0;
  double grad_clip = 0;  // max global grad norm; 0: no clipping
  int grad_accum = 1;    // micro-steps per optimizer step
  int batch_size = 0;    // global samples per optimizer step, > 0
  double epochs = 0;     // exactly one of epochs and steps is > 0
  std::int64_t steps = 0;
  int eval_every = 0;  // steps between evaluations; 0: only at the end
  std::uint64_t seed = 0;
  std::vector<int> gpus;                // GPU counts to consider, ascending, unique, > 0
  std::vector<std::string> techniques;  // techniques to consider, unique
  // The grid values that made this job, e.g. {"lr": "1e-05", "batch_size": "16"}.
  std::map<std::string, std::string> grid;
  // Where the job and each of its keys ("model", "data.seq_len") were written. Keys taken from
  // `defaults` point there; empty for jobs built in code.
  SourceRef origin;
  std::map<std::string, SourceRef> key_origins;
};

struct Workload {
  std::string name;
  std::string source;    // the file it was read from ("<string>" when parsed from text)
  std::string base_dir;  // directory of the workload file; data paths are relative to it
  std::vector<JobSpec> jobs;
};

Result<Workload> parse_workload_yaml(std::string_view text, std::string_view source = "<string>",
                                     std::string_view base_dir = ".");
Result<Workload> load_workload_yaml(const std::string& path);

// The job's architecture: `architecture` when the loader set it, else the zoo's `model`.
Result<ModelArchitecture> job_architecture(const JobSpec& job);

// The vocabulary the job's model is built with, given the data's tokenizer's (`data_vocab`, 0
// when the data brings no tokenizer of its own): a new model takes the data's; a pretrained one
// keeps its own unless the data's is larger, which is an error (field "init.vocab") unless
// init.vocab is "resize". 0 for image models.
Result<int> job_model_vocab(const JobSpec& job, const ModelArchitecture& architecture,
                            int data_vocab);

// One job as a workload document of its own (JSON, which the YAML loader reads too), with no
// grid and no defaults left and its data paths made absolute from `base_dir`: what the
// orchestrator hands a worker (docs/worker-protocol.md). Loading it gives back the same job.
nlohmann::json job_to_json(const JobSpec& job, const std::string& workload_name,
                           const std::string& base_dir);

}  // namespace saturn
