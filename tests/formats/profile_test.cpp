// Profile-table JSON: values, the fit rule, with_cluster, the JSON round trip, and errors that
// carry the file, the line (found by the locator) and the field path.
#include <string>

#include <gtest/gtest.h>

#include "format_test_util.h"
#include "saturn/gpu_catalog.h"
#include "saturn/profile.h"

namespace saturn {
namespace {

using testing_formats::ErrorIs;
using testing_formats::write_temp_file;

// Line numbers in the cases below refer to this text.
const std::string kTable = R"({
  "name": "demo",
  "cluster": {"nodes": [
    {"name": "n0", "gpus": 8, "gpu_type": "a100-40gb"},
    {"name": "n1", "gpus": 4, "gpu_type": "custom", "gpu_memory_bytes": 2e10}
  ]},
  "tasks": [
    {"name": "t0", "configs": [
      {"technique": "ddp", "gpus": 8, "runtime_s": 100}
    ]},
    {"name": "t1", "configs": [
      {"technique": "fsdp", "gpus": 2, "runtime_s": 50.5, "peak_memory_bytes": 1e10,
       "params": {"shard": true}},
      {"technique": "ddp", "gpus": 4, "gpu_type": "custom",
       "runtime_s": 30}
    ]}
  ]
}
)";

// kTable with the first occurrence of `from` replaced by `to`.
std::string edit(const std::string& from, const std::string& to) {
  std::string text = kTable;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ProfileTable, ParsesValues) {
  auto table = parse_profile_table(kTable, "p.json");
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->cluster.nodes.size(), 2u);
  EXPECT_DOUBLE_EQ(table->cluster.nodes[0].gpu_memory_bytes, find_gpu("a100-40gb")->memory_bytes);
  EXPECT_DOUBLE_EQ(table->cluster.nodes[1].gpu_memory_bytes, 2e10);
  ASSERT_EQ(table->tasks.size(), 2u);
  const Task& t1 = table->tasks[1];
  EXPECT_EQ(t1.name, "t1");
  ASSERT_EQ(t1.configs.size(), 2u);
  EXPECT_EQ(t1.configs[0].technique, "fsdp");
  EXPECT_EQ(t1.configs[0].gpus, 2);
  EXPECT_DOUBLE_EQ(t1.configs[0].runtime_s, 50.5);
  EXPECT_DOUBLE_EQ(t1.configs[0].peak_memory_bytes, 1e10);
  EXPECT_EQ(t1.configs[0].params, nlohmann::json({{"shard", true}}));
  EXPECT_EQ(t1.configs[0].gpu_type, "");
  EXPECT_DOUBLE_EQ(t1.configs[0].gpu_seconds(), 101);
  EXPECT_EQ(t1.configs[1].gpu_type, "custom");
  EXPECT_EQ(t1.configs[1].peak_memory_bytes, 0);
  EXPECT_TRUE(t1.configs[1].params.is_object());
}

TEST(ProfileTable, JsonRoundTrip) {
  auto table = parse_profile_table(kTable);
  ASSERT_TRUE(table.ok());
  const nlohmann::json once = to_json(*table);
  auto again = parse_profile_table(once.dump(2));
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(to_json(*again), once);
  EXPECT_FALSE(once.contains("name"));  // annotations are not kept
  EXPECT_FALSE(once["tasks"][0]["configs"][0].contains("gpu_type"));
  EXPECT_EQ(once["tasks"][1]["configs"][1]["gpu_type"], "custom");
}

TEST(ProfileTable, ConfigFits) {
  const Node node{"n", 4, "a100-40gb", 40e9};
  Config config{"ddp", 4, 10, 0, "", nlohmann::json::object()};
  EXPECT_TRUE(config_fits(config, node));
  config.gpus = 5;
  EXPECT_FALSE(config_fits(config, node));
  config.gpus = 2;
  config.gpu_type = "A100-40GB";
  EXPECT_TRUE(config_fits(config, node));
  config.gpu_type = "h200";
  EXPECT_FALSE(config_fits(config, node));
  config.gpu_type = "";
  config.peak_memory_bytes = 40e9;
  EXPECT_TRUE(config_fits(config, node));
  config.peak_memory_bytes = 40.1e9;
  EXPECT_FALSE(config_fits(config, node));
}

