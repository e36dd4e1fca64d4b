// The worker protocol's event lines and exit codes.
#include <gtest/gtest.h>

#include "saturn/worker_protocol.h"

namespace saturn::protocol {
namespace {

TEST(WorkerProtocol, EventLinesRoundTripWithTheEventFirst) {
  const std::string line = event_line(kStep, {{"step", 3}, {"loss", 2.5}});
  EXPECT_EQ(line.rfind("{\"event\":\"step\"", 0), 0u) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = parse_event_line(line);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)["step"], 3);
  EXPECT_FALSE(parse_event_line("hello").ok());
  EXPECT_FALSE(parse_event_line("[1]").ok());
  EXPECT_FALSE(parse_event_line("{\"step\": 1}").ok());
  EXPECT_EQ(exit_code_for(kErrorOom), kExitOutOfMemory);
  EXPECT_EQ(exit_code_for(kErrorData), kExitData);
  EXPECT_EQ(exit_code_for(kErrorConfig), kExitConfig);
  EXPECT_EQ(exit_code_for("anything"), kExitInternal);
}

}  // namespace
}  // namespace saturn::protocol
