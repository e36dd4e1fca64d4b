// ShardedParameters: blocks padded and cut into one shard per rank; see sharded_parameters.h.
#include "train/sharded_parameters.h"

#include <algorithm>

namespace saturn::worker {
namespace {

// A collective that was done when it started (one rank).
class Done final : public PendingCollective {
 public:
  void wait() override {}
};

}  // namespace

ShardedParameters::ShardedParameters(FlatParameters& full, int rank, int world,
                                     torch::Device device, torch::ScalarType compute_dtype,
                                     bool offload, const InitialValues& initial)
    : rank_(rank), world_(world), device_(device), offload_(offload), full_numel_(full.numel()) {
  TORCH_CHECK(world >= 1 && rank >= 0 && rank < world, "rank ", rank, " of ", world);
  // Units: runs of entries of one block (FlatParameters keeps a block's entries together).
  const auto& entries = full.entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (units_.empty() || units_.back().block != entries[i].block) {
      Unit u;
      u.block = entries[i].block;
      u.offset = entries[i].offset;
      units_.push_back(u);
    }
    units_.back().numel += entries[i].numel;
  }
  for (Unit& u : units_) {
    u.shard_numel = (u.numel + world - 1) / world;
    u.shard_offset = numel_;
    numel_ += u.shard_numel;
  }
  // This rank's window of each unit, [start, start + shard_numel) of the unit's padded slice:
  // master values where the unit has them, zeros in the padding; decay slices clipped to it.
  const torch::Device home = offload ? torch::Device(torch::kCPU) : device;
  const auto on = torch::TensorOptions().device(home);
  master_ = torch::empty({numel_}, on.dtype(torch::kFloat));
  for (const Unit& u : units_) {
    const std::int64_t start = u.offset + rank * u.shard_numel;
    const std::int64_t end = std::min(u.offset + u.numel, start + u.shard_numel);
    for (const Range& r : full.decay_ranges()) {
      const std::int64_t lo = std::max(r.offset, start), hi = std::min(r.offset + r.numel, end);
      if (hi > lo) decay_ranges_.push_back({u.shard_offset + (lo - start), hi - lo});
    }
  }
  TORCH_CHECK(fill(initial ? initial : full.initial_values(), master_),
              "ShardedParameters: no initial values for rank ", rank, "'s shards");
  // Offloaded to a GPU machine, the compute copy and the gradient are pinned: they are what is
  // copied between host and device asynchronously (BlockStreamer). The master is not (pinned
  // memory is scarce, and the host allocator rounds it up).
  const bool pinned = offload && device.is_cuda();
  if (compute_dtype == torch::kFloat && !pinned) {
    compute_ = master_;
  } else {
    compute_ = torch::empty({numel_}, on.dtype(compute_dtype).pinned_memory(pinned));
    compute_.copy_(master_);
  }
  grad_ = torch::zeros({numel_}, on.dtype(compute_dtype).pinned_memory(pinned));
}

torch::Tensor ShardedParameters::compute_shard(std::size_t u) const {
  return compute_.narrow(0, units_[u].shard_offset, units_[u].shard_numel);
}

torch::Tensor ShardedParameters::grad_shard(std::size_t u) const {
  return grad_.narrow(0, units_[u].shard_offset, units_[u].shard_numel);
}

std::unique_ptr<PendingCollective> ShardedParameters::start_gather(std::size_t u,
                                                                   torch::Tensor full_unit,
                                                                   Communicator* comm,
                                                                   torch::Tensor shard) const {
  torch::Tensor mine = shard.defined() ? std::move(shard) : compute_shard(u);
  if (world_ == 1) {
    full_unit.copy_(mine, /*non_blocking=*/true);
    return std::make_unique<Done>();
  }
  TORCH_CHECK(comm, "sharded over ", world_, " ranks without a communicator");
  // Offloaded: the shard goes to the device first, ordered before the gather on its stream.
  if (mine.device() != device_) mine = mine.to(device_, /*non_blocking=*/true);
  return comm->start_all_gather(std::move(mine), std::move(full_unit));
}

void ShardedParameters::gather(std::size_t u, torch::Tensor full_unit, Communicator* comm) const {
  start_gather(u, std::move(full_unit), comm)->wait();
}

torch::Tensor ShardedParameters::summed_grad_part(std::size_t u, torch::Tensor full_grad,
                                                  Communicator* comm) {
  if (world_ == 1) return full_grad;
  TORCH_CHECK(comm, "sharded over ", world_, " ranks without a communicator");
  torch::Tensor part = torch::empty({units_[u].shard_numel}, full_grad.options());
  comm->start_reduce_scatter(std::move(full_grad), part)->wait();
  return part;
}

torch::Tensor ShardedParameters::mean_grad_part(std::size_t u, torch::Tensor full_grad,
                                                Communicator* comm) {
  torch::Tensor part = summed_grad_part(u, std::move(full_grad), comm);
  return world_ == 1 ? part : part.mul_(1.0 / world_);
}

void ShardedParameters::reduce_grad(std::size_t u, torch::Tensor full_grad, Communicator* comm) {
  torch::Tensor shard_grad = grad_shard(u);
  // The mean in one rounding (a bf16 gradient): the scale applied as the part is added.
  shard_grad.add_(summed_grad_part(u, std::move(full_grad), comm).to(shard_grad.device()),
                  1.0 / world_);
}

torch::Tensor ShardedParameters::gather_full(const torch::Tensor& shard, Communicator* comm,
                                             int root) const {
  TORCH_CHECK(shard.numel() == numel_, "gather_full: ", shard.numel(), " elements, shards hold ",
              numel_);
  const bool keeps = root < 0 || root == rank_;
  torch::Tensor out = keeps ? torch::empty({full_numel_}, torch::kFloat) : torch::Tensor();
  for (const Unit& u : units_) {
    // Collectives run on the device (NCCL takes no host tensors), wherever the shards live.
    torch::Tensor padded = torch::empty({u.shard_numel * world_}, shard.options().device(device_));
    const torch::Tensor mine =
        shard.narrow(0, u.shard_offset, u.shard_numel).to(device_).contiguous();
    if (world_ == 1) {
      padded.copy_(mine);
    } else {
      TORCH_CHECK(comm, "sharded over ", world_, " ranks without a communicator");
      comm->start_all_gather(mine, padded)->wait();
    }
    if (keeps) out.narrow(0, u.offset, u.numel).copy_(padded.narrow(0, 0, u.numel));
  }
  return out;
}

bool ShardedParameters::fill(const InitialValues& source, torch::Tensor shard) const {
  TORCH_CHECK(shard.numel() == numel_, "fill: ", shard.numel(), " elements, shards hold ", numel_);
  const torch::NoGradGuard no_grad;
  shard.zero_();
  for (const Unit& u : units_) {
    const std::int64_t start = u.offset + rank_ * u.shard_numel;
    const std::int64_t end = std::min(u.offset + u.numel, start + u.shard_numel);
    if (end > start && !source(start, end - start, shard.narrow(0, u.shard_offset, end - start))) {
      return false;
    }
  }
  return true;
}

torch::Tensor ShardedParameters::shard_of(const torch::Tensor& full) const {
  TORCH_CHECK(full.numel() == full_numel_, "shard_of: ", full.numel(), " elements, the model has ",
              full_numel_);
  torch::Tensor out = torch::empty({numel_}, full.options().device(master_.device()));
  fill(values_of(full), out);
  return out;
}

}  // namespace saturn::worker
