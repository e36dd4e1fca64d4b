// A training step captured once as a CUDA graph and replayed every step after: the forward and
// backward passes of every micro-step, gradient clipping and the fused AdamW update become one
// graph launch, so a step costs the GPU's time alone instead of thousands of kernel launches
// from the host. The step's activations live in the graph's private memory pool, sized by the
// capture.
//
// Contract: every step has the shapes of the captured one (the same micro-batches); the body
// enqueues its work on the current stream with no host synchronisation and allocates nothing
// that must outlive it beyond the tensors it returns. One rank only (no collectives in the
// graph). Needs a CUDA build of PyTorch >= 2.4 (kAvailable); elsewhere construction throws.
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "train/data_source.h"

namespace saturn::worker {

class GraphedStep {
 public:
  // Enqueues one whole optimizer step over `batches` (one per micro-step) at learning rate `lr`
  // (an fp32 scalar on the device); returns {sum of the micro-steps' losses, gradient norm
  // before clipping}, both device scalars.
  using Body = std::function<std::pair<torch::Tensor, torch::Tensor>(
      const std::vector<Batch>& batches, const torch::Tensor& lr)>;

  // Eager steps run on the graph's stream before the capture (libraries initialise lazily).
  static constexpr int kWarmupSteps = 2;
  static const bool kAvailable;

  GraphedStep(Body body, torch::Device device);
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  // Runs one step and returns the body's results, valid until the next call; work is ordered
  // after everything already queued on the current stream and before anything queued after.
  // The first kWarmupSteps calls run the body eagerly; the next captures it (from its own
  // batches) and replays it; later calls copy their batches into the captured ones and replay.
  // Throws c10::Error when the capture fails.
  std::pair<torch::Tensor, torch::Tensor> run(const std::vector<Batch>& batches, double lr);
  bool captured() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace saturn::worker
