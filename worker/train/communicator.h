// Collectives among the ranks of one job (data-parallel, sharded or pipelined): a c10d process group over a TCP
// rendezvous, NCCL on CUDA devices and Gloo on the CPU. Ranks and the rendezvous address come
// from torchrun's environment variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT), so a rank may be started by saturn-worker's own launcher or by any other.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "saturn/error.h"

namespace saturn::worker {

struct RankEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  // SATURN_RENDEZVOUS_DIR (saturn-worker's launcher, launcher.h): meet through a file store in
  // this private directory; empty (torchrun, other launchers): a TCP store at master_addr.
  std::string rendezvous_dir;

  // Reads the variables; all absent: one rank. Errors: malformed or inconsistent values.
  static Result<RankEnvironment> from_env();
};

// A collective in flight. wait() blocks until its result is in place; until then the tensor it
// was given must stay alive and untouched. On CUDA (NCCL) the collective runs on NCCL's stream
// after the work queued so far on the stream current when it started, and wait() only makes
// the current stream wait for it: call wait() with the stream current on which its tensors were
// allocated (the caching allocator may reuse them once that stream is past the wait).
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Starts an in-place sum of `tensor` (on the rank's device) over ranks and returns at once.
  // Every rank must start the same sequence of sums, tensor sizes matching.
  virtual std::unique_ptr<PendingCollective> start_sum(torch::Tensor tensor) = 0;
  // Starts gathering every rank's `shard` into `full` (world_size x shard.numel() elements,
  // rank r's shard from element r x shard.numel()); every rank's shard has the same size. Both
  // contiguous, here and in start_reduce_scatter().
  virtual std::unique_ptr<PendingCollective> start_all_gather(torch::Tensor shard,
                                                              torch::Tensor full) = 0;
  // Starts summing `full` over ranks into this rank's `shard`, the sum's elements rank x
  // shard.numel() onward; `full` may be overwritten.
  virtual std::unique_ptr<PendingCollective> start_reduce_scatter(torch::Tensor full,
                                                                  torch::Tensor shard) = 0;
  // Point to point (pipeline stages): sends `tensor` to rank `to`, or receives rank `from`'s
  // into `tensor` (same size); `tag` pairs a send with its receive.
  virtual std::unique_ptr<PendingCollective> start_send(torch::Tensor tensor, int to, int tag) = 0;
  virtual std::unique_ptr<PendingCollective> start_recv(torch::Tensor tensor, int from,
                                                        int tag) = 0;
  // The mean of `value` over ranks (blocking).
  virtual double all_reduce_mean(double value) = 0;
  virtual void barrier() = 0;
};

// Connects to the rendezvous (a file store in env.rendezvous_dir; else a TCP store that rank 0
// hosts at MASTER_PORT, listening on every interface as torchrun's does; waiting at most
// `timeout_s` for the others) and builds the process group for `device`. Gloo's own
// connections listen on MASTER_ADDR's address (loopback for saturn-worker's launcher). A collective
// fails after `collective_timeout_s` without its peers (Gloo: the call fails; NCCL: its watchdog
// aborts the process): long enough for a pipeline stage to wait out the stages before it computing
// on a CPU (a crashed peer ends the others sooner: the launcher stops them). Errors: NCCL requested
// but not built in, the rendezvous timing out.
Result<std::unique_ptr<Communicator>> connect(const RankEnvironment& env, torch::Device device,
                                              double timeout_s = 120,
                                              double collective_timeout_s = 1800);

}  // namespace saturn::worker
