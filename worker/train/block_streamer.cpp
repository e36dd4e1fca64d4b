// BlockStreamer: blocks materialised on the device around their forward and backward passes;
// see block_streamer.h.
#include "train/block_streamer.h"

#include <fmt/format.h>

namespace saturn::worker {
namespace {

// Released blocks whose device work may still be unfinished when a new block's buffer is
// allocated (TransferStreams::throttle): enough for the host to stay ahead of the GPU, few
// enough that the memory of blocks the host has moved past is reused.
constexpr int kRunAhead = 1;

// A streamed block in the autograd graph: forward without saving the block's activations,
// backward by recomputing them (block_streamer.h).
struct StreamedBlockFunction : public torch::autograd::Function<StreamedBlockFunction> {
  // x: the block's input [B, ...]; returns the block's output.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               int64_t block, int64_t streamer) {
    ctx->saved_data["block"] = block;
    ctx->saved_data["streamer"] = streamer;
    ctx->save_for_backward({x});
    return reinterpret_cast<BlockStreamer*>(streamer)->run_streamed(static_cast<int>(block), x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* streamer = reinterpret_cast<BlockStreamer*>(ctx->saved_data["streamer"].toInt());
    const int block = static_cast<int>(ctx->saved_data["block"].toInt());
    const torch::Tensor x = ctx->get_saved_variables()[0];
    return {streamer->backward_streamed(block, x, grads[0]), torch::Tensor(), torch::Tensor()};
  }
};

// Without recomputation: an identity on a block's input whose backward runs once the block's
// backward is done (the autograd engine runs gradient accumulation, top priority, as soon as a
// parameter's gradient exists, so by then every parameter of the block has its gradient), and
// releases the block there.
struct ReleaseAfterBackwardFunction
    : public torch::autograd::Function<ReleaseAfterBackwardFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               int64_t block, int64_t streamer) {
    ctx->saved_data["block"] = block;
    ctx->saved_data["streamer"] = streamer;
    return x.view_as(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* streamer = reinterpret_cast<BlockStreamer*>(ctx->saved_data["streamer"].toInt());
    streamer->release_after_backward(static_cast<int>(ctx->saved_data["block"].toInt()));
    return {grads[0], torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

BlockStreamer::BlockStreamer(Model& model, FlatParameters& params, torch::Device device,
                             ShardedParameters* shards, Communicator* comm)
    : model_(model),
      params_(params),
      device_(device),
      shards_(shards),
      comm_(comm),
      transfers_(device) {
  const auto& names = model.block_names();
  const auto& entries = params.entries();
  std::size_t next = 0;
  for (std::size_t b = 0; b < names.size(); ++b) {
    Unit u;
    u.block = model.blocks()[b];
    u.offset = next < entries.size() ? entries[next].offset : params.numel();
    while (next < entries.size() && entries[next].block == names[b]) {
      u.entries.push_back(next);
      u.numel += entries[next].numel;
      ++next;
    }
    u.resident = b == 0 || b + 1 == names.size();
    units_.push_back(std::move(u));
  }
  // FlatParameters lays blocks out in model order; anything else is a model this cannot stream.
  TORCH_CHECK(next == entries.size(), "parameter ", entries[next].name,
              " is not in its block's place in the flat buffers");
  const torch::NoGradGuard no_grad;
  if (const FlatRange* kept = params.kept()) {
    TORCH_CHECK(shards_ == nullptr, "blocks kept on the device are an offloading setting");
    // A tensor on "cpu:0" reports "cpu", one on "cuda" reports "cuda:0": the index counts only
    // where both name one.
    const torch::Device on = kept->master().device();
    TORCH_CHECK(on.type() == device_.type() &&
                    (!on.has_index() || !device_.has_index() || on.index() == device_.index()),
                "the kept blocks are on ", on, ", not on ", device_);
    const auto first = std::find_if(units_.begin(), units_.end(), [&](const Unit& u) {
      return u.numel > 0 && u.offset >= kept->offset();
    });
    TORCH_CHECK(first != units_.end() && first->offset == kept->offset(),
                "the range kept on the device must start at a block's first parameter");
    TORCH_CHECK(first != units_.begin(), "block 0 is not kept on the device");
    for (auto u = first; u != units_.end(); ++u) u->kept = u->resident = true;
  }
  for (const Block& block : model.blocks()) {
    for (torch::Tensor& buffer : block->buffers()) buffer.set_data(buffer.to(device_));
  }
  if (!shards_) return;
  for (Unit& u : units_) {
    if (u.entries.empty()) continue;
    const auto& su = shards_->units();
    const std::string& block = params.entries()[u.entries.front()].block;
    for (std::size_t i = 0; i < su.size(); ++i) {
      if (su[i].block == block) u.shard_unit = static_cast<int>(i);
    }
    TORCH_CHECK(u.shard_unit >= 0, "block ", block, " has no shard");
    park(u);
  }
}

void BlockStreamer::park(Unit& u) {
  const torch::Tensor nothing = torch::empty({0}, shards_->compute().options());
  for (std::size_t i : u.entries) {
    const torch::Tensor& p = params_.parameter(i);
    p.set_data(nothing);
    p.mutable_grad() = torch::Tensor();
  }
}

BlockStreamer::~BlockStreamer() {
  for (Unit& u : units_) {
    drop_incoming(u);
    if (u.device_params.defined()) release(u, /*keep_grad=*/false);
  }
}

void BlockStreamer::fetch(Unit& u) {
  transfers_.throttle(kRunAhead);
  if (shards_) {
    const auto su = static_cast<std::size_t>(u.shard_unit);
    const auto options = shards_->compute().options().device(device_).pinned_memory(false);
    const std::int64_t full_numel = shards_->units()[su].shard_numel * shards_->world();
    if (shards_->offloaded() && transfers_.available()) {
      // The shard is copied in and gathered on the copy-in stream: the compute stream waits
      // for neither until the block is materialised.
      u.incoming = transfers_.copy_in(shards_->compute_shard(su), [&](torch::Tensor shard) {
        if (shards_->world() == 1) return shard;
        torch::Tensor full = torch::empty({full_numel}, options);
        shards_->start_gather(su, full, comm_, std::move(shard))->wait();
        return full;
      });
      return;
    }
    u.gathered = torch::empty({full_numel}, options);
    u.gathering = shards_->start_gather(su, u.gathered, comm_);
  } else {
    // The host slice is not written before the step ends (the optimizer runs after end_step()).
    u.incoming = transfers_.copy_in(params_.compute().narrow(0, u.offset, u.numel));
  }
}

void BlockStreamer::drop_incoming(Unit& u) {
  // A gather in flight writes into u.gathered, and every rank's copy of it must complete.
  if (u.gathering) u.gathering->wait();
  u.gathering.reset();
  u.gathered = torch::Tensor();
  u.incoming = InboundCopy();
}

void BlockStreamer::materialise(Unit& u, bool with_grad) {
  const torch::NoGradGuard no_grad;
  if (shards_ && u.shard_unit < 0) return;
  if (u.gathering || u.incoming.tensor.defined()) {
    ++fetched_ahead_;
  } else {
    fetch(u);
  }
  if (u.gathering) {
    u.gathering->wait();
    u.gathering.reset();
    u.device_params = std::move(u.gathered);
    u.gathered = torch::Tensor();
  } else {
    u.device_params = transfers_.use(u.incoming);
    u.incoming = InboundCopy();
  }
  bytes_to_device_ += u.device_params.numel() * u.device_params.element_size();
  if (with_grad) u.device_grad = torch::zeros_like(u.device_params);
  for (std::size_t i : u.entries) {
    const FlatParameters::Entry& e = params_.entries()[i];
    const torch::Tensor& p = params_.parameter(i);
    p.set_data(u.device_params.narrow(0, e.offset - u.offset, e.numel).view(e.shape));
    p.mutable_grad() = with_grad
                           ? u.device_grad.narrow(0, e.offset - u.offset, e.numel).view(e.shape)
                           : torch::Tensor();
  }
}

void BlockStreamer::release(Unit& u, bool keep_grad) {
  const torch::NoGradGuard no_grad;
  if (shards_) {
    if (u.shard_unit < 0) return;
    if (keep_grad && u.device_grad.defined()) {
      const auto su = static_cast<std::size_t>(u.shard_unit);
      if (shards_->offloaded() && transfers_.available()) {
        add_offloaded_grad(u, shards_->mean_grad_part(su, u.device_grad, comm_),
                           shards_->grad_shard(su));
      } else {
        shards_->reduce_grad(su, u.device_grad, comm_);
      }
    }
    park(u);
    u.device_params = torch::Tensor();
    u.device_grad = torch::Tensor();
    if (!u.resident) transfers_.mark();
    return;
  }
  if (keep_grad && u.device_grad.defined()) {
    add_offloaded_grad(u, u.device_grad, params_.grad().narrow(0, u.offset, u.numel));
  }
  for (std::size_t i : u.entries) {
    const FlatParameters::Entry& e = params_.entries()[i];
    const torch::Tensor& p = params_.parameter(i);
    p.set_data(params_.compute().narrow(0, e.offset, e.numel).view(e.shape));
    p.mutable_grad() = params_.grad().narrow(0, e.offset, e.numel).view(e.shape);
  }
  u.device_params = torch::Tensor();
  u.device_grad = torch::Tensor();
  if (!u.resident) transfers_.mark();
}

void BlockStreamer::add_offloaded_grad(Unit& u, const torch::Tensor& device_grad,
                                       torch::Tensor host_grad) {
  if (u.grad_pending && transfers_.available() && !u.resident) {
    // The host gradient is zero here (begin_step()): a copy on the side stream is the sum.
    transfers_.copy_out(device_grad, std::move(host_grad));
  } else {
    transfers_.finish_out();  // an earlier micro-step's copy into this slice
    host_grad.add_(device_grad.to(host_grad.device()));
  }
  u.grad_pending = false;
}

void BlockStreamer::begin_step() {
  TORCH_CHECK(!in_step_, "begin_step() twice without end_step()");
  step_with_grad_ = torch::GradMode::is_enabled();
  for (Unit& u : units_) {
    u.grad_pending = step_with_grad_;
    if (u.resident && !u.kept) materialise(u, step_with_grad_);
  }
  in_step_ = true;
}

void BlockStreamer::end_step() {
  TORCH_CHECK(in_step_, "end_step() without begin_step()");
  // Resident blocks, and (without recomputation) any block whose backward pass did not run.
  for (Unit& u : units_) {
    if ((u.resident && !u.kept) || u.device_params.defined()) release(u, step_with_grad_);
    drop_incoming(u);
  }
  // The optimizer step that follows may run on the host and write the buffers that copies,
  // including dropped prefetches, read from.
  transfers_.finish();
  in_step_ = false;
}

torch::Tensor BlockStreamer::forward(const torch::Tensor& input) {
  TORCH_CHECK(in_step_, "BlockStreamer::forward outside begin_step() / end_step()");
  torch::Tensor x = input;
  const int64_t self = reinterpret_cast<int64_t>(this);
  for (std::size_t b = 0; b < units_.size(); ++b) {
    Unit& u = units_[b];
    const bool backward = torch::GradMode::is_enabled() && x.requires_grad();
    if (u.resident) {
      x = u.block->forward(x);
    } else if (!backward) {
      x = run_streamed(static_cast<int>(b), x);
    } else if (recompute_) {
      x = StreamedBlockFunction::apply(x, static_cast<int64_t>(b), self);
    } else {
      materialise(u, /*with_grad=*/true);
      prefetch(static_cast<int>(b), +1);
      x = u.block->forward(ReleaseAfterBackwardFunction::apply(x, static_cast<int64_t>(b), self));
    }
  }
  // The backward pass starts with the last streamed blocks: copy them in while the resident
  // blocks after them, the loss and those blocks' backward run.
  if (recompute_ && torch::GradMode::is_enabled() && x.requires_grad()) prefetch(blocks(), -1);
  return x;
}

void BlockStreamer::release_after_backward(int block) {
  release(units_[static_cast<std::size_t>(block)], /*keep_grad=*/true);
}

void BlockStreamer::prefetch(int block, int direction) {
  int ahead = in_flight_ - 1;
  for (int b = block + direction; ahead > 0 && b >= 0 && b < blocks(); b += direction) {
    Unit& u = units_[static_cast<std::size_t>(b)];
    if (u.resident || (shards_ && u.shard_unit < 0)) continue;
    --ahead;
    if (u.device_params.defined() || u.incoming.tensor.defined() || u.gathering) continue;
    fetch(u);
  }
}

torch::Tensor BlockStreamer::run_streamed(int block, const torch::Tensor& x) {
  Unit& u = units_[static_cast<std::size_t>(block)];
  materialise(u, /*with_grad=*/false);
  prefetch(block, +1);
  torch::Tensor y;
  {
    const torch::NoGradGuard no_grad;
    y = u.block->forward(x);
  }
  release(u, /*keep_grad=*/false);
  return y;
}

torch::Tensor BlockStreamer::backward_streamed(int block, const torch::Tensor& x,
                                               const torch::Tensor& grad_y) {
  Unit& u = units_[static_cast<std::size_t>(block)];
  materialise(u, /*with_grad=*/true);
  prefetch(block, -1);
  // The recomputation must not move BatchNorm statistics a second time.
  std::vector<torch::Tensor> buffers = u.block->buffers();
  std::vector<torch::Tensor> kept;
  for (const torch::Tensor& b : buffers) kept.push_back(b.clone());
  const torch::Tensor input = x.detach().requires_grad_(true);
  {
    const torch::AutoGradMode enable(true);
    const torch::Tensor y = u.block->forward(input);
    torch::autograd::backward({y}, {grad_y});
  }
  {
    const torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(kept[i]);
  }
  release(u, /*keep_grad=*/true);
  return input.grad();
}

}  // namespace saturn::worker
