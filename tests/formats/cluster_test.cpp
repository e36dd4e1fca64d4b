// Cluster YAML: both forms, GPU memory from the catalogue or given, and located errors.
#include <gtest/gtest.h>

#include "format_test_util.h"
#include "saturn/cluster.h"
#include "saturn/gpu_catalog.h"

namespace saturn {
namespace {

using testing_formats::ErrorIs;
using testing_formats::write_temp_file;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

TEST(ClusterYaml, ShorthandNamesNodesInOrder) {
  auto cluster = parse_cluster_yaml("nodes: 2\ngpus_per_node: 8\ngpu: a100-40gb\n");
  ASSERT_TRUE(cluster.ok()) << cluster.error().to_string();
  ASSERT_EQ(cluster->nodes.size(), 2u);
  EXPECT_EQ(cluster->nodes[0].name, "n0");
  EXPECT_EQ(cluster->nodes[1].name, "n1");
  for (const Node& node : cluster->nodes) {
    EXPECT_EQ(node.gpus, 8);
    EXPECT_EQ(node.gpu_type, "a100-40gb");
    EXPECT_DOUBLE_EQ(node.gpu_memory_bytes, find_gpu("a100-40gb")->memory_bytes);
  }
  EXPECT_EQ(cluster->total_gpus(), 16);
  EXPECT_EQ(cluster->max_gpus_per_node(), 8);
  EXPECT_EQ(cluster->find_node("n1"), 1);
  EXPECT_EQ(cluster->find_node("n2"), -1);
}

TEST(ClusterYaml, FullFormWithOverridesAndCustomTypes) {
  const char* text = R"(name: lab
nodes:
  - {name: big, gpus: 8, gpu: A100-80GB}
  - name: small
    gpus: 4
    gpu: h100-80gb
    gpu_memory_gb: 40
  - {name: custom, gpus: 2, gpu: l40s, gpu_memory_gb: 48}
)";
  auto cluster = parse_cluster_yaml(text);
  ASSERT_TRUE(cluster.ok()) << cluster.error().to_string();
  ASSERT_EQ(cluster->nodes.size(), 3u);
  EXPECT_EQ(cluster->nodes[0].gpu_type, "a100-80gb");  // catalogue spelling
  EXPECT_DOUBLE_EQ(cluster->nodes[0].gpu_memory_bytes, 80 * kGiB);
  EXPECT_EQ(cluster->nodes[1].gpus, 4);
  EXPECT_DOUBLE_EQ(cluster->nodes[1].gpu_memory_bytes, 40 * kGiB);
  EXPECT_EQ(cluster->nodes[2].gpu_type, "l40s");
  EXPECT_DOUBLE_EQ(cluster->nodes[2].gpu_memory_bytes, 48 * kGiB);
  EXPECT_EQ(cluster->total_gpus(), 14);
  EXPECT_EQ(cluster->find_node("custom"), 2);
}

struct BadCluster {
  const char* name;
  const char* text;
  int line;
  const char* field;
  const char* message;
};

void PrintTo(const BadCluster& c, std::ostream* os) {
  *os << c.name;
}

class ClusterYamlRejects : public ::testing::TestWithParam<BadCluster> {};

TEST_P(ClusterYamlRejects, WithFileLineAndField) {
  const BadCluster& c = GetParam();
  const std::string path = write_temp_file("cluster.yaml", c.text);
  auto cluster = load_cluster_yaml(path);
  ASSERT_FALSE(cluster.ok());
  EXPECT_TRUE(ErrorIs(cluster.error(), path, c.line, c.field, c.message));
}

constexpr const char* kTwoNodes = "nodes:\n  - {name: n0, gpus: 8, gpu: a100-40gb}\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, ClusterYamlRejects,
    ::testing::Values(
        BadCluster{"GpusWord",
                   "nodes:\n  - {name: n0, gpus: 8, gpu: a100-40gb}\n"
                   "  - name: n1\n    gpus: eight\n    gpu: a100-40gb\n",
                   4, "nodes[1].gpus", "expected a positive integer"},
        BadCluster{"GpusQuoted", "nodes:\n  - {name: n0, gpus: \"8\", gpu: a100-40gb}\n", 2,
                   "nodes[0].gpus", "the string \"8\""},
        BadCluster{"GpusZero", "nodes:\n  - {name: n0, gpus: 0, gpu: a100-40gb}\n", 2,
                   "nodes[0].gpus", "must be in [1, 1024]"},
        BadCluster{"GpusNegative", "nodes:\n\n  - name: n0\n    gpus: -1\n    gpu: h200\n", 4,
                   "nodes[0].gpus", "got -1"},
        BadCluster{"GpusFraction", "nodes: 2\ngpus_per_node: 2.5\ngpu: h200\n", 2, "gpus_per_node",
                   "expected a positive integer, got 2.5"},
        BadCluster{"NodesZero", "nodes: 0\ngpus_per_node: 8\ngpu: h200\n", 1, "nodes",
                   "must be in [1, 10000]"},
        BadCluster{"UnknownNodeKey", "nodes:\n  - name: n0\n    gpus: 8\n    gpu_count: 8\n", 4,
                   "nodes[0].gpu_count", "unknown key \"gpu_count\""},
        BadCluster{"UnknownTopKey", "nodes: 1\ngpus_per_node: 8\ngpu: h200\nzone: eu\n", 4, "zone",
                   "unknown key"},
        BadCluster{"FullFormKeyInShorthand", "nodes: 1\ngpus: 8\ngpu: h200\n", 2, "gpus",
                   "unknown key"},
        BadCluster{"ShorthandKeyInFullForm", "gpus_per_node: 8\nnodes:\n  - {name: a}\n", 1,
                   "gpus_per_node", "unknown key"},
        BadCluster{"DuplicateNode",
                   "nodes:\n  - {name: n0, gpus: 8, gpu: h200}\n"
                   "  - {name: n1, gpus: 8, gpu: h200}\n  - {name: n0, gpus: 4, gpu: h200}\n",
                   4, "nodes[2].name", "duplicate node name \"n0\" (first on line 2)"},
        BadCluster{"DuplicateKey", "nodes:\n  - name: n0\n    gpus: 8\n    gpus: 4\n", 4,
                   "nodes[0].gpus", "appears twice"},
        BadCluster{"EmptyList", "name: x\nnodes: []\n", 2, "nodes", "no nodes"},
        BadCluster{"MissingNodes", "name: x\n", 1, "nodes", "missing required key"},
        BadCluster{"MissingGpus", "nodes:\n  - {name: n0, gpu: h200}\n", 2, "nodes[0].gpus",
                   "missing required key \"gpus\""},
        BadCluster{"MissingGpu", "nodes:\n  - {name: n0, gpus: 8}\n", 2, "nodes[0].gpu",
                   "missing required key \"gpu\""},
        BadCluster{"UnknownGpu", "nodes:\n  - {name: n0, gpus: 8, gpu: v100}\n", 2, "nodes[0].gpu",
                   "a100-40gb, a100-80gb, h100-80gb, h200"},
        BadCluster{"BadMemory", "nodes: 1\ngpus_per_node: 8\ngpu: x\ngpu_memory_gb: -4\n", 4,
                   "gpu_memory_gb", "must be > 0"},
        BadCluster{"NodesNotList", "nodes: {n0: 8}\n", 1, "nodes", "expected a list of nodes"},
        BadCluster{"NodeNotMap", "nodes:\n  - n0\n", 2, "nodes[0]", "expected a map"},
        BadCluster{"NotAMap", "- 1\n- 2\n", 1, "", "expected a map"},
        BadCluster{"Syntax", "nodes:\n  - {name: n0, gpus: 8\n  - {name: n1}\n", 3, "",
                   "invalid YAML"},
        BadCluster{"Empty", "# nothing\n", 0, "", "empty cluster"},
        // yaml-cpp's LoadAll never returns on this input; the reader must not use it.
        BadCluster{"StrayComma", "# c\n, n0\nnodes: 2\n", 0, "", "empty cluster"},
        BadCluster{"TwoDocuments", "nodes: 1\ngpus_per_node: 1\ngpu: h200\n---\nnodes: 2\n", 4, "",
                   "one YAML document"}),
    [](const ::testing::TestParamInfo<BadCluster>& info) { return std::string(info.param.name); });

