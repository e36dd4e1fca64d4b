// GraphedStep on PyTorch's CUDA graphs (at::cuda::CUDAGraph); see graphed_step.h.
#include "train/graphed_step.h"

#include "compat.h"

#if defined(SATURN_WITH_CUDA) && defined(SATURN_HAS_FUSED_ADAMW) && !defined(SATURN_NO_CUDA_GRAPHS)
#define SATURN_HAS_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace saturn::worker {

#ifdef SATURN_HAS_CUDA_GRAPHS

const bool GraphedStep::kAvailable = true;

struct GraphedStep::State {
  State(Body b, torch::Device d)
      : body(std::move(b)),
        index(d.has_index() ? d.index() : c10::cuda::current_device()),
        stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index)) {}

  Body body;
  c10::DeviceIndex index;
  c10::cuda::CUDAStream stream;  // the graph is captured and replayed on it
  at::cuda::CUDAGraph graph;
  std::vector<Batch> batches;  // the captured step's inputs, refilled before each replay
  torch::Tensor lr;            // fp32 scalar the graph reads
  torch::Tensor loss, norm;    // the captured step's outputs
  int eager_steps = 0;
  bool captured = false;
};

GraphedStep::GraphedStep(Body body, torch::Device device)
    : state_(std::make_unique<State>(std::move(body), device)) {
  TORCH_CHECK(device.is_cuda(), "a CUDA graph needs a CUDA device, not ", device.str());
  state_->lr = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device));
}

GraphedStep::~GraphedStep() = default;

bool GraphedStep::captured() const { return state_->captured; }

std::pair<torch::Tensor, torch::Tensor> GraphedStep::run(const std::vector<Batch>& batches,
                                                         double lr) {
  State& s = *state_;
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(s.index);
  at::cuda::CUDAEvent ready;
  ready.record(caller);
  ready.block(s.stream);
  std::pair<torch::Tensor, torch::Tensor> out;
  {
    const c10::cuda::CUDAStreamGuard on_graph_stream(s.stream);
    if (s.eager_steps < kWarmupSteps) {
      s.lr.fill_(lr);
      out = s.body(batches, s.lr);
      ++s.eager_steps;
    } else {
      if (!s.captured) {
        for (const Batch& b : batches) {
          Batch copy = b;
          copy.input = b.input.clone(torch::MemoryFormat::Contiguous);
          copy.target = b.target.clone(torch::MemoryFormat::Contiguous);
          s.batches.push_back(std::move(copy));
        }
        s.lr.fill_(lr);
        c10::cuda::device_synchronize();
        // Blocks cached by the eager warm-up steps would sit beside the graph's own pool.
        c10::cuda::CUDACachingAllocator::emptyCache();
        s.graph.capture_begin();
        try {
          std::tie(s.loss, s.norm) = s.body(s.batches, s.lr);
        } catch (...) {
          // End the capture so that the stream works again, then report the first failure.
          try {
            s.graph.capture_end();
          } catch (...) {
          }
          throw;
        }
        s.graph.capture_end();
        s.captured = true;
      } else {
        TORCH_CHECK(batches.size() == s.batches.size(), "a graphed step has ", s.batches.size(),
                    " micro-steps; ", batches.size(), " given");
        for (std::size_t i = 0; i < batches.size(); ++i) {
          s.batches[i].input.copy_(batches[i].input, /*non_blocking=*/true);
          s.batches[i].target.copy_(batches[i].target, /*non_blocking=*/true);
        }
        s.lr.fill_(lr);
      }
      s.graph.replay();
      out = {s.loss, s.norm};
    }
  }
  at::cuda::CUDAEvent done;
  done.record(s.stream);
  done.block(caller);
  return out;
}

#else  // no CUDA graphs in this build

const bool GraphedStep::kAvailable = false;

struct GraphedStep::State {};

GraphedStep::GraphedStep(Body, torch::Device) {
  TORCH_CHECK(false, "CUDA graphs need saturn-worker built against a CUDA PyTorch >= 2.4");
}

GraphedStep::~GraphedStep() = default;

bool GraphedStep::captured() const { return false; }

std::pair<torch::Tensor, torch::Tensor> GraphedStep::run(const std::vector<Batch>&, double) {
  TORCH_CHECK(false, "CUDA graphs need saturn-worker built against a CUDA PyTorch >= 2.4");
  return {};
}

#endif

}  // namespace saturn::worker
