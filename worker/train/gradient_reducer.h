// Data-parallel gradient averaging overlapped with the backward pass.
//
// The flat gradient buffer (FlatParameters::grad) is cut into buckets at entry boundaries, from
// its end (the last blocks, whose gradients the backward pass finishes first) to its start.
// While armed, a hook on every parameter's gradient accumulator counts the entries of its
// bucket that are complete; as soon as a bucket is complete, and every bucket before it has
// been started, its sum over ranks starts on the communicator while the backward pass goes on.
// Buckets start in index order on every rank, so ranks issue the same sequence of collectives.
//
//   reducer.arm();                 // before the last micro-step's backward
//   loss.backward();               // buckets start as their gradients complete
//   reducer.finish();              // starts what is left, waits, divides by the world size
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <torch/torch.h>

#include "train/communicator.h"
#include "train/parameters.h"

namespace saturn::worker {

class GradientReducer {
 public:
  // Bucket: a contiguous range of whole entries of at most `bucket_bytes` of gradient (an entry
  // larger than that is a bucket of its own). `params` and `comm` are not owned and must
  // outlive the reducer.
  GradientReducer(FlatParameters& params, Communicator& comm, std::int64_t bucket_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward pass completes the gradients: reduce them as they complete.
  void arm();
  // Starts every bucket not started yet (parameters that got no gradient), waits for all,
  // divides by the world size, and disarms. Without arm(): reduces everything now.
  void finish();

  std::size_t buckets() const { return buckets_.size(); }
  // Buckets the last finish() found already started by the backward pass (the overlap).
  std::size_t started_during_backward() const { return started_during_backward_; }

 private:
  struct Bucket {
    FlatParameters::Range range;  // elements of the flat buffers
    int entries = 0;              // entries in the bucket
    int complete = 0;             // of them, with their gradient complete this pass
  };

  void on_gradient(std::size_t entry);  // a hook fired
  void start_ready_locked();            // starts buckets in order while they are complete
  void start_locked(std::size_t bucket);

  // What the hooks hold: they outlive the reducer when the model does, and then find null.
  struct Link {
    std::mutex mutex;
    GradientReducer* reducer = nullptr;
  };

  FlatParameters& params_;
  Communicator& comm_;
  std::shared_ptr<Link> link_ = std::make_shared<Link>();
  std::vector<Bucket> buckets_;                                       // index 0: the buffer's tail
  std::vector<std::size_t> bucket_of_;                                // by entry
  std::vector<bool> entry_done_;                                      // by entry, this pass
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // keeps hooks alive
  std::vector<std::unique_ptr<PendingCollective>> pending_;
  std::mutex mutex_;  // hooks may run on the autograd engine's device threads
  bool armed_ = false;
  std::size_t next_ = 0;  // the next bucket to start
  std::size_t started_during_backward_ = 0;
};

}  // namespace saturn::worker
