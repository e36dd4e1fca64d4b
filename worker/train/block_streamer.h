// Runs a model block by block with each block's parameters on the training device only while
// the block computes: the engine of model offloading (and of any technique whose parameters
// live elsewhere between uses).
//
// The model's flat parameters (FlatParameters) stay where they were built — host memory for
// offloading, except the blocks kept on the device (below) — and hold the master weights, the
// compute copy and the gradient. A *streamed*
// block's compute slice is copied to a device buffer before its forward pass, the block runs,
// and the buffer is dropped. Its backward pass copies the slice again, recomputes the block's
// forward from the saved input (activation checkpointing: only block inputs are kept between
// the passes), runs the block's backward into a device gradient buffer, adds that into the flat
// gradient and drops both buffers. *Resident* blocks (the first and the last: GPT's embedding
// and head share the token embedding) are on the device from begin_step() to end_step() and run
// through autograd as usual.
//
//   streamer.begin_step();                    // resident blocks to the device
//   loss(streamer.forward(ids)).backward();   // each micro-step; gradients reach params.grad()
//   streamer.end_step();                      // resident blocks' gradients back, buffers freed
//
// Blocks kept on the device (offloading with FlatParameters::kept(), the layout's end in buffers
// on the device): the last blocks, from the first whose parameters lie in that range, compute
// with its buffers (FlatParameters points their parameters there) for the streamer's whole life
// (their optimizer step runs there too; the trainer's business) and run through autograd like
// resident ones, with nothing to copy. Block 0 is then the one resident block.
//
// Results equal running the whole model on the device (tested against `single`), except that
// BatchNorm statistics are updated once per forward as there, not again by the recomputation.
//
// Overlap (offloading to a CUDA device; transfer_streams.h): copies run on side streams. While
// a streamed block computes, the next blocks_in_flight() - 1 streamed blocks of the pass (the
// following ones forward, the preceding ones backward; at the end of a forward pass that will
// recompute, the last ones, with which the backward pass starts) are already being copied in
// (or gathered, sharded), and a block's gradient is copied out to the pinned host gradient
// while the blocks before it run their backward passes. The host, which only queues work, is
// kept at most one released block ahead of the GPU (TransferStreams::throttle), so that the
// buffers of blocks it has moved past are reused instead of piling up.
//
// Sharded (FSDP): given ShardedParameters, a block's parameters come from all-gathering every
// rank's shard instead of a host copy, and its gradient leaves by reduce-scatter into this
// rank's shard (a mean over ranks); between uses the parameters hold no memory. With
// blocks_in_flight() > 1 the next blocks' all-gathers start while a block computes, as copies
// do when offloading. With the shards offloaded to host memory (CUDA), a shard is copied in
// and gathered from the copy-in stream, and a block's gradient shard leaves on the copy-out
// stream, as offloading's copies do. Every rank runs the same blocks in the same order, so the
// collectives pair up.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/model.h"
#include "train/communicator.h"
#include "train/parameters.h"
#include "train/sharded_parameters.h"
#include "train/transfer_streams.h"

namespace saturn::worker {

class BlockStreamer {
 public:
  // `model`'s parameters must be views of `params` (FlatParameters re-points them); both must
  // outlive the streamer. Moves the model's buffers (BatchNorm statistics) to `device`. With
  // `shards` (sharded; `params` then only gives the layout) the parameters are gathered from
  // them over `comm` (null with one rank); both must outlive the streamer. With params.kept()
  // (not sharded; on `device`; block 0 not in it) the blocks in it are kept there.
  BlockStreamer(Model& model, FlatParameters& params, torch::Device device,
                ShardedParameters* shards = nullptr, Communicator* comm = nullptr);
  ~BlockStreamer();
  BlockStreamer(const BlockStreamer&) = delete;
  BlockStreamer& operator=(const BlockStreamer&) = delete;

  // Copies the resident blocks' parameters to the device, with zero device gradients when grad
  // mode is on (training; evaluation runs without). params.grad() (sharded: the shards'
  // gradient) must be zero: a streamed block's first gradient of the step may be copied into it
  // rather than added.
  void begin_step();
  // The last block's output for `input` (on the device). With grad mode on, the graph's
  // backward pass streams each block again and adds its gradients into params.grad() (or the
  // shards' gradient).
  torch::Tensor forward(const torch::Tensor& input);
  // After the step's last backward pass: adds the resident blocks' device gradients into
  // params.grad() (when begin_step() ran in grad mode) and frees their device buffers (the
  // parameters point at params again); returns once every copy of the step has completed.
  void end_step();

