// A model's parameters in flat buffers, and the optimizers that update them.
//
// Every distinct parameter (a tied weight once) gets a slice of three flat buffers on the
// training device: `master` (fp32, what the optimizer updates and checkpoints hold), `compute`
// (what the model computes with: bf16 on CUDA, the master itself on the CPU) and `grad` (the
// compute dtype; autograd accumulates into it in place). The model's parameters become views of
// `compute`, their gradients views of `grad`. Parameters with weight decay (matrices,
// embeddings, convolutions) come first within each block, then those without (biases, norms);
// blocks lie in forward order, so the backward pass completes the buffer from its end to its
// start, and data-parallel gradient buckets cut from the end fill in the order they are
// reduced. An optimizer step is a handful of large kernels (weight decay one per block) instead
// of several per tensor, and gradient clipping one norm.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "saturn/workload.h"

namespace saturn::worker {

// Where a part of the parameters (an FSDP shard, a GPipe stage) takes its initial values from:
// fills `dst` (`numel` elements, any device and floating dtype) with elements [offset, offset +
// numel) of the full flat layout's initial fp32 master weights (FlatParameters). Returns false,
// leaving `dst` as it was, when the source does not hold all of that range.
using InitialValues =
    std::function<bool(std::int64_t offset, std::int64_t numel, torch::Tensor dst)>;
// The values of `full`, a tensor in the full flat layout (any device), which it must outlive.
InitialValues values_of(const torch::Tensor& full);

// Puts one block's distinct parameters (module order) in the order FlatParameters lays them out:
// those with weight decay (two or more dimensions: matrices, embeddings, convolutions) first,
// each group in module order.
void order_for_layout(std::vector<std::pair<std::string, torch::Tensor>>::iterator begin,
                      std::vector<std::pair<std::string, torch::Tensor>>::iterator end);

// What an optimizer updates: flat buffers of `master` weights (fp32), their `compute` copy (the
// compute dtype; the master itself when that is fp32) and the gradient (the compute dtype),
// with the slices that take weight decay, numel() elements each. FlatParameters holds a whole
// model's (numel() the layout's; its buffers may hold less, see FlatParameters::held());
// ShardedParameters (sharded_parameters.h) one rank's shard of it.
class FlatBuffers {
 public:
  // A contiguous slice of the flat buffers, elements.
  struct Range {
    std::int64_t offset = 0;
    std::int64_t numel = 0;
  };

  virtual ~FlatBuffers() = default;
  std::int64_t numel() const { return numel_; }
  // The slices that take weight decay, in offset order.
  const std::vector<Range>& decay_ranges() const { return decay_ranges_; }
  torch::Tensor& master() { return master_; }
  const torch::Tensor& master() const { return master_; }
  const torch::Tensor& compute() const { return compute_; }
  torch::Tensor& grad() { return grad_; }
  bool separate_compute() const { return compute_.data_ptr() != master_.data_ptr(); }

  void zero_grad() { grad_.zero_(); }
  // Copies master into compute (a cast) after the optimizer changed master.
  void publish();

 protected:
  std::vector<Range> decay_ranges_;
  std::int64_t numel_ = 0;
  torch::Tensor master_, compute_, grad_;
};

// Elements [offset(), offset() + numel()) of another FlatBuffers' layout as FlatBuffers of
// their own, so that one optimizer updates that range alone. Offloading with blocks kept on the
// device splits the model in two: the streamed blocks' range is views of the host buffers, the
// kept blocks' range buffers of its own on the device (FlatParameters::kept()).
class FlatRange : public FlatBuffers {
 public:
  // Views of `whole`'s buffers (no copy), which must hold the range; `whole` must outlive this
  // and keep its buffers.
  FlatRange(FlatBuffers& whole, std::int64_t offset, std::int64_t numel);
  // Buffers of its own on `device`, for the range of `layout`'s layout: master (fp32,
  // uninitialised: the owner fills it, then calls publish()), the compute copy in
  // `compute_dtype` (the master itself for fp32), a zero gradient. Independent of `layout`.
  FlatRange(const FlatBuffers& layout, std::int64_t offset, std::int64_t numel,
            torch::Device device, torch::ScalarType compute_dtype);

