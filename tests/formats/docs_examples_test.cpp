// Keeps docs/formats.md and examples/ honest: every marked example in the docs must load (and
// every marked bad example must be rejected), and every file under examples/clusters,
// examples/paper, examples/workloads (and examples/profiles, when present) must load.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "saturn/cluster.h"
#include "saturn/plan.h"
#include "saturn/profile.h"
#include "saturn/workload.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

struct DocExample {
  std::string kind;  // "cluster", "workload", "profile", "plan"
  bool good = true;  // <!-- example: ... --> vs <!-- bad-example: ... -->
  int line = 0;      // line of the marker in docs/formats.md
  std::string text;  // the fenced block's contents
};

// Every block preceded by a marker line; a marker must be followed (after blank lines) by a fence.
std::vector<DocExample> extract_examples(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::vector<DocExample> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    DocExample ex;
    for (const auto& [prefix, good] :
         {std::pair{"<!-- example: ", true}, std::pair{"<!-- bad-example: ", false}}) {
      if (l.rfind(prefix, 0) == 0 && l.size() > 4 && l.substr(l.size() - 4) == " -->") {
        const std::size_t start = std::string(prefix).size();
        ex.kind = l.substr(start, l.size() - 4 - start);
        ex.good = good;
      }
    }
    if (ex.kind.empty()) continue;
    ex.line = static_cast<int>(i) + 1;
    std::size_t j = i + 1;
    while (j < lines.size() && lines[j].empty()) ++j;
    EXPECT_TRUE(j < lines.size() && lines[j].rfind("```", 0) == 0)
        << path << ":" << ex.line << ": marker not followed by a fenced block";
    for (++j; j < lines.size() && lines[j].rfind("```", 0) != 0; ++j) ex.text += lines[j] + "\n";
    out.push_back(std::move(ex));
    i = j;
  }
  return out;
}

// Loads `text` as `kind`; the error when it is rejected, "" when it loads.
std::string try_load(const std::string& kind, const std::string& text, const std::string& source) {
  auto message = [](const auto& result) {
    return result.ok() ? std::string() : result.error().to_string();
  };
  if (kind == "cluster") return message(parse_cluster_yaml(text, source));
  if (kind == "workload") return message(parse_workload_yaml(text, source));
  if (kind == "profile") return message(parse_profile_table(text, source));
  if (kind == "plan") return message(parse_plan_json(text, source));
  return "unknown example kind \"" + kind + "\"";
}

TEST(DocsExamples, MarkedExamplesLoadAndBadOnesAreRejected) {
  const std::string path = std::string(SATURN_SOURCE_DIR) + "/docs/formats.md";
  ASSERT_TRUE(fs::exists(path)) << path;
  const std::vector<DocExample> examples = extract_examples(path);
  std::map<std::string, int> good, bad;
  for (const DocExample& ex : examples) {
    const std::string where = "docs/formats.md:" + std::to_string(ex.line);
    const std::string error = try_load(ex.kind, ex.text, where);
    if (ex.good) {
      EXPECT_EQ(error, "") << where << ": example (" << ex.kind << ") should load";
      ++good[ex.kind];
    } else {
      EXPECT_NE(error, "") << where << ": bad example (" << ex.kind << ") should be rejected";
      EXPECT_EQ(error.find("unknown example kind"), std::string::npos) << error;
      ++bad[ex.kind];
    }
  }
  for (const char* kind : {"cluster", "workload", "profile", "plan"}) {
    EXPECT_GE(good[kind], 1) << "docs/formats.md has no example of " << kind;
    EXPECT_GE(bad[kind], 1) << "docs/formats.md has no bad example of " << kind;
  }
}

std::vector<std::string> files_in(const std::string& dir, const std::set<std::string>& exts) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && exts.count(entry.path().extension().string())) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ExampleFiles, EveryClusterLoads) {
  const auto files =
      files_in(std::string(SATURN_SOURCE_DIR) + "/examples/clusters", {".yaml", ".yml"});
  EXPECT_GE(files.size(), 3u);
  for (const std::string& file : files) {
    auto cluster = load_cluster_yaml(file);
    EXPECT_TRUE(cluster.ok()) << cluster.error().to_string();
  }
}