  // Recompute (the default): a streamed block keeps only its input between its passes and is
  // materialised twice. Without: it stays materialised, its activations saved, from its
  // forward pass to the end of its backward pass (faster, more memory; for sharding, whose
  // optimizer state and gradients stay sharded either way).
  void set_recompute(bool recompute) { recompute_ = recompute; }
  bool recompute() const { return recompute_; }
  // Streamed blocks on the device at once, at least 1 (the block computing; more: the next
  // ones copied in, or gathered, meanwhile).
  void set_blocks_in_flight(int blocks) { in_flight_ = std::max(1, blocks); }
  int blocks_in_flight() const { return in_flight_; }

  int blocks() const { return static_cast<int>(units_.size()); }
  // On the device for the step (copied in at begin_step()) or for good (kept).
  bool resident(int block) const { return units_[static_cast<std::size_t>(block)].resident; }
  bool kept(int block) const { return units_[static_cast<std::size_t>(block)].kept; }
  // Bytes of parameters copied or gathered to the device so far (forward, recomputation,
  // resident).
  std::int64_t bytes_to_device() const { return bytes_to_device_; }
  // Streamed blocks whose copy or gather had started before they were needed, so far.
  std::int64_t blocks_fetched_ahead() const { return fetched_ahead_; }

  // Internal (the autograd function of streamed blocks).
  torch::Tensor run_streamed(int block, const torch::Tensor& x);
  torch::Tensor backward_streamed(int block, const torch::Tensor& x, const torch::Tensor& grad_y);
  void release_after_backward(int block);

 private:
  struct Unit {
    Block block;
    std::int64_t offset = 0, numel = 0;  // its slice of the flat buffers
    std::vector<std::size_t> entries;    // its FlatParameters entries
    bool resident = false;  // on the device for the step or, `kept`, for good
    bool kept = false;      // computes with the on-device range's buffers; never copied
    int shard_unit = -1;  // sharded: its index in ShardedParameters::units(); -1: no parameters
    torch::Tensor device_params, device_grad;  // defined while materialised
    InboundCopy incoming;  // its parameters being copied in ahead of use (tensor defined)
    // Sharded: its parameters being gathered ahead of use into `gathered`.
    std::unique_ptr<PendingCollective> gathering;
    torch::Tensor gathered;
    bool grad_pending = false;  // no gradient of this step has reached the host gradient yet
  };

  // Points the unit's parameters at a fresh device copy of its compute slice, or its gathered
  // shards (and, with `with_grad`, their gradients at a zeroed device buffer).
  void materialise(Unit& u, bool with_grad);
  // Adds the device gradient into the flat gradient, or reduce-scatters it into the shard (when
  // `keep_grad`), points the parameters back at the flat buffers (or at nothing, sharded) and
  // drops the device buffers.
  void release(Unit& u, bool keep_grad);
  // Adds the unit's gradient on the device into its host gradient (the flat gradient's slice,
  // or an offloaded shard's): with side streams, the step's first gradient of a streamed unit
  // is copied out there asynchronously (the host gradient is zero until then), later ones are
  // added on the host once earlier copies have landed.
  void add_offloaded_grad(Unit& u, const torch::Tensor& device_grad, torch::Tensor host_grad);
  // Sharded: points the unit's parameters at an empty tensor (they hold no memory).
  void park(Unit& u);
  // Starts bringing the unit's parameters to the device: copying them in (u.incoming) or,
  // sharded, gathering them (u.gathering into u.gathered); first waits while the host is too
  // far ahead of the GPU.
  void fetch(Unit& u);
  // Waits for and drops a copy or gather started ahead that is no longer wanted.
  void drop_incoming(Unit& u);
  // Starts copying in the next blocks_in_flight() - 1 streamed blocks after `block` in
  // `direction` (+1 forward, -1 backward) that are neither on the device nor on their way.
  void prefetch(int block, int direction);

  Model& model_;
  FlatParameters& params_;
  torch::Device device_;
  ShardedParameters* shards_;
  Communicator* comm_;
  TransferStreams transfers_;
  std::vector<Unit> units_;
  bool in_step_ = false;
  bool step_with_grad_ = false;  // begin_step() ran in grad mode
  bool recompute_ = true;
  int in_flight_ = 2;
  std::int64_t bytes_to_device_ = 0;
  std::int64_t fetched_ahead_ = 0;
};

}  // namespace saturn::worker
