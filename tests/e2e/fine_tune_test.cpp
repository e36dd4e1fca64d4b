// The fine-tuning example end to end (examples/fine-tune, docs/fine-tuning.md): a tiny GPT-2 is
// trained from scratch by `saturn run`, exported by `saturn export` as a Hugging Face directory,
// and fine-tuned from it by a second `saturn run` whose jobs start at the trained model's loss,
// far below a new model's, and are written back to models/NAME; `saturn export` reproduces that
// export byte for byte, and its bad input is a clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using saturn::testing::run_saturn;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FineTune, TheExampleFineTunesAnExportedModelAndExportsIt) {
  // The example's files as shipped, with the data beside them as in examples/.
  const fs::path dir = saturn::testing::fresh_temp_dir("fine_tune");
  fs::create_directories(dir / "fine-tune");
  fs::create_directories(dir / "data");
  for (const char* f :
       {"fine-tune/pretrain.yaml", "fine-tune/finetune.yaml", "data/saturn-docs.txt"}) {
    fs::copy_file(saturn::testing::example(f), dir / f);
  }
  ::setenv("SATURN_LIBRARY_PATH", (dir / "library").c_str(), 1);
  ::setenv("SATURN_WORKER", SATURN_WORKER_PATH, 1);
  const std::string pretrain = (dir / "pretrain-run").string();
  auto r = run_saturn("run " + (dir / "fine-tune" / "pretrain.yaml").string() + " --dir " +
                      pretrain + " --cpu-slots 2 --checkpoint-interval 60");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(fs::exists(fs::path(pretrain) / "models")) << "exported without init";
  const fs::path model = dir / "fine-tune" / "models" / "tiny-gpt2";
  r = run_saturn("export " + pretrain + " base --out " + model.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto config = nlohmann::json::parse(read_file(model / "config.json"));
  EXPECT_EQ(config["model_type"], "gpt2");
  EXPECT_EQ(config["vocab_size"], 256);  // the byte-level data's
  EXPECT_EQ(config["n_positions"], 64);

  const auto status = [](const std::string& run) {
    const auto s = run_saturn("status " + run + " --json");
    EXPECT_EQ(s.code, 0) << s.output;
    return nlohmann::json::parse(s.output, nullptr, false);
  };
  const auto base = status(pretrain)["jobs"][0];
  const double trained = base["loss"].get<double>();
  ASSERT_LT(trained, 0.65 * std::log(256.0));

  const std::string finetune = (dir / "finetune-run").string();
  r = run_saturn("run " + (dir / "fine-tune" / "finetune.yaml").string() + " --dir " + finetune +
                 " --cpu-slots 2 --checkpoint-interval 60");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 done, 0 failed"), std::string::npos) << r.output;
  const auto jobs = status(finetune)["jobs"];
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& job : jobs) {
    const std::string name = job["name"];
    EXPECT_EQ(job["state"], "done") << name;
    // 10 steps from a new model leave it near ln 256 = 5.5; from the trained one, near its loss.
    EXPECT_LT(job["loss"].get<double>(), trained + 0.3) << name;
    const fs::path exported = fs::path(finetune) / "models" / name;
    ASSERT_TRUE(fs::exists(exported / "config.json")) << name << "\n" << r.output;
    ASSERT_TRUE(fs::exists(exported / "model.safetensors")) << name;
    // On request: the same bytes.
    const fs::path again = dir / ("again-" + name);
    const auto e = run_saturn("export " + finetune + " " + name + " --out " + again.string());
    ASSERT_EQ(e.code, 0) << e.output;
    EXPECT_EQ(read_file(again / "model.safetensors"), read_file(exported / "model.safetensors"));
    EXPECT_EQ(read_file(again / "config.json"), read_file(exported / "config.json"));
  }

  // Bad input: a clear error and exit 2, nothing written.
  auto bad = run_saturn("export " + finetune + " nosuchjob");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("no job \"nosuchjob\""), std::string::npos) << bad.output;
  bad = run_saturn("export " + finetune + " " + jobs[0]["name"].get<std::string>() + " --out " +
                   model.string());
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("not an empty directory"), std::string::npos) << bad.output;
  ::unsetenv("SATURN_LIBRARY_PATH");
  ::unsetenv("SATURN_WORKER");
}

}  // namespace
