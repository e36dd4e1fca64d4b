// Plan JSON: the exact keys written, the round trip, mean completion time, and located errors.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "format_test_util.h"
#include "saturn/plan.h"

namespace saturn {
namespace {

using testing_formats::ErrorIs;
using testing_formats::write_temp_file;

Plan sample_plan() {
  Plan plan;
  plan.makespan_s = 5400.25;
  plan.lower_bound_s = 5000;
  plan.gap = 5400.25 / 5000 - 1;
  plan.solver = {"heuristic", "feasible", 0.0123, ""};
  plan.assignments = {{"t0", "fsdp", 1, "n0", {0, 1}, 0, 5400.25},
                      {"t1", "ddp", 0, "n1", {2, 3, 5}, 100.5, 1000.125}};
  return plan;
}

TEST(PlanJson, WritesExactlyTheDocumentedKeys) {
  const nlohmann::json j = to_json(sample_plan());
  EXPECT_EQ(j.size(), 5u);
  for (const char* key : {"makespan_s", "lower_bound_s", "gap", "solver", "assignments"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["solver"],
            nlohmann::json({{"name", "heuristic"}, {"status", "feasible"}, {"solve_s", 0.0123}}));
  const nlohmann::json& a = j["assignments"][1];
  EXPECT_EQ(a.size(), 7u);
  EXPECT_EQ(a["task"], "t1");
  EXPECT_EQ(a["technique"], "ddp");
  EXPECT_EQ(a["config"], 0);
  EXPECT_EQ(a["node"], "n1");
  EXPECT_EQ(a["gpus"], nlohmann::json({2, 3, 5}));
  EXPECT_EQ(a["start_s"], 100.5);
  EXPECT_EQ(a["end_s"], 1000.125);
}

TEST(PlanJson, RoundTrip) {
  const Plan plan = sample_plan();
  const std::string path = write_temp_file("plan.json", to_json(plan).dump(2));
  auto back = load_plan_json(path);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->makespan_s, plan.makespan_s);
  EXPECT_EQ(back->lower_bound_s, plan.lower_bound_s);
  EXPECT_EQ(back->gap, plan.gap);  // doubles are written so that they read back exactly
  EXPECT_EQ(back->solver.name, plan.solver.name);
  EXPECT_EQ(back->solver.status, plan.solver.status);
  EXPECT_EQ(back->solver.solve_s, plan.solver.solve_s);
  ASSERT_EQ(back->assignments.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const Assignment& x = back->assignments[i];
    const Assignment& y = plan.assignments[i];
    EXPECT_EQ(x.task, y.task);
    EXPECT_EQ(x.technique, y.technique);
    EXPECT_EQ(x.config, y.config);
    EXPECT_EQ(x.node, y.node);
    EXPECT_EQ(x.gpus, y.gpus);
    EXPECT_EQ(x.start_s, y.start_s);
    EXPECT_EQ(x.end_s, y.end_s);
  }
  EXPECT_EQ(to_json(*back), to_json(plan));
}

TEST(PlanJson, SolverWarningIsWrittenOnlyWhenThereIsOneAndReadBack) {
  Plan plan = sample_plan();
  plan.solver.warning = "CBC: crashed (Segmentation fault); the plan is the heuristic's";
  const nlohmann::json j = to_json(plan);
  EXPECT_EQ(j["solver"]["warning"], plan.solver.warning);
  auto back = parse_plan_json(j.dump());
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->solver.warning, plan.solver.warning);
  nlohmann::json bad = j;
  bad["solver"]["warning"] = 3;
  EXPECT_FALSE(parse_plan_json(bad.dump()).ok());
}

TEST(PlanJson, InfiniteGapIsNull) {
  Plan plan = sample_plan();
  plan.lower_bound_s = 0;
  plan.gap = HUGE_VAL;
  const nlohmann::json j = to_json(plan);
  EXPECT_TRUE(j["gap"].is_null());
  auto back = parse_plan_json(j.dump());
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_TRUE(std::isinf(back->gap));
}

TEST(PlanJson, MeanCompletion) {
  EXPECT_DOUBLE_EQ(sample_plan().mean_completion_s(), (5400.25 + 1000.125) / 2);
  EXPECT_EQ(Plan{}.mean_completion_s(), 0);
  auto empty = parse_plan_json(to_json(Plan{}).dump());
  ASSERT_TRUE(empty.ok()) << empty.error().to_string();
  EXPECT_TRUE(empty->assignments.empty());
}

// Line numbers in the cases below refer to this text.
const std::string kPlan = R"({
  "makespan_s": 10, "lower_bound_s": 8, "gap": 0.25,
  "solver": {"name": "milp", "status": "optimal",
             "solve_s": 1.5},
  "assignments": [
    {"task": "a", "technique": "ddp", "config": 0, "node": "n0", "gpus": [0, 1],
     "start_s": 0, "end_s": 10},
    {"task": "b", "technique": "fsdp", "config": 2, "node": "n0", "gpus": [2],
     "start_s": 1, "end_s": 9}
  ]
}
)";