  // Where the range starts in the whole layout, elements.
  std::int64_t offset() const { return offset_; }

 private:
  // decay_ranges_ and numel_ from the whole's decay ranges clipped to the range.
  void take_layout(const FlatBuffers& whole, std::int64_t numel);
  std::int64_t offset_ = 0;
};

class FlatParameters : public FlatBuffers {
 public:
  struct Entry {
    std::string name;  // the module path, e.g. "h.0.c_attn.weight"
    std::string block;  // the model block it belongs to, e.g. "h.0" (Model::block_names())
    std::int64_t offset = 0;
    std::int64_t numel = 0;
    std::vector<std::int64_t> shape;
    bool decay = false;
  };

  // Moves `module`'s parameters to `device` and into flat buffers of `compute_dtype`. Buffers
  // (BatchNorm statistics) move to the device as they are. `pinned` (host buffers that CUDA
  // copies from and to, for offloading; needs a CUDA build): compute and gradient buffers in
  // page-locked memory, so that copies to a GPU run at full speed and asynchronously. Decay
  // ranges: decay entries, adjacent ones merged.
  // `layout_only` (FSDP and GPipe, which hold their part of the parameters in buffers of their
  // own, filled from an InitialValues): the layout alone, from the parameters' shapes; no
  // buffers, master() empty, the module's parameters left as they are (placeholders, when an
  // InitialPart took the values while the model was built) until release_buffers().
  // `kept_blocks` (offloading with blocks kept on the device; names as in Entry::block): the
  // parameters of these blocks, which must come last in the layout, get buffers of their own on
  // `kept_device` (kept()), and the buffers above hold the parameters before them only.
  FlatParameters(torch::nn::Module& module, torch::Device device, torch::ScalarType compute_dtype,
                 bool pinned = false, bool layout_only = false,
                 const std::vector<std::string>& kept_blocks = {},
                 torch::Device kept_device = torch::kCPU);

  const std::vector<Entry>& entries() const { return entries_; }
  // Elements [0, held()) of the layout are in master(), compute() and grad(); the rest, when
  // blocks are kept on the device, in kept(). numel() is the whole layout's.
  std::int64_t held() const { return kept_ ? kept_->offset() : numel_; }
  // The kept blocks' range [held(), numel()) with buffers of its own on the device; null when
  // no block is kept (or the kept blocks have no parameters). Owned by this object.
  FlatRange* kept() { return kept_.get(); }
  // The module's parameter behind entries()[i] (its data and grad are views of the buffers).
  const torch::Tensor& parameter(std::size_t i) const { return parameters_[i]; }

  // The initial values master() holds (InitialValues over master: elements [0, held())).
  InitialValues initial_values() const;

  // Keeps the layout only, for techniques that hold their part of the parameters in buffers of
  // their own (FSDP shards, GPipe stages): frees the buffers, and points every module
  // parameter still holding what this object gave or left it (a view of the buffers, or with
  // `layout_only` its placeholder) at an empty tensor (those blocks do not run on this rank).
  // numel(), entries() and decay_ranges() stay; master() is empty.
  void release_buffers();

 private:
  std::vector<Entry> entries_;
  std::vector<torch::Tensor> parameters_;
  // The storage each parameter had when this object was done with it, until release_buffers().
  std::vector<c10::Storage> given_;
  std::unique_ptr<FlatRange> kept_;
};

// Optimizer hyper-parameters from the job; lr is set per step by the schedule.
struct OptimizerConfig {
  std::string kind = "adamw";  // "adamw" | "sgd"
  double weight_decay = 0;
  double momentum = 0;  // sgd
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  // AdamW through PyTorch's fused kernel (one pass over parameters, gradients and both moments)
  // where this libtorch has one (PyTorch >= 2.4, CPU and CUDA); false: the portable update.
  bool fused = true;
  // AdamW on buffers in host memory through host_adamw.h's one-pass kernel (the gradient read
  // as it is, the compute copy written in the same pass); takes precedence over `fused` there.
  bool host_kernel = true;
  static OptimizerConfig from_job(const JobSpec& job);
};

// Threads the host optimizer step's parallel loops run on now: torch::get_num_threads(), or 1
// where the worker was built without OpenMP (at::parallel_for's threads are OpenMP pragmas in
// its header, compiled into the caller; worker/CMakeLists.txt).
int host_loop_threads();

// Updates FlatBuffers::master from its (fp32-converted) gradient. AdamW: decoupled weight
// decay on the decay slice; SGD: weight decay added to the gradient, optional momentum.
class FlatOptimizer {
 public:
  FlatOptimizer(FlatBuffers& params, OptimizerConfig config);

