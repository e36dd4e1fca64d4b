// Language and synthetic-image data sources; see data_source.h.
#include "train/data_source.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

namespace saturn::worker {
namespace {

class LanguageSource final : public DataSource {
 public:
  LanguageSource(TokenData data, std::uint64_t seed, torch::Device device)
      : data_(std::move(data)), order_(data_.train_samples(), seed), device_(device) {}

  std::int64_t train_samples() const override { return data_.train_samples(); }
  std::int64_t eval_samples() const override { return data_.eval_samples(); }

  Batch train_batch(const std::vector<std::int64_t>& positions) override {
    return assemble(static_cast<std::int64_t>(positions.size()),
                    [&](std::int64_t i, std::int32_t* out) {
                      data_.train_sample(order_.at(positions[static_cast<std::size_t>(i)]), out);
                    });
  }

  Batch eval_batch(std::int64_t first, std::int64_t count) override {
    return assemble(count,
                    [&](std::int64_t i, std::int32_t* out) { data_.eval_sample(first + i, out); });
  }

 private:
  template <typename Fill>
  Batch assemble(std::int64_t n, Fill fill) {
    const std::int64_t t = data_.seq_len();
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n * (t + 1)));
    for (std::int64_t i = 0; i < n; ++i) fill(i, ids.data() + i * (t + 1));
    torch::Tensor all = torch::from_blob(ids.data(), {n, t + 1}, torch::kInt).to(torch::kLong);
    if (device_.is_cuda()) all = all.pin_memory().to(device_, /*non_blocking=*/true);
    Batch b;
    b.input = all.narrow(1, 0, t);
    b.target = all.narrow(1, 1, t);
    b.samples = n;
    b.tokens = n * t;
    return b;
  }

  TokenData data_;
  SampleOrder order_;
  torch::Device device_;
};

class SyntheticImageSource final : public DataSource {
 public:
  SyntheticImageSource(std::int64_t samples, int image, int classes, std::uint64_t seed,
                       torch::Device device)
      : samples_(samples), classes_(classes), order_(samples, seed) {
    // Fixed class patterns and noise images, drawn on the CPU from the seed with a generator of
    // their own (the process-wide one may be in use by another rank's thread).
    SplitMix64 rng(seed * 0x9E3779B97F4A7C15ULL + 23);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(rng.next());
    patterns_ = torch::randn({classes, 3, image, image}, gen).to(device);
    noise_ = (torch::randn({kNoise, 3, image, image}, gen) * 0.5).to(device);
  }

  std::int64_t train_samples() const override { return samples_; }
  std::int64_t eval_samples() const override { return std::max<std::int64_t>(1, samples_ / 20); }

  Batch train_batch(const std::vector<std::int64_t>& positions) override {
    std::vector<std::int64_t> index;
    for (std::int64_t p : positions) index.push_back(order_.at(p));
    return assemble(index);
  }

  Batch eval_batch(std::int64_t first, std::int64_t count) override {
    std::vector<std::int64_t> index;
    for (std::int64_t i = 0; i < count; ++i) index.push_back(samples_ + first + i);
    return assemble(index);
  }

 private:
  static constexpr std::int64_t kNoise = 64;

  Batch assemble(const std::vector<std::int64_t>& index) {
    const auto n = static_cast<std::int64_t>(index.size());
    std::vector<std::int64_t> labels, noise;
    for (std::int64_t i : index) {
      SplitMix64 h(static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ULL + 5);
      labels.push_back(static_cast<std::int64_t>(h.below(static_cast<std::uint64_t>(classes_))));
      noise.push_back(static_cast<std::int64_t>(h.below(kNoise)));
    }
    const auto device = patterns_.device();
    const torch::Tensor y = torch::tensor(labels, torch::kLong).to(device);
    const torch::Tensor z = torch::tensor(noise, torch::kLong).to(device);
    Batch b;
    b.input = patterns_.index_select(0, y) + noise_.index_select(0, z);  // [n, 3, H, W]
    b.target = y;
    b.samples = n;
    return b;
  }

  std::int64_t samples_;
  int classes_;
  SampleOrder order_;
  torch::Tensor patterns_, noise_;
};

}  // namespace

Result<std::unique_ptr<DataSource>> make_data_source(const JobSpec& job,
                                                     const std::string& base_dir,
                                                     const ModelArchitecture& architecture,
                                                     int vocab, torch::Device device) {
  const std::string& format = job.data.format;
  const bool language = architecture.context > 0;
  if (language) {
    if (format != "text" && format != "tokens" && format != "synthetic-text") {
      return Error{"", 0, "data.format",
                   fmt::format("{} is a language model; data format \"{}\" does not suit it",
                               architecture.name, format)};
    }
    auto data = TokenData::load(job, base_dir, vocab);
    if (!data) return data.error();
    return std::unique_ptr<DataSource>(
        std::make_unique<LanguageSource>(std::move(*data), job.seed, device));
  }
  if (format != "synthetic-images") {
    return Error{"", 0, "data.format",
                 fmt::format("{} is an image model; it trains on synthetic-images data (got "
                             "\"{}\")",
                             architecture.name, format)};
  }
  const int image = job.data.image_size > 0 ? job.data.image_size : architecture.image_size;
  return std::unique_ptr<DataSource>(std::make_unique<SyntheticImageSource>(
      job.data.samples, image, architecture.classes, job.seed, device));
}

}  // namespace saturn::worker
