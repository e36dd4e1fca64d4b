// Copies between pinned host memory and one CUDA device on side streams, so that they overlap
// with the kernels of the compute stream (the stream current where a copy is requested): the
// copy engine of offloading (block_streamer.h).
//
//   InboundCopy next = streams.copy_in(host_slice);  // queued now on the copy-in stream
//   ...                                               // the compute stream keeps running
//   torch::Tensor t = streams.use(next);               // the compute stream waits for the copy
//   streams.copy_out(device_grad, host_grad_slice);    // after the compute stream's work so far
//   streams.finish_out();                              // every copy out has landed in host memory
//
// Memory: a copied-in tensor is allocated on the copy-in stream and marked used by the compute
// stream in use(), and a copied-out tensor is marked used by the copy-out stream, so that the
// caching allocator reuses neither before the last stream using it is done with it. Work that
// copy_in()'s `then` queues on the copy-in stream follows the same rule: a collective's tensors
// are allocated there, and its wait() is called there.
//
// Run-ahead: the host only queues work, so without a limit it runs many blocks ahead of the
// GPU, and every block it has released but the GPU has not finished keeps its buffers (memory
// used by several streams cannot be reused early). mark() after each block and throttle()
// before each new buffer keep the host at most a given number of blocks ahead, as PyTorch
// FSDP's limit_all_gathers does.
//
// Without CUDA (a CPU device, a CPU build) available() is false and copies are plain copies on
// the calling thread.
#pragma once

#include <functional>
#include <memory>

#include <torch/torch.h>

namespace saturn::worker {

// A host-to-device copy in flight.
struct InboundCopy {
  torch::Tensor tensor;         // on the device; read it only through TransferStreams::use()
  std::shared_ptr<void> ready;  // the copy's completion (a CUDA event); null: already ordered
};

class TransferStreams {
 public:
  explicit TransferStreams(torch::Device device);
  ~TransferStreams();
  TransferStreams(const TransferStreams&) = delete;
  TransferStreams& operator=(const TransferStreams&) = delete;

  // True on a CUDA device in a CUDA build: copies run on side streams.
  bool available() const { return side_ != nullptr; }

  // A device copy of `host` (contiguous; pinned, for the copy to be asynchronous), queued on
  // the copy-in stream.
  InboundCopy copy_in(const torch::Tensor& host);
  // copy_in(host), then `then` called on the device copy with the copy-in stream current: the
  // work it queues (a collective gathering the copy: FSDP's offloaded shards) is ordered after
  // the copy and not after the current stream's work, and use() waits for it. `then` allocates
  // its result there, and leaves the copy-in stream waiting for any work it queues on other
  // streams (a collective's wait()).
  InboundCopy copy_in(const torch::Tensor& host,
                      const std::function<torch::Tensor(torch::Tensor)>& then);
  // The copied tensor, once the current stream has been made to wait for the copy.
  torch::Tensor use(const InboundCopy& copy);
  // Copies `device` into `host` (pinned, same shape and dtype) on the copy-out stream after
  // the work queued so far on the current stream; `host` must not be read or written before
  // finish_out().
  void copy_out(const torch::Tensor& device, torch::Tensor host);
  // Blocks until every copy_out() so far has completed.
  void finish_out();
  // Blocks until every copy in either direction and the current stream's work so far have
  // completed: after it the host may write the host buffers copies read from.
  void finish();
  // Marks the end of a block: the work queued so far on the current stream and every
  // copy_out() so far.
  void mark();
  // Blocks until at most `pending` marks are unfinished on the device.
  void throttle(int pending);

 private:
  struct Side;  // the CUDA streams
  torch::Device device_;
  std::unique_ptr<Side> side_;
};

}  // namespace saturn::worker