TEST(ClusterYaml, MissingFileIsNamed) {
  auto cluster = load_cluster_yaml("/nonexistent/cluster.yaml");
  ASSERT_FALSE(cluster.ok());
  EXPECT_TRUE(ErrorIs(cluster.error(), "/nonexistent/cluster.yaml", 0, "", "cannot open"));
}

TEST(ClusterYaml, ParseUsesSourceName) {
  auto cluster = parse_cluster_yaml(kTwoNodes + std::string("  - {name: n0}\n"), "inline");
  ASSERT_FALSE(cluster.ok());
  EXPECT_EQ(cluster.error().file, "inline");
  EXPECT_EQ(cluster.error().line, 3);
}

TEST(ValidateCluster, ChecksInvariantsWithPrefix) {
  Cluster cluster;
  EXPECT_TRUE(ErrorIs(validate_cluster(cluster, "x.json", "cluster").error(), "x.json", 0,
                      "cluster.nodes", "no nodes"));
  cluster.nodes = {{"a", 8, "h200", 1e9}, {"a", 8, "h200", 1e9}};
  EXPECT_TRUE(ErrorIs(validate_cluster(cluster, "x.json", "cluster").error(), "x.json", 0,
                      "cluster.nodes[1].name", "also used by nodes[0]"));
  cluster.nodes[1] = {"b", 0, "h200", 1e9};
  EXPECT_TRUE(ErrorIs(validate_cluster(cluster, "x.json", "").error(), "x.json", 0, "nodes[1].gpus",
                      "got 0"));
  cluster.nodes[1] = {"b", 2, "h200", 0};
  EXPECT_TRUE(ErrorIs(validate_cluster(cluster, "x.json", "").error(), "x.json", 0,
                      "nodes[1].gpu_memory_bytes", "> 0"));
  cluster.nodes[1] = {"b", 2, "", 1e9};
  EXPECT_TRUE(ErrorIs(validate_cluster(cluster, "x.json", "").error(), "x.json", 0,
                      "nodes[1].gpu_type", "empty"));
  cluster.nodes[1] = {"b", 2, "h200", 1e9};
  EXPECT_TRUE(validate_cluster(cluster, "x.json", "").ok());
}

}  // namespace
}  // namespace saturn
