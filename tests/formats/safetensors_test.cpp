// safetensors: a round trip of several dtypes and metadata, the exact bytes of a tiny file (the
// layout the format's specification gives), and damaged files as errors naming the file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "saturn/atomic_file.h"
#include "saturn/safetensors.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

fs::path temp(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / "saturn_safetensors";
  fs::create_directories(dir);
  return dir / name;
}

TEST(Safetensors, RoundTripsTensorsAndMetadata) {
  const std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  const std::vector<std::int64_t> step = {42};
  const std::vector<std::uint8_t> rng = {1, 2, 3};
  const std::string path = temp("a.safetensors").string();
  ASSERT_TRUE(write_safetensors(path,
                                {{"w", "F32", {2, 3}, w.data(), w.size() * 4},
                                 {"step", "I64", {}, step.data(), 8},
                                 {"rng", "U8", {3}, rng.data(), 3}},
                                {{"format", "pt"}, {"job", "gpt"}})
                  .ok());
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  ASSERT_EQ(f->tensors().size(), 3u);
  const auto* e = f->find("w");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dtype, "F32");
  EXPECT_EQ(e->shape, (std::vector<std::int64_t>{2, 3}));
  std::vector<float> back(6);
  std::memcpy(back.data(), e->data, e->bytes);
  EXPECT_EQ(back, w);
  EXPECT_EQ(f->find("step")->shape.size(), 0u);
  EXPECT_EQ(f->metadata().at("job"), "gpt");
  EXPECT_EQ(f->find("missing"), nullptr);
  // The header is padded to a multiple of 8 bytes.
  std::ifstream in(path, std::ios::binary);
  unsigned char size[8];
  in.read(reinterpret_cast<char*>(size), 8);
  EXPECT_EQ(size[0] % 8, 0);
}

TEST(Safetensors, ExactBytesOfATinyFile) {
  const std::vector<std::uint16_t> x = {0x3F80, 0x4000};  // bf16 1.0, 2.0
  const std::string path = temp("b.safetensors").string();
  ASSERT_TRUE(write_safetensors(path, {{"x", "BF16", {2}, x.data(), 4}}).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string json = R"({"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})";
  const std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  std::string expected(8, '\0');
  expected[0] = static_cast<char>(padded.size());
  expected += padded;
  expected += std::string("\x80\x3f\x00\x40", 4);
  EXPECT_EQ(bytes, expected);
}

TEST(Safetensors, DamagedFilesAreErrors) {
  const std::string path = temp("bad.safetensors").string();
  const auto check = [&](const std::string& content, const std::string& needle) {
    ASSERT_TRUE(write_file_atomically(path, content).ok());
    auto f = SafetensorsFile::open(path);
    ASSERT_FALSE(f.ok()) << needle;
    EXPECT_EQ(f.error().file, path);
    EXPECT_NE(f.error().to_string().find(needle), std::string::npos) << f.error().to_string();
  };
  const auto with_header = [](const std::string& json, const std::string& data) {
    std::string out(8, '\0');
    out[0] = static_cast<char>(json.size());
    return out + json + data;
  };
  check("abc", "too short");
  check(std::string("\xff\x00\x00\x00\x00\x00\x00\x00", 8) + "{}", "does not fit");
  check(with_header("{not json", ""), "not valid JSON");
  check(with_header(R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", "a"),
        "unknown dtype");
  check(with_header(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd"),
        "outside the data");
  check(with_header(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd"),
        "do not match");
  check(with_header(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                    R"("y":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                    "abc"),
        "overlap");
  EXPECT_FALSE(SafetensorsFile::open(temp("none.safetensors").string()).ok());
  const float v = 1;
  EXPECT_FALSE(write_safetensors(path, {{"v", "F32", {2}, &v, 4}}).ok());  // wrong byte count
}

TEST(AtomicFile, LeavesNothingBehindWithoutCommit) {
  const fs::path path = temp("atomic.txt");
  fs::remove(path);
  {
    auto f = AtomicFile::create(path.string());
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->write("partial").ok());
  }
  EXPECT_FALSE(fs::exists(path));
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    EXPECT_EQ(entry.path().string().find("atomic.txt.tmp"), std::string::npos);
  }
  ASSERT_TRUE(write_file_atomically(path.string(), "whole").ok());
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "whole");
  EXPECT_FALSE(write_file_atomically((path / "no-dir" / "x").string(), "x").ok());
}

}  // namespace
}  // namespace saturn
