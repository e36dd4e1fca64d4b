// One rank's shard of a model's flat parameters, for fully sharded data parallelism (ZeRO-3).
//
// The unit of sharding is the model block. Each block's slice of FlatParameters' layout is
// padded with zeros to a multiple of the world size and cut into `world` equal shards; rank r
// keeps shard r of every block, in block order, in flat buffers of its own (fp32 master, compute
// copy, gradient) with the weight-decay slices that fall in them, so FlatOptimizer updates a
// shard as it would the whole (its gradient norm summed over ranks:
// FlatOptimizer::set_norm_reduction). The buffers live on the rank's device, or with CPU offload
// in host memory (the compute copy and gradient pinned when the device is a GPU), where the
// optimizer then runs: the device holds only the blocks being gathered. start_gather()
// rebuilds a block's full compute parameters on the device from every rank's shard;
// reduce_grad() sums a block's full gradient over ranks and adds this rank's part, as a mean,
// into the shard's gradient. gather_full() and shard_of() convert between the shard layout and
// FlatParameters' (checkpoints keep the full layout, whatever the technique); fill() takes a
// shard from any source of full-layout values (a checkpoint read in part: CheckpointReader).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/communicator.h"
#include "train/parameters.h"

namespace saturn::worker {

class ShardedParameters : public FlatBuffers {
 public:
  struct Unit {
    std::string block;                   // the model block
    std::int64_t offset = 0, numel = 0;  // its slice of the full layout (FlatParameters)
    std::int64_t shard_offset = 0;       // where this rank's shard of it starts here
    std::int64_t shard_numel = 0;        // numel padded to a multiple of world, / world
  };

  // Rank `rank` of `world` of a model laid out as `full`: takes this rank's shard of every
  // block's initial master weights from `initial` (full's master when not set; an InitialPart
  // built with InitialPart::shard(rank, world) holds exactly what is needed), the compute copy
  // in `compute_dtype`, a zero gradient, onto `device` or (`offload`) into host memory; blocks
  // are gathered on `device` either way.
  ShardedParameters(FlatParameters& full, int rank, int world, torch::Device device,
                    torch::ScalarType compute_dtype, bool offload = false,
                    const InitialValues& initial = {});

  int rank() const { return rank_; }
  int world() const { return world_; }
  const std::vector<Unit>& units() const { return units_; }
  // Where blocks are gathered and collectives run.
  torch::Device device() const { return device_; }
  // The shards are in host memory (CPU offload).
  bool offloaded() const { return offload_; }

  // Starts filling `full_unit` (shard_numel x world elements of the compute dtype on the
  // device) with unit `u`'s compute parameters from every rank's shard; its first numel
  // elements are the unit's slice of the full layout, the rest padding. `full_unit` is valid
  // after wait(). Every rank must start the same gathers in the same order. `comm` may be null
  // with one rank.
  // `shard`, when given, is this rank's shard of the unit (an offloaded shard copied to the
  // device ahead: BlockStreamer), gathered instead of the compute copy's; copied to the device
  // first if it is elsewhere.
  std::unique_ptr<PendingCollective> start_gather(std::size_t u, torch::Tensor full_unit,
                                                  Communicator* comm,
                                                  torch::Tensor shard = {}) const;
  // start_gather() and wait.
  void gather(std::size_t u, torch::Tensor full_unit, Communicator* comm) const;
  // Sums `full_grad` (unit `u`'s padded gradient, compute dtype, on the device) over ranks and
  // adds this rank's part, divided by the world size, into the shard's gradient (on the host
  // when offloaded). Every rank takes part. `full_grad` may be overwritten.
  void reduce_grad(std::size_t u, torch::Tensor full_grad, Communicator* comm);
  // This rank's part of the sum over ranks, divided by the world size, on the device
  // (`full_grad` itself with one rank); complete in stream order (NCCL) or on return (Gloo).
  // reduce_grad() adds the same into the shard's gradient.
  torch::Tensor mean_grad_part(std::size_t u, torch::Tensor full_grad, Communicator* comm);
  // Unit `u`'s window of the compute copy and of the gradient (shard_numel elements each).
  torch::Tensor compute_shard(std::size_t u) const;
  torch::Tensor grad_shard(std::size_t u) const;

  // A tensor in the shard layout (numel() elements: master, or an optimizer state) gathered
  // from every rank into the full layout (FlatParameters::numel() elements, on the CPU, fp32),
  // on every rank, or with `root` >= 0 on that rank only (the others get an undefined tensor
  // and hold one block's worth at a time). Every rank must take part.
  torch::Tensor gather_full(const torch::Tensor& shard, Communicator* comm, int root = -1) const;
  // Fills `shard` (numel() elements, the shard layout: master or an optimizer state) with this
  // rank's windows of the full layout's values from `source`, zeros in the padding. False when
  // `source` lacks a window.
  bool fill(const InitialValues& source, torch::Tensor shard) const;
  // This rank's shard of a tensor in the full layout, where the shards live.
  torch::Tensor shard_of(const torch::Tensor& full) const;

 private:
  // This rank's part of the sum over ranks (`full_grad` itself with one rank).
  torch::Tensor summed_grad_part(std::size_t u, torch::Tensor full_grad, Communicator* comm);

  int rank_, world_;
  torch::Device device_;
  bool offload_;
  std::int64_t full_numel_ = 0;
  std::vector<Unit> units_;
};

}  // namespace saturn::worker
