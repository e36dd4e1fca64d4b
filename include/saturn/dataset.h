// Training data for language models, and the order samples are visited in. Pure C++ (no
// libtorch): the worker turns the ids into tensors.
//
// TokenData holds a job's whole token stream in memory — text through its tokenizer, a file of
// uint16 token ids (nanoGPT's .bin convention: little-endian, no header), or synthetic tokens —
// and cuts it into samples of seq_len + 1 tokens (inputs and next-token targets) at a stride of
// seq_len. The last 5% of the samples (at least one) are the evaluation split, the rest the
// training split.
//
// SampleOrder visits the training split epoch by epoch, each epoch in a fresh pseudo-random
// permutation drawn from the job's seed with a generator defined here (the same order on every
// platform and library version). A position — how many samples have been consumed in all — is
// all a checkpoint needs to resume exactly where a run stopped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "saturn/error.h"
#include "saturn/tokenizer.h"
#include "saturn/workload.h"

namespace saturn {

class TokenData {
 public:
  // Loads `job`'s data (formats text, tokens, synthetic-text; paths relative to `base_dir`).
  // `vocab` is the model's vocabulary: token files and synthetic tokens must stay below it.
  // Errors: a missing or unreadable file, an odd-sized token file, a token out of range, data
  // too short for two samples — each naming the file and the field.
  static Result<TokenData> load(const JobSpec& job, const std::string& base_dir, int vocab);

  int seq_len() const { return seq_len_; }
  int vocab() const { return vocab_; }
  std::int64_t train_samples() const { return train_samples_; }
  std::int64_t eval_samples() const { return eval_samples_; }
  std::int64_t tokens() const { return static_cast<std::int64_t>(ids_.size()); }

  // Writes the seq_len + 1 ids of training (or evaluation) sample `index` to `out`.
  void train_sample(std::int64_t index, std::int32_t* out) const;
  void eval_sample(std::int64_t index, std::int32_t* out) const;

 private:
  std::vector<std::int32_t> ids_;
  int seq_len_ = 0;
  int vocab_ = 0;
  std::int64_t train_samples_ = 0;
  std::int64_t eval_samples_ = 0;
};

// The tokenizer of a text job ("bytes" unless data.tokenizer names a BPE directory), nullptr for
// other formats.
Result<std::unique_ptr<Tokenizer>> job_tokenizer(const JobSpec& job, const std::string& base_dir);

class SampleOrder {
 public:
  SampleOrder(std::int64_t samples, std::uint64_t seed);  // samples > 0

  // The training sample at global position `position` (>= 0): epoch position / samples, in
  // that epoch's permutation.
  std::int64_t at(std::int64_t position) const;
  std::int64_t samples() const { return samples_; }

 private:
  const std::vector<std::int64_t>& permutation(std::int64_t epoch) const;

  std::int64_t samples_;
  std::uint64_t seed_;
  mutable std::int64_t cached_epoch_ = -1;
  mutable std::vector<std::int64_t> cached_;
};

// The global positions rank `rank` of `world` trains on in micro-step `micro` (of `accum`) of
// optimizer step `step`: each step takes `batch` consecutive positions, split evenly into micro
// steps and then ranks. `batch` must be divisible by accum x world.
std::vector<std::int64_t> batch_positions(std::int64_t step, int batch, int accum, int micro,
                                          int world, int rank);

// A deterministic 64-bit generator (splitmix64), for orders and synthetic data that must be the
// same everywhere.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, bound), bound > 0 (Lemire's multiply-shift with rejection).
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

}  // namespace saturn
