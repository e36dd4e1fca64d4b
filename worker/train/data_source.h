// Batches for training and evaluation, on the training device, in the order saturn/dataset.h
// defines (positions -> samples), so every rank of every run sees the same data for the same
// position.
//
//   language: input ids [n, T] int64 and next-token targets [n, T] from TokenData
//   images:   synthetic images [n, 3, H, W] and labels [n]: each sample is its class's fixed
//             pattern plus one of 64 fixed noise images, chosen by the sample index — learnable,
//             deterministic and cheap to assemble on the device
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "saturn/dataset.h"
#include "saturn/model_zoo.h"
#include "saturn/workload.h"

namespace saturn::worker {

struct Batch {
  torch::Tensor input;   // first block's input
  torch::Tensor target;  // next tokens or labels
  std::int64_t samples = 0;
  std::int64_t tokens = 0;  // language: samples x T; images: 0
};

class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual std::int64_t train_samples() const = 0;
  virtual std::int64_t eval_samples() const = 0;
  // Training samples at global positions `positions` (SampleOrder over the training split).
  virtual Batch train_batch(const std::vector<std::int64_t>& positions) = 0;
  // Evaluation samples [first, first + count).
  virtual Batch eval_batch(std::int64_t first, std::int64_t count) = 0;
};

// The job's data for `architecture` on `device`; `vocab` is the model's vocabulary. Errors:
// those of TokenData::load, a data format that does not suit the model.
Result<std::unique_ptr<DataSource>> make_data_source(const JobSpec& job,
                                                     const std::string& base_dir,
                                                     const ModelArchitecture& architecture,
                                                     int vocab, torch::Device device);

}  // namespace saturn::worker
