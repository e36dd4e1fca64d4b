// Token streams, sample orders and batch positions; see saturn/dataset.h.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "formats/common.h"
#include "saturn/dataset.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

Error data_error(const std::string& file, const std::string& field, const std::string& message) {
  return Error{file, 0, field, message};
}

// The file's bytes; errors name the file.
Result<std::string> read_binary(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return data_error(path, "data.path", "no such file (or not a regular file)");
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return data_error(path, "data.path", "cannot read the file");
  return bytes;
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  const fs::path p(path);
  return p.is_absolute() ? path : (fs::path(base_dir) / p).string();
}

}  // namespace

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  while (true) {
    const unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    if (static_cast<std::uint64_t>(m) >= threshold) return static_cast<std::uint64_t>(m >> 64);
  }
}

Result<std::unique_ptr<Tokenizer>> job_tokenizer(const JobSpec& job, const std::string& base_dir) {
  if (job.data.format != "text") return std::unique_ptr<Tokenizer>();
  auto t = make_tokenizer(job.data.tokenizer, base_dir);
  if (!t) {
    Error e = t.error();
    if (e.field.empty()) e.field = "data.tokenizer";
    return e;
  }
  return t;
}

Result<TokenData> TokenData::load(const JobSpec& job, const std::string& base_dir, int vocab) {
  const DataSpec& d = job.data;
  TokenData data;
  data.seq_len_ = d.seq_len;
  data.vocab_ = vocab;
  if (d.seq_len <= 0) return data_error("", "data.seq_len", "must be > 0 for language data");
  if (d.format == "synthetic-text") {
    const std::int64_t train = d.samples;
    const std::int64_t eval = std::max<std::int64_t>(1, train / 20);
    SplitMix64 rng(job.seed * 0x9E3779B97F4A7C15ULL + 11);
    data.ids_.resize(static_cast<std::size_t>((train + eval) * d.seq_len + 1));
    for (std::int32_t& id : data.ids_) id = static_cast<std::int32_t>(rng.below(vocab));
  } else if (d.format == "text") {
    const std::string path = resolve(base_dir, d.path);
    auto text = read_binary(path);
    if (!text) return text.error();
    auto tokenizer = job_tokenizer(job, base_dir);
    if (!tokenizer) return tokenizer.error();
    if ((*tokenizer)->vocab_size() > vocab) {
      return data_error(path, "data.tokenizer",
                        fmt::format("the tokenizer has {} symbols, more than the model's {}",
                                    (*tokenizer)->vocab_size(), vocab));
    }
    data.ids_ = (*tokenizer)->encode(*text);
  } else if (d.format == "tokens") {
    const std::string path = resolve(base_dir, d.path);
    auto bytes = read_binary(path);
    if (!bytes) return bytes.error();
    if (bytes->size() % 2 != 0) {
      return data_error(
          path, "data.path",
          fmt::format("{} bytes: a token file holds uint16 ids (an even size)", bytes->size()));
    }
    data.ids_.resize(bytes->size() / 2);
    for (std::size_t i = 0; i < data.ids_.size(); ++i) {
      const auto lo = static_cast<unsigned char>((*bytes)[2 * i]);
      const auto hi = static_cast<unsigned char>((*bytes)[2 * i + 1]);
      const std::int32_t id = lo | (hi << 8);
      if (id >= vocab) {
        return data_error(path, "data.path",
                          fmt::format("token {} at position {} is outside the model's "
                                      "vocabulary of {}",
                                      id, i, vocab));
      }
      data.ids_[i] = id;
    }
  } else {
    return data_error(
        "", "data.format",
        fmt::format("\"{}\" is not language data (text, tokens, synthetic-text)", d.format));
  }
  const std::int64_t total = (static_cast<std::int64_t>(data.ids_.size()) - 1) / d.seq_len;
  if (total < 2) {
    return data_error(d.path, "data.seq_len",
                      fmt::format("{} tokens make fewer than two samples of {} + 1 tokens (one "
                                  "to train on, one to evaluate)",
                                  data.ids_.size(), d.seq_len));
  }
  data.eval_samples_ = std::max<std::int64_t>(1, total / 20);
  data.train_samples_ = total - data.eval_samples_;
  return data;
}

void TokenData::train_sample(std::int64_t index, std::int32_t* out) const {
  std::memcpy(out, ids_.data() + index * seq_len_, sizeof(std::int32_t) * (seq_len_ + 1));
}

void TokenData::eval_sample(std::int64_t index, std::int32_t* out) const {
  train_sample(train_samples_ + index, out);
}

SampleOrder::SampleOrder(std::int64_t samples, std::uint64_t seed)
    : samples_(samples), seed_(seed) {}

const std::vector<std::int64_t>& SampleOrder::permutation(std::int64_t epoch) const {
  if (epoch != cached_epoch_) {
    cached_.resize(static_cast<std::size_t>(samples_));
    for (std::int64_t i = 0; i < samples_; ++i) cached_[static_cast<std::size_t>(i)] = i;
    // Fisher-Yates with the job's own generator, one stream per epoch.
    SplitMix64 rng(seed_ ^ (0xD1B54A32D192ED03ULL * static_cast<std::uint64_t>(epoch + 1)));
    for (std::int64_t i = samples_ - 1; i > 0; --i) {
      const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
      std::swap(cached_[static_cast<std::size_t>(i)], cached_[static_cast<std::size_t>(j)]);
    }
    cached_epoch_ = epoch;
  }
  return cached_;
}

std::int64_t SampleOrder::at(std::int64_t position) const {
  return permutation(position / samples_)[static_cast<std::size_t>(position % samples_)];
}

std::vector<std::int64_t> batch_positions(std::int64_t step, int batch, int accum, int micro,
                                          int world, int rank) {
  const int per_micro = batch / accum;
  const int per_rank = per_micro / world;
  const std::int64_t first = step * batch + static_cast<std::int64_t>(micro) * per_micro +
                             static_cast<std::int64_t>(rank) * per_rank;
  std::vector<std::int64_t> out(static_cast<std::size_t>(per_rank));
  for (int i = 0; i < per_rank; ++i) out[static_cast<std::size_t>(i)] = first + i;
  return out;
}

}  // namespace saturn
