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

// Events read into their typed fields; a known field of the wrong type is an error naming it.
TEST(WorkerProtocol, EventsAreReadIntoTypedFields) {
  auto step = read_event(*parse_event_line(R"({"event":"step","step":7,"loss":1.5})"));
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->name, kStep);
  EXPECT_EQ(step->step, 7);
  EXPECT_EQ(step->loss, 1.5);
  auto started = read_event(*parse_event_line(R"({"event":"started","step":3,"total_steps":9})"));
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->total_steps, 9);
  auto unknown_loss = read_event(*parse_event_line(R"({"event":"eval","step":2,"loss":null})"));
  ASSERT_TRUE(unknown_loss.ok());
  EXPECT_FALSE(unknown_loss->loss.has_value());
  auto oom = read_event(*parse_event_line(R"({"event":"error","kind":"oom","message":"x"})"));
  ASSERT_TRUE(oom.ok());
  EXPECT_EQ(oom->failure, FailureKind::kOom);
  EXPECT_FALSE(deterministic(oom->failure));
  EXPECT_TRUE(deterministic(failure_kind("config")));
  EXPECT_EQ(failure_kind("something new"), FailureKind::kInternal);
  auto bad = read_event(*parse_event_line(R"({"event":"step","step":"seven"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "step");
}

TEST(WorkerProtocol, SearchResultsAreCheckedAsTheyAreRead) {
  auto ok = read_search_result(*parse_event_line(
      R"({"event":"search_result","feasible":true,"step_s":0.5,"startup_s":-1,"params":{"a":1}})"));
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->step_s, 0.5);
  EXPECT_EQ(ok->startup_s, 0);  // negative seconds clamp to 0
  EXPECT_EQ(ok->params["a"], 1);
  EXPECT_FALSE(read_search_result(
                   *parse_event_line(R"({"event":"search_result","feasible":true,"step_s":0})"))
                   .ok());
  auto wrong = read_search_result(
      *parse_event_line(R"({"event":"search_result","feasible":"yes","step_s":1})"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().field, "feasible");
  EXPECT_TRUE(read_search_result(
                  *parse_event_line(R"({"event":"search_result","feasible":false,"reason":"r"})"))
                  .ok());
}

// What a worker writes is what the orchestrator reads: one writer and one reader per event.
TEST(WorkerProtocol, WrittenEventsReadBack) {
  const Event step{.name = std::string(kStep), .step = 12, .loss = 2.5, .fields = {{"lr", 0.1}}};
  const std::string line = write_event(step);
  EXPECT_EQ(line.rfind("{\"event\":\"step\"", 0), 0u) << line;
  auto back = read_event(*parse_event_line(line));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->name, kStep);
  EXPECT_EQ(back->step, 12);
  EXPECT_EQ(back->loss, 2.5);
  EXPECT_EQ(back->fields["lr"], 0.1);
  const Event error{.name = std::string(kError),
                    .failure = FailureKind::kData,
                    .message = "no such file",
                    .fields = {{"rank", 1}, {"kind", "overridden by the member"}}};
  auto e = read_event(*parse_event_line(write_event(error)));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->failure, FailureKind::kData);
  EXPECT_EQ(e->message, "no such file");
  EXPECT_EQ(e->fields["rank"], 1);
  const Event rejected{.name = std::string(kCheckpointRejected),
                       .path = "c/step-4",
                       .reason = "damaged",
                       .resumed_from = "c/step-2"};
  auto r = read_event(*parse_event_line(write_event(rejected)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "c/step-4");
  EXPECT_EQ(r->resumed_from, "c/step-2");
  SearchResult found;
  found.feasible = true;
  found.step_s = 0.25;
  found.startup_s = 1.5;
  found.total_steps = 40;
  found.params = {{"micro_batch", 8}};
  auto sr = read_search_result(*parse_event_line(write_search_result(found, {{"tried", {1}}})));
  ASSERT_TRUE(sr.ok()) << sr.error().to_string();
  EXPECT_EQ(sr->step_s, 0.25);
  EXPECT_EQ(sr->startup_s, 1.5);
  EXPECT_EQ(sr->total_steps, 40);
  EXPECT_EQ(sr->params["micro_batch"], 8);
  SearchResult none;
  none.reason = "out of memory at every setting tried";
  auto nr = read_search_result(*parse_event_line(write_search_result(none)));
  ASSERT_TRUE(nr.ok());
  EXPECT_FALSE(nr->feasible);
  EXPECT_EQ(nr->reason, none.reason);
}

}  // namespace
}  // namespace saturn::protocol