TEST(ProfileTable, WithClusterRechecksFit) {
  auto table = parse_profile_table(kTable);
  ASSERT_TRUE(table.ok());
  Cluster bigger{{{"x0", 8, "h200", 140e9}, {"x1", 8, "custom", 1e10}}};
  auto replaced = with_cluster(*table, bigger, "big.yaml");
  ASSERT_TRUE(replaced.ok()) << replaced.error().to_string();
  EXPECT_EQ(replaced->cluster.nodes[0].name, "x0");

  Cluster small{{{"x0", 4, "h200", 140e9}}};
  auto rejected = with_cluster(*table, small, "small.yaml");
  ASSERT_FALSE(rejected.ok());
  EXPECT_TRUE(ErrorIs(rejected.error(), "small.yaml", 0, "tasks[0]",
                      "task \"t0\" fits any node of the cluster: its smallest configuration "
                      "needs 8 GPUs, the largest node has 4"));

  auto invalid = with_cluster(*table, Cluster{}, "empty.yaml");
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(ErrorIs(invalid.error(), "empty.yaml", 0, "cluster.nodes", "no nodes"));
}

struct BadTable {
  const char* name;
  std::string text;
  int line;
  const char* field;
  const char* message;
};

void PrintTo(const BadTable& c, std::ostream* os) {
  *os << c.name;
}

class ProfileTableRejects : public ::testing::TestWithParam<BadTable> {};

