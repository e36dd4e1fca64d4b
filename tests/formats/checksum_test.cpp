// Checkpoint checksums: XXH3-128 digests as xxh128sum prints them, and checksum files.
#include <gtest/gtest.h>

#include <string>

#include "format_test_util.h"
#include "saturn/checksum.h"

namespace saturn {
namespace {

using testing_formats::ErrorIs;
using testing_formats::write_temp_file;

TEST(Checksum, DigestsAreXxh128sums) {
  // `printf abc | xxh128sum` and `xxh128sum /dev/null` (xxHash 0.8.1).
  EXPECT_EQ(*file_xxh128(write_temp_file("empty", "")), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(*file_xxh128(write_temp_file("abc", "abc")), "06b05ab6733a618578af5f94892f3950");
  Xxh128 pieces;  // the same bytes in pieces
  pieces.update("a", 1);
  pieces.update("bc", 2);
  EXPECT_EQ(pieces.hex(), "06b05ab6733a618578af5f94892f3950");
  // Larger than one read of file_xxh128 (4 MiB).
  const std::string big(9 << 20, 'x');
  Xxh128 whole;
  whole.update(big.data(), big.size());
  EXPECT_EQ(*file_xxh128(write_temp_file("big", big)), whole.hex());
  auto missing = file_xxh128("/nonexistent/file");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(ErrorIs(missing.error(), "/nonexistent/file", 0, "", "cannot open"));
}

TEST(Checksum, ChecksumFilesRoundTripAndBadLinesAreNamed) {
  const std::map<std::string, std::string> digests = {
      {"model.safetensors", "06b05ab6733a618578af5f94892f3950"},
      {"trainer.json", "99aa06d3014798d86001c324468d497f"}};
  const std::string text = format_checksums(digests);
  EXPECT_EQ(text,
            "06b05ab6733a618578af5f94892f3950  model.safetensors\n"
            "99aa06d3014798d86001c324468d497f  trainer.json\n");
  auto back = parse_checksums(text, "c.xxh128");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, digests);
  auto bad = parse_checksums(text + "xyz  other\n", "c.xxh128");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(ErrorIs(bad.error(), "c.xxh128", 3, "", "32 hex digits"));
  bad = parse_checksums(text + "06b05ab6733a618578af5f94892f3950  trainer.json\n", "c.xxh128");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(ErrorIs(bad.error(), "c.xxh128", 3, "", "trainer.json is listed twice"));
}

}  // namespace
}  // namespace saturn
