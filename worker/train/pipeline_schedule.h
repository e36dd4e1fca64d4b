// One stage of a GPipe pipeline: runs its run of model blocks over M micro-batches in a
// fill-drain schedule (every micro-batch's forward pass, then every backward pass in reverse
// order), receiving activations from the previous stage and sending its outputs to the next;
// gradients flow back the same way. Every stage's parameters take one synchronous update after
// the step, so training equals unpipelined training on the same batch (tested against
// `single`).
//
//   stage 0:      batch.input -> blocks [b0, b1) -> send    (to stage 1)
//   stage s:      recv -> blocks [bs, bs+1) -> send
//   last stage:   recv -> blocks [.., end) -> loss(batch.target) / M, backward
//
// Activations cross stages as [B/M, ...] tensors of the compute dtype, each preceded by a small
// header (rank and sizes) so any block boundary works. With recomputation a stage keeps only
// each micro-batch's input between the passes and runs its blocks again in the backward pass
// (BatchNorm statistics restored, so they move once per forward as without).
#pragma once

#include <vector>

#include <torch/torch.h>

#include "models/model.h"
#include "train/communicator.h"
#include "train/data_source.h"

namespace saturn::worker {

class PipelineSchedule {
 public:
  // Stage `stage` of `stages` runs blocks [first, last) of `model` on `device`, talking to
  // stages stage - 1 and stage + 1 over `comm` (null with one stage). All must outlive it.
  PipelineSchedule(Model& model, int first, int last, int stage, int stages, Communicator* comm,
                   torch::Device device);

  void set_recompute(bool recompute) { recompute_ = recompute; }
  bool is_first() const { return stage_ == 0; }
  bool is_last() const { return stage_ + 1 == stages_; }

  // Forward and backward passes of one step's micro-batches (the first stage reads their
  // input, the last their target); gradients, scaled by 1/M, accumulate into the parameters'
  // gradients. Returns the sum of the micro-batches' losses on the last stage, 0 elsewhere (an
  // fp32 scalar on the device).
  torch::Tensor train(const std::vector<Batch>& micro_batches);
  // The loss of one batch, forward only: on the last stage; 0 elsewhere.
  torch::Tensor evaluate(const Batch& batch);

 private:
  // The stage's blocks on x.
  torch::Tensor run_blocks(torch::Tensor x);
  // Receives the previous stage's activation for micro-batch `micro` (a fresh tensor).
  torch::Tensor receive_activation(int micro);
  // Queues the activation's send to the next stage (kept alive in pending_ until waited).
  void send_activation(const torch::Tensor& y, int micro);
  void wait_pending();

  Model& model_;
  int first_, last_, stage_, stages_;
  Communicator* comm_;
  torch::Device device_;
  bool recompute_ = false;
  std::vector<std::unique_ptr<PendingCollective>> pending_;
  std::vector<torch::Tensor> in_flight_;  // tensors of pending sends
};

}  // namespace saturn::worker