  // One update at learning rate `lr` from FlatParameters::grad (converted to fp32), clipped to
  // a global L2 norm of `max_norm` first when max_norm > 0; then publishes master to compute.
  // Returns the gradient's norm before clipping.
  double step(double lr, double max_norm);
  // The same update with the learning rate read from `lr` (an fp32 scalar on the training
  // device) and no host synchronisation, so that it can be captured in a CUDA graph; only with
  // fused(). Returns the gradient's norm before clipping, a scalar on the device. It does not
  // advance steps(): call count_step() each time the work has run (a graph may replay it).
  torch::Tensor step_on_device(const torch::Tensor& lr, double max_norm);
  void count_step() { ++steps_; }
  // True when step() runs PyTorch's fused AdamW kernel.
  bool fused() const { return fused_; }
  // True when step() runs host_adamw.h's kernel (AdamW, buffers in host memory).
  bool host_kernel() const { return host_; }

  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps);
  // For buffers that hold a shard of the model (ShardedParameters): `sum_over_ranks` maps this
  // rank's sum of squared gradients (an fp32 scalar on the device) to the sum over all ranks,
  // so that clipping and the reported norm are the whole gradient's.
  void set_norm_reduction(std::function<torch::Tensor(torch::Tensor)> sum_over_ranks) {
    sum_over_ranks_ = std::move(sum_over_ranks);
  }
  // State tensors by name ("exp_avg", "exp_avg_sq" for AdamW; "momentum" for SGD), each flat
  // like master; for checkpoints.
  std::vector<std::pair<std::string, torch::Tensor*>> state();

 private:
  FlatBuffers& params_;
  OptimizerConfig config_;
  std::int64_t steps_ = 0;
  torch::Tensor exp_avg_, exp_avg_sq_, momentum_;
  torch::Tensor grad32_;  // fp32 copy of a bf16 gradient (undefined for fp32), reused

  // The fused kernel's tensor lists: slices of master, the fp32 gradient and the moments, in two
  // groups (with and without weight decay); one step counter (fp32 scalar) per slice.
  struct FusedGroup {
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    double weight_decay = 0;
  };
  // The gradient in fp32: the flat gradient itself, or for bf16 grad32_, filled from it.
  torch::Tensor fp32_grad();
  // Copies the gradient to fp32, clips, advances the step tensors and runs the fused kernel
  // (steps_ is the caller's to advance); returns
  // the norm before clipping on the device. Lr: double or device scalar tensor.
  template <typename Lr>
  torch::Tensor fused_step(const Lr& lr, double max_norm);
  torch::Tensor clip_scale(const torch::Tensor& norm, double max_norm) const;
  // The gradient's L2 norm as a device scalar (over all ranks with a norm reduction).
  torch::Tensor norm_of(const torch::Tensor& g) const;
  std::function<torch::Tensor(torch::Tensor)> sum_over_ranks_;
  bool fused_ = false;
  std::vector<FusedGroup> groups_;

  // The buffers cut into slices with and without weight decay, in offset order (the host
  // kernel's parallel loop and the fused kernel's two groups).
  struct Slice {
    std::int64_t offset = 0, numel = 0;
    bool decay = false;
  };
  std::vector<Slice> slices_;
  bool host_ = false;
  double host_step(double lr, double max_norm);
};

// Learning rate of optimizer step `step` (0-based) of `total`: linear warm-up from lr/warmup to
// lr over `warmup` steps, then cosine decay to lr/10 at the last step.
double learning_rate(double lr, std::int64_t step, std::int64_t warmup, std::int64_t total);

}  // namespace saturn::worker