std::string edit(const std::string& from, const std::string& to) {
  std::string text = kPlan;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(PlanJson, ParsesTheSample) {
  auto plan = parse_plan_json(kPlan);
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  EXPECT_EQ(plan->solver.name, "milp");
  EXPECT_EQ(plan->assignments[1].config, 2);
  EXPECT_DOUBLE_EQ(plan->mean_completion_s(), 9.5);
}

struct BadPlan {
  const char* name;
  std::string text;
  int line;
  const char* field;
  const char* message;
};

void PrintTo(const BadPlan& c, std::ostream* os) {
  *os << c.name;
}

class PlanJsonRejects : public ::testing::TestWithParam<BadPlan> {};

TEST_P(PlanJsonRejects, WithFileLineAndField) {
  const BadPlan& c = GetParam();
  const std::string path = write_temp_file("plan.json", c.text);
  auto plan = load_plan_json(path);
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(ErrorIs(plan.error(), path, c.line, c.field, c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PlanJsonRejects,
    ::testing::Values(
        BadPlan{"MakespanString", edit("10,", "\"10\","), 2, "makespan_s", "expected a number"},
        BadPlan{"SolveNegative", edit("1.5", "-1.5"), 4, "solver.solve_s", "must be >= 0"},
        BadPlan{"SolverUnknownKey", edit("\"optimal\",", "\"optimal\", \"seed\": 1,"), 3,
                "solver.seed", "unknown key"},
        BadPlan{"SolverMissingStatus", edit("\"status\": \"optimal\",", ""), 3, "solver.status",
                "missing required key"},
        BadPlan{"ConfigNegative", edit("\"config\": 2", "\"config\": -2"), 8,
                "assignments[1].config", "expected an integer in [0,"},
        BadPlan{"GpusNotList", edit("[2]", "2"), 8, "assignments[1].gpus", "expected an array"},
        BadPlan{"GpusEmpty", edit("[2]", "[]"), 8, "assignments[1].gpus", "must not be empty"},
        BadPlan{"GpusUnsorted", edit("[0, 1]", "[1, 0]"), 6, "assignments[0].gpus[1]", "ascending"},
        BadPlan{"GpuFraction", edit("[0, 1]", "[0, 1.5]"), 6, "assignments[0].gpus[1]",
                "expected an integer"},
        BadPlan{"EndBeforeStart", edit("\"end_s\": 9", "\"end_s\": 0.5"), 9, "assignments[1].end_s",
                "before it starts"},
        BadPlan{"TaskMissing", edit("\"task\": \"b\", ", ""), 8, "assignments[1].task",
                "missing required key"},
        BadPlan{"UnknownAssignmentKey", edit("\"end_s\": 10", "\"end_s\": 10, \"x\": 1"), 7,
                "assignments[0].x", "unknown key"},
        BadPlan{"UnknownTopKey", edit("\"gap\": 0.25,", "\"gap\": 0.25, \"tasks\": 2,"), 2, "tasks",
                "unknown key"},
        BadPlan{"AssignmentsObject",
                "{\"makespan_s\": 1, \"lower_bound_s\": 1, \"gap\": 0,\n"
                "\"solver\": {\"name\": \"a\", \"status\": \"b\", \"solve_s\": 0},\n"
                "\"assignments\": {}}",
                3, "assignments", "expected an array, got an object"},
        BadPlan{"GapString", edit("0.25", "\"small\""), 2, "gap", "expected a number"},
        BadPlan{"DuplicateKey", edit("\"gap\": 0.25,", "\"gap\": 0.25, \"gap\": 1,"), 2, "gap",
                "appears twice"},
        BadPlan{"NaN", edit("0.25", "NaN"), 2, "", "invalid JSON"}),
    [](const ::testing::TestParamInfo<BadPlan>& info) { return std::string(info.param.name); });

TEST(PlanJson, MissingFileIsNamed) {
  auto plan = load_plan_json("/nonexistent/plan.json");
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(ErrorIs(plan.error(), "/nonexistent/plan.json", 0, "", "cannot open"));
}

}  // namespace
}  // namespace saturn
