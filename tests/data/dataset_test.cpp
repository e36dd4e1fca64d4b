// Token data and sample order: token files, text through a tokenizer, synthetic tokens, the
// train/eval split, permutations that are the same everywhere, batch positions that partition a
// step, and bad data as errors naming the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "saturn/dataset.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

JobSpec job(const std::string& format, const std::string& path, int seq_len,
            std::int64_t samples = 0) {
  JobSpec j;
  j.name = "j";
  j.data.format = format;
  j.data.path = path;
  j.data.seq_len = seq_len;
  j.data.samples = samples;
  j.seed = 7;
  return j;
}

fs::path temp_dir() {
  const fs::path dir = fs::path(::testing::TempDir()) / "saturn_dataset";
  fs::create_directories(dir);
  return dir;
}

TEST(SplitMix64, IsTheReferenceGenerator) {
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xE220A8397B1DCDAFULL);  // splitmix64's published first output
  SplitMix64 r(42);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(r.below(7), 7u);
}

TEST(TokenData, ReadsUint16TokenFilesAndSplitsOffEvaluation) {
  const fs::path file = temp_dir() / "t.bin";
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 401; ++i) {  // 100 samples of 4 + 1 tokens
      const std::uint16_t id = static_cast<std::uint16_t>(i % 300);
      out.put(static_cast<char>(id & 0xFF)).put(static_cast<char>(id >> 8));
    }
  }
  auto data = TokenData::load(job("tokens", "t.bin", 4), temp_dir().string(), 512);
  ASSERT_TRUE(data.ok()) << data.error().to_string();
  EXPECT_EQ(data->tokens(), 401);
  EXPECT_EQ(data->eval_samples(), 5);
  EXPECT_EQ(data->train_samples(), 95);
  std::int32_t s[5];
  data->train_sample(2, s);
  EXPECT_EQ(std::vector<std::int32_t>(s, s + 5), (std::vector<std::int32_t>{8, 9, 10, 11, 12}));
  data->eval_sample(0, s);
  EXPECT_EQ(s[0], 380 % 300);
  EXPECT_EQ(s[4], (384 % 300));
  // A token the model cannot embed is an error naming the file.
  auto small = TokenData::load(job("tokens", "t.bin", 4), temp_dir().string(), 256);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().file, file.string());
  EXPECT_NE(small.error().message.find("outside the model's vocabulary"), std::string::npos);
}

TEST(TokenData, TokenisesTextAndGeneratesSyntheticTokens) {
  { std::ofstream(temp_dir() / "a.txt") << std::string(100, 'a') + "bc"; }
  auto text = TokenData::load(job("text", "a.txt", 10), temp_dir().string(), 256);
  ASSERT_TRUE(text.ok()) << text.error().to_string();
  EXPECT_EQ(text->tokens(), 102);
  EXPECT_EQ(text->train_samples() + text->eval_samples(), 10);
  std::int32_t s[11];
  text->eval_sample(0, s);
  EXPECT_EQ(s[10], 'b');  // the last of tokens [90, 101)

  auto a = TokenData::load(job("synthetic-text", "", 8, 40), ".", 100);
  auto b = TokenData::load(job("synthetic-text", "", 8, 40), ".", 100);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->train_samples(), 40);
  EXPECT_EQ(a->eval_samples(), 2);
  std::int32_t x[9], y[9];
  a->train_sample(39, x);
  b->train_sample(39, y);
  EXPECT_EQ(std::vector<std::int32_t>(x, x + 9), std::vector<std::int32_t>(y, y + 9));
  for (std::int32_t id : x) EXPECT_LT(id, 100);
}

TEST(TokenData, MissingShortOrOddDataIsAnError) {
  auto missing = TokenData::load(job("text", "nope.txt", 8), temp_dir().string(), 256);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().field, "data.path");
  EXPECT_EQ(missing.error().file, (temp_dir() / "nope.txt").string());
  { std::ofstream(temp_dir() / "short.txt") << "tiny"; }
  EXPECT_FALSE(TokenData::load(job("text", "short.txt", 8), temp_dir().string(), 256).ok());
  { std::ofstream(temp_dir() / "odd.bin", std::ios::binary) << "abc"; }
  auto odd = TokenData::load(job("tokens", "odd.bin", 1), temp_dir().string(), 256);
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message.find("even size"), std::string::npos);
  JobSpec bpe = job("text", "a.txt", 8);
  bpe.data.tokenizer = "no-such-vocabulary";
  auto tok = TokenData::load(bpe, temp_dir().string(), 256);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.error().file.find("vocab.json"), std::string::npos);
}

TEST(SampleOrder, EveryEpochIsAFreshDeterministicPermutation) {
  const SampleOrder order(50, 3);
  std::vector<std::int64_t> e0, e1;
  for (int p = 0; p < 50; ++p) e0.push_back(order.at(p));
  for (int p = 50; p < 100; ++p) e1.push_back(order.at(p));
  std::vector<std::int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  for (auto* e : {&e0, &e1}) {
    std::vector<std::int64_t> sorted = *e;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, all);
  }
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, all);
  const SampleOrder again(50, 3);
  EXPECT_EQ(again.at(73), order.at(73));  // random access, any order of calls
  EXPECT_EQ(again.at(7), e0[7]);
}

TEST(BatchPositions, PartitionAStepAcrossMicroStepsAndRanks) {
  std::set<std::int64_t> seen;
  for (int micro = 0; micro < 2; ++micro) {
    for (int rank = 0; rank < 4; ++rank) {
      for (std::int64_t p : batch_positions(3, 16, 2, micro, 4, rank)) {
        EXPECT_TRUE(seen.insert(p).second);
      }
    }
  }
  EXPECT_EQ(seen.size(), 16u);
  EXPECT_EQ(*seen.begin(), 48);
  EXPECT_EQ(*seen.rbegin(), 63);
  EXPECT_EQ(batch_positions(0, 8, 1, 0, 2, 1), (std::vector<std::int64_t>{4, 5, 6, 7}));
}

}  // namespace
}  // namespace saturn