TEST(ExampleFiles, EveryWorkloadLoads) {
  auto files = files_in(std::string(SATURN_SOURCE_DIR) + "/examples/paper", {".yaml", ".yml"});
  for (const std::string& file :
       files_in(std::string(SATURN_SOURCE_DIR) + "/examples/workloads", {".yaml", ".yml"})) {
    files.push_back(file);
  }
  EXPECT_GE(files.size(), 2u);
  for (const std::string& file : files) {
    auto workload = load_workload_yaml(file);
    EXPECT_TRUE(workload.ok()) << workload.error().to_string();
  }
}

TEST(ExampleFiles, EveryProfileTableLoads) {
  for (const std::string& file :
       files_in(std::string(SATURN_SOURCE_DIR) + "/examples/profiles", {".json"})) {
    auto table = load_profile_table(file);
    EXPECT_TRUE(table.ok()) << table.error().to_string();
  }
}

TEST(ExampleFiles, ClustersHaveTheDocumentedShapes) {
  const std::string dir = std::string(SATURN_SOURCE_DIR) + "/examples/clusters/";
  auto one = load_cluster_yaml(dir + "one-node-a100.yaml");
  ASSERT_TRUE(one.ok()) << one.error().to_string();
  EXPECT_EQ(one->nodes.size(), 1u);
  EXPECT_EQ(one->total_gpus(), 8);
  EXPECT_EQ(one->nodes[0].gpu_type, "a100-40gb");
  auto two = load_cluster_yaml(dir + "two-nodes-a100.yaml");
  ASSERT_TRUE(two.ok()) << two.error().to_string();
  EXPECT_EQ(two->nodes.size(), 2u);
  EXPECT_EQ(two->total_gpus(), 16);
  auto mixed = load_cluster_yaml(dir + "mixed.yaml");
  ASSERT_TRUE(mixed.ok()) << mixed.error().to_string();
  ASSERT_EQ(mixed->nodes.size(), 2u);
  EXPECT_EQ(mixed->nodes[0].gpus, 8);
  EXPECT_EQ(mixed->nodes[0].gpu_type, "a100-80gb");
  EXPECT_EQ(mixed->nodes[1].gpus, 4);
  EXPECT_EQ(mixed->nodes[1].gpu_type, "h100-80gb");
}

// The paper's two workloads: 2 models x 3 learning rates x 2 batch sizes each.
TEST(ExampleFiles, PaperWorkloadsExpandToTwelveJobs) {
  const std::string dir = std::string(SATURN_SOURCE_DIR) + "/examples/paper/";
  auto text = load_workload_yaml(dir + "wikitext.yaml");
  ASSERT_TRUE(text.ok()) << text.error().to_string();
  ASSERT_EQ(text->jobs.size(), 12u);
  EXPECT_EQ(text->jobs.front().name, "gpt2-lr1e-5-bs16");
  EXPECT_EQ(text->jobs.back().name, "gptj-lr1e-3-bs32");
  std::set<std::string> models;
  for (const JobSpec& job : text->jobs) {
    models.insert(job.model);
    EXPECT_EQ(job.data.name, "wikitext-2");
    EXPECT_EQ(job.data.format, "text");
    EXPECT_EQ(job.data.seq_len, 1024);
    EXPECT_DOUBLE_EQ(job.epochs, 10);
    EXPECT_EQ(job.gpus, (std::vector<int>{1, 2, 4, 8}));
    EXPECT_EQ(job.techniques, (std::vector<std::string>{"ddp", "fsdp", "gpipe", "offload"}));
  }
  EXPECT_EQ(models, (std::set<std::string>{"gpt2-xl", "gptj-6b"}));

  auto images = load_workload_yaml(dir + "imagenet.yaml");
  ASSERT_TRUE(images.ok()) << images.error().to_string();
  ASSERT_EQ(images->jobs.size(), 12u);
  models.clear();
  std::set<int> batches;
  for (const JobSpec& job : images->jobs) {
    models.insert(job.model);
    batches.insert(job.batch_size);
    EXPECT_EQ(job.data.format, "synthetic-images");
    EXPECT_EQ(job.data.image_size, 224);
    EXPECT_EQ(job.data.samples, 1281167);
  }
  EXPECT_EQ(models, (std::set<std::string>{"vit-g-14", "resnet-200"}));
  EXPECT_EQ(batches, (std::set<int>{64, 128}));
}

}  // namespace
}  // namespace saturn
