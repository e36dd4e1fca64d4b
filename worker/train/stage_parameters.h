// One pipeline stage's parameters (GPipe): the flat buffers of the stage's contiguous run of
// model blocks, on the stage's device, plus a copy of every tied parameter its blocks use that
// another stage owns (GPT's LM head, in the last stage, uses the token embedding of block 0).
//
// Layout of master / compute / grad: [0, own_numel()) is FlatParameters' slice
// [own_offset(), own_offset() + own_numel()) (the stage's blocks, in model order), followed by
// the copies. The stage's blocks' parameters are views of compute and their gradients views of
// grad, so FlatOptimizer updates the stage as it would the whole model. A copy and its owner
// stay equal: sum_tied_grads() adds their gradients across stages before the step, and both
// take the same update. tied_squares() is what the copies add to the stage's sum of squared
// gradients, so that the clipping norm counts each parameter once.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/model.h"
#include "train/communicator.h"
#include "train/parameters.h"

namespace saturn::worker {

class StageParameters : public FlatBuffers {
 public:
  // Stage `stage` of the partition `bounds` (stage s holds blocks [bounds[s], bounds[s + 1]))
  // of `model`, laid out as `full` (FlatParameters, any device, layout only or not): copies its
  // part of the initial master weights from `initial` (full's master when not set) to `device`,
  // the compute copy in `compute_dtype`, a zero gradient, and points the stage's blocks'
  // parameters at them. Copies of tied parameters that `initial` does not hold (an InitialPart
  // built with InitialPart::blocks() holds the stage's own blocks) start at zero until
  // share_tied_values().
  StageParameters(Model& model, FlatParameters& full, const std::vector<int>& bounds, int stage,
                  torch::Device device, torch::ScalarType compute_dtype,
                  const InitialValues& initial = {});

  std::int64_t own_offset() const { return own_of_stage_[static_cast<std::size_t>(stage_)].first; }
  std::int64_t own_numel() const { return own_of_stage_[static_cast<std::size_t>(stage_)].second; }

  // Sets every copy of a tied parameter to its owner's master weights (and compute copy), sent
  // by the owning stage. Every rank calls it; `comm` may be null with one stage.
  void share_tied_values(Communicator* comm);
  // Sums every tied parameter's gradient over the stages that hold it (its owner and its
  // copies), in place. Every rank takes part, even one without tied parameters; `comm` may be
  // null with one stage.
  void sum_tied_grads(Communicator* comm);
  // Sum of squares of the copies' gradients (fp32 scalar on the device; 0 without copies).
  torch::Tensor tied_squares() const;

  // A tensor in this stage's layout (master or an optimizer state), every stage's own part
  // assembled into the full layout (FlatParameters::numel() elements, fp32, on the CPU), on
  // every rank, or with `root` >= 0 on that rank only (the others send it their own part and
  // get an undefined tensor). Every rank takes part; `comm` may be null with one stage.
  torch::Tensor gather_full(const torch::Tensor& part, Communicator* comm, int root = -1) const;
  // Fills `part` (numel() elements, this stage's layout: master or an optimizer state) from
  // `source` (full-layout values): the own slice, then the copies of tied parameters. False when
  // `source` lacks the own slice; copies it lacks are left as they were.
  bool fill(const InitialValues& source, torch::Tensor part) const;

 private:
  // A parameter used in one stage and owned (laid out) by another; every rank knows all of
  // them, in the same order.
  struct Tie {
    std::int64_t full_offset = 0, numel = 0;  // its slice of the full layout
    int owner = 0, user = 0;                  // stages
    std::int64_t here = -1;  // where this stage keeps it (owner or user); -1: not here
  };

  int stage_;
  std::int64_t full_numel_ = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> own_of_stage_;  // every stage's offset, numel
  std::vector<Tie> ties_;
};

// Stage bounds (stages + 1 block indices, from 0 to costs.size()) of the contiguous partition
// of blocks with these costs into `stages` non-empty stages whose largest stage cost is least.
// Needs 1 <= stages <= costs.size().
std::vector<int> balanced_stages(const std::vector<double>& costs, int stages);

}  // namespace saturn::worker