TEST_P(ProfileTableRejects, WithFileLineAndField) {
  const BadTable& c = GetParam();
  const std::string path = write_temp_file("profile.json", c.text);
  auto table = load_profile_table(path);
  ASSERT_FALSE(table.ok());
  EXPECT_TRUE(ErrorIs(table.error(), path, c.line, c.field, c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ProfileTableRejects,
    ::testing::Values(
        BadTable{"RuntimeNegative", edit("\"runtime_s\": 30", "\"runtime_s\": -1"), 15,
                 "tasks[1].configs[1].runtime_s", "must be > 0, got -1"},
        BadTable{"RuntimeZero", edit("\"runtime_s\": 30", "\"runtime_s\": 0"), 15,
                 "tasks[1].configs[1].runtime_s", "must be > 0"},
        BadTable{"RuntimeString", edit("\"runtime_s\": 30", "\"runtime_s\": \"30\""), 15,
                 "tasks[1].configs[1].runtime_s", "expected a number, got the string \"30\""},
        BadTable{"RuntimeNaN", edit("\"runtime_s\": 30", "\"runtime_s\": NaN"), 15, "",
                 "invalid JSON"},
        BadTable{"RuntimeInfinity", edit("\"runtime_s\": 30", "\"runtime_s\": Infinity"), 15, "",
                 "invalid JSON"},
        BadTable{"RuntimeOverflow", edit("\"runtime_s\": 30", "\"runtime_s\": 1e999"), 15, "",
                 "number overflow"},
        BadTable{"RuntimeMissing", edit(", \"runtime_s\": 100", ""), 9,
                 "tasks[0].configs[0].runtime_s", "missing required key \"runtime_s\""},
        BadTable{"GpusFraction", edit("\"gpus\": 2,", "\"gpus\": 2.5,"), 12,
                 "tasks[1].configs[0].gpus", "expected an integer in [1, 1024], got the number"},
        BadTable{"GpusZero", edit("\"gpus\": 2,", "\"gpus\": 0,"), 12, "tasks[1].configs[0].gpus",
                 "got 0"},
        BadTable{"TechniqueEmpty", edit("\"fsdp\"", "\"\""), 12, "tasks[1].configs[0].technique",
                 "must not be empty"},
        BadTable{"PeakNegative", edit("1e10,", "-1,"), 12, "tasks[1].configs[0].peak_memory_bytes",
                 "must be >= 0"},
        BadTable{"ParamsNotObject", edit("{\"shard\": true}", "[1]"), 13,
                 "tasks[1].configs[0].params", "expected an object, got an array"},
        BadTable{"ConfigGpuTypeEmpty", edit("\"custom\",\n", "\"\",\n"), 14,
                 "tasks[1].configs[1].gpu_type", "must not be empty"},
        BadTable{"UnknownConfigKey", edit("\"runtime_s\": 100", "\"runtime\": 100"), 9,
                 "tasks[0].configs[0].runtime", "unknown key \"runtime\""},
        BadTable{"UnknownTaskKey", edit("{\"name\": \"t1\",", "{\"name\": \"t1\", \"prio\": 1,"),
                 11, "tasks[1].prio", "unknown key"},
        BadTable{"UnknownNodeKey", edit("\"gpus\": 4,", "\"gpus\": 4, \"cpus\": 64,"), 5,
                 "cluster.nodes[1].cpus", "unknown key"},
        BadTable{"UnknownTopKey", edit("\"name\": \"demo\",", "\"version\": 2,"), 2, "version",
                 "unknown key \"version\" (allowed: cluster, tasks, name, comment, meta)"},
        BadTable{"DuplicateTask", edit("\"t1\"", "\"t0\""), 11, "tasks[1].name",
                 "duplicate task name \"t0\" (also tasks[0])"},
        BadTable{"DuplicateNode", edit("\"n1\"", "\"n0\""), 5, "cluster.nodes[1].name",
                 "duplicate node name"},
        BadTable{"DuplicateKey", edit("\"runtime_s\": 30", "\"runtime_s\": 30, \"gpus\": 2"), 15,
                 "tasks[1].configs[1].gpus", "appears twice in one object (first on line 14)"},
        BadTable{"NoConfigs",
                 edit("\"configs\": [\n      {\"technique\": \"ddp\", \"gpus\": 8, "
                      "\"runtime_s\": 100}\n    ]",
                      "\"configs\": []"),
                 8, "tasks[0].configs", "task \"t0\" has no configurations"},
        BadTable{"NoFitGpus", edit("\"gpus\": 8,", "\"gpus\": 6,"), 8, "tasks[0]",
                 "no configuration of task \"t0\" fits any node"},
        BadTable{"NoFitMemory",
                 edit("\"runtime_s\": 100",
                      "\"runtime_s\": 100, "
                      "\"peak_memory_bytes\": 5e10"),
                 8, "tasks[0]", "more memory per GPU"},
        BadTable{"NoFitType",
                 edit("\"runtime_s\": 100",
                      "\"runtime_s\": 100, \"gpu_type\": "
                      "\"h200\""),
                 8, "tasks[0]", "another GPU type"},
        BadTable{"UnknownGpuType", edit("a100-40gb", "v100"), 4, "cluster.nodes[0].gpu_type",
                 "unknown GPU type \"v100\" (known: a100-40gb, a100-80gb, h100-80gb, h200)"},
        BadTable{"NoNodes", edit("\"nodes\": [", "\"nodes\": [], \"x\": ["), 3, "cluster.x",
                 "unknown key"},
        BadTable{"MissingCluster", "{\"tasks\": []}", 1, "cluster", "missing required key"},
        BadTable{"NoTasks", edit("\"tasks\": [", "\"tasks\": [], \"t\": ["), 7, "t", "unknown key"},
        BadTable{"EmptyTasks",
                 "{\"cluster\": {\"nodes\": [{\"name\": \"n\", \"gpus\": 1, "
                 "\"gpu_type\": \"h200\"}]},\n \"tasks\": []}",
                 2, "tasks", "must not be empty"},
        BadTable{"TrailingComma", edit("\"runtime_s\": 30}", "\"runtime_s\": 30},"), 16, "",
                 "invalid JSON"},
        BadTable{"RootArray", "[1, 2]", 1, "", "expected an object, got an array"},
        BadTable{"Empty", "", 1, "", "invalid JSON"}),
    [](const ::testing::TestParamInfo<BadTable>& info) { return std::string(info.param.name); });

TEST(ProfileTable, MissingFileIsNamed) {
  auto table = load_profile_table("/nonexistent/p.json");
  ASSERT_FALSE(table.ok());
  EXPECT_TRUE(ErrorIs(table.error(), "/nonexistent/p.json", 0, "", "cannot open"));
}

TEST(ProfileTable, AnnotationsAreAccepted) {
  auto table = parse_profile_table(
      edit("\"name\": \"demo\",", "\"comment\": \"x\", \"meta\": {\"tool\": [1, 2]},"));
  EXPECT_TRUE(table.ok()) << table.error().to_string();
  auto bad = parse_profile_table(edit("\"name\": \"demo\",", "\"comment\": 3,"), "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(ErrorIs(bad.error(), "p.json", 2, "comment", "expected a string"));
}

}  // namespace
}  // namespace saturn
