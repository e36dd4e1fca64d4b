// ddp, fsdp and gpipe on two CPU devices, each rank a process of its own started by
// saturn-worker's launcher (Gloo between processes), train to the weights `single` reaches on the
// same global batch: their checkpoints, written in one technique-independent layout, are compared
// tensor by tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "saturn/safetensors.h"
#include "worker_process.h"

namespace saturn::worker {
namespace {

// The fp32 weights of the newest checkpoint under `dir`, by name (empty: none readable).
std::map<std::string, std::vector<float>> checkpoint_weights(const fs::path& dir) {
  std::map<std::string, std::vector<float>> out;
  std::ifstream latest(dir / "LATEST");
  std::string name;
  if (!(latest >> name)) return out;
  auto file = SafetensorsFile::open((dir / name / "model.safetensors").string());
  if (!file.ok()) return out;
  for (const auto& [tensor, e] : file->tensors()) {
    if (e.dtype != "F32") continue;
    std::vector<float> values(e.bytes / sizeof(float));
    std::memcpy(values.data(), e.data, e.bytes);
    out[tensor] = std::move(values);
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
    for (const auto& [name, expected] : single) {
      const auto it = other.find(name);
      ASSERT_NE(it, other.end()) << technique << ": no " << name;
      ASSERT_EQ(it->second.size(), expected.size()) << technique << ": " << name;
      // Each rank's process runs its products on fewer threads than `single`, so its sums round
      // differently, and AdamW turns a rounding difference in a near-zero gradient into up to
      // 2 lr per step: 2e-4 is well below one step's lr (3e-3, what a wrong batch or a wrong
      // stage would move a weight by) and well above rounding (observed: under 5e-5).
      double worst = 0;  // the largest |a - b| / (2e-4 + 1e-3 |b|): within tolerance when <= 1
      for (std::size_t i = 0; i < expected.size(); ++i) {
        const double diff = std::abs(static_cast<double>(it->second[i]) - expected[i]);
        worst = std::max(worst, diff / (2e-4 + 1e-3 * std::abs(expected[i])));
      }
      EXPECT_LE(worst, 1.0) << technique << ": " << name;
    }
  }
}

}  // namespace
}  // namespace saturn::worker
