// The format helpers every reader and printer shares: names, durations.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "formats/common.h"

namespace saturn::formats {
namespace {

// Durations above ~9e18 s printed as negative garbage (an overflowing llround).
TEST(Hms, PrintsEveryDurationReadably) {
  EXPECT_EQ(hms(0), "0:00:00");
  EXPECT_EQ(hms(3725.4), "1:02:05");
  EXPECT_EQ(hms(-61), "-0:01:01");
  EXPECT_EQ(hms(360000), "100:00:00");
  EXPECT_EQ(hms(1e19), "1e+19 s");
  EXPECT_EQ(hms(-1e300), "-1e+300 s");
  EXPECT_EQ(hms(std::numeric_limits<double>::infinity()), "n/a");
  EXPECT_EQ(hms(std::nan("")), "n/a");
}

TEST(SafeName, IsAFileNameOfItsOwn) {
  for (const char* ok : {"a", "gpt2-lr1e-3", "A.b_c-9", "0x"}) EXPECT_TRUE(is_safe_name(ok)) << ok;
  for (const std::string& bad :
       {std::string(""), std::string("."), std::string(".."), std::string(".a"), std::string("-a"),
        std::string("_a"), std::string("a/b"), std::string("a b"), std::string(129, 'a')}) {
    EXPECT_FALSE(is_safe_name(bad)) << bad;
  }
  EXPECT_TRUE(is_safe_name(std::string(128, 'a')));
}

}  // namespace
}  // namespace saturn::formats
