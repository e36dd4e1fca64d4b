// ddp, fsdp and gpipe on two CPU devices, each rank a process of its own started by
// saturn-worker's launcher (Gloo between processes), train to the weights `single` reaches on the
// same global batch: their checkpoints, written in one technique-independent layout, are compared
// tensor by tensor.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "same_weights.h"
#include "saturn/safetensors.h"
#include "worker_process.h"

namespace saturn::worker {
namespace {

// The fp32 weights of the newest checkpoint under `dir`, by name (empty: none readable).
std::map<std::string, torch::Tensor> checkpoint_weights(const fs::path& dir) {
  std::map<std::string, torch::Tensor> out;
  std::ifstream latest(dir / "LATEST");
  std::string name;
  if (!(latest >> name)) return out;
  auto file = SafetensorsFile::open((dir / name / "model.safetensors").string());
  if (!file.ok()) return out;
  for (const auto& [tensor, e] : file->tensors()) {
    if (e.dtype != "F32") continue;
    torch::Tensor values = torch::empty({static_cast<std::int64_t>(e.bytes / sizeof(float))});
    std::memcpy(values.data_ptr<float>(), e.data, e.bytes);
    out[tensor] = values;
  }
  return out;
}

// 4 steps of each, from the same initial weights and data, against 4 steps of `single`.
TEST(WorkerCli, TechniquesAcrossProcessesEqualSingle) {
  const fs::path base = fs::path(::testing::TempDir()) / "saturn_worker_cli_equal";
  auto train = [&](const std::string& technique, const std::string& devices) {
    const fs::path ck = base / technique;
    fs::remove_all(ck);
    const WorkerRun run = worker("execute " + job() + " --technique " + technique + " --devices " +
                                 devices + " --steps 4 --log-every 4 --checkpoint " + ck.string());
    EXPECT_EQ(run.code, 0) << technique << ": "
                           << (run.last("error") ? run.last("error")->dump() : "no error event");
    const json* done = run.last("done");
    EXPECT_TRUE(done && (*done)["step"] == 4) << technique;  // the checkpoint is step 4's
    return checkpoint_weights(ck);
  };
  const auto single = train("single", "cpu");
  ASSERT_FALSE(single.empty());
  for (const std::string technique : {"ddp", "fsdp", "gpipe"}) {
    const auto other = train(technique, "cpu:0,cpu:1");
    ASSERT_EQ(other.size(), single.size()) << technique;
    // The whole model in name order, so that the share of weights allowed past the tight bound
    // is the model's (a key bias, all noise to AdamW, is a fifth of its small tensor).
    std::vector<torch::Tensor> got, want;
    std::string layout;  // "name from element N", for a failure's element index
    std::int64_t offset = 0;
    for (const auto& [name, expected] : single) {
      const auto it = other.find(name);
      ASSERT_NE(it, other.end()) << technique << ": no " << name;
      ASSERT_EQ(it->second.numel(), expected.numel()) << technique << ": " << name;
      got.push_back(it->second);
      want.push_back(expected);
      layout += "\n  " + name + " from element " + std::to_string(offset);
      offset += expected.numel();
    }
    // Each rank's process runs its products on fewer threads than `single`, so its sums
    // round differently: same_weights() allows for that.
    EXPECT_TRUE(same_weights(torch::cat(got), torch::cat(want))) << technique << ":" << layout;
  }
}

}  // namespace
}  // namespace saturn::worker
