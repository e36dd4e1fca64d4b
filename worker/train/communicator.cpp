// c10d process groups (Gloo on the CPU, NCCL on CUDA); see communicator.h.
#include "train/communicator.h"

#include "compat.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <utility>

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SATURN_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef SATURN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace saturn::worker {
namespace {

// PyTorch 2 made the process-group implementations "backends" behind a ProcessGroup facade; both
// versions offer allreduce and barrier on the implementation itself.
#if SATURN_TORCH_AT_LEAST(2, 0)
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif

Result<int> env_int(const char* name, int fallback, bool* present) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  *present = true;
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (*end != '\0' || v < 0 || v > 1 << 20) {
    return Error{"", 0, name, fmt::format("expected a non-negative integer, got \"{}\"", value)};
  }
  return static_cast<int>(v);
}

class PendingWork final : public PendingCollective {
 public:
  explicit PendingWork(c10::intrusive_ptr<c10d::Work> work) : work_(std::move(work)) {}
  void wait() override { work_->wait(); }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
};

// A collective whose result needs one more step on this rank once it is done.
class PendingThen final : public PendingCollective {
 public:
  PendingThen(c10::intrusive_ptr<c10d::Work> work, std::function<void()> then)
      : work_(std::move(work)), then_(std::move(then)) {}
  void wait() override {
    work_->wait();
    if (then_) std::exchange(then_, nullptr)();
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::function<void()> then_;
};

// `full` cut into `world` equal consecutive chunks.
std::vector<torch::Tensor> chunks(const torch::Tensor& full, int world) {
  TORCH_CHECK(full.numel() % world == 0, "a buffer of ", full.numel(),
              " elements does not split over ", world, " ranks");
  return full.view({-1}).chunk(world);
}

class ProcessGroupCommunicator final : public Communicator {
 public:
  ProcessGroupCommunicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group,
                           int rank, int world)
      : store_(std::move(store)), group_(std::move(group)), rank_(rank), world_(world) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  std::unique_ptr<PendingCollective> start_sum(torch::Tensor tensor) override {
    std::vector<torch::Tensor> tensors = {std::move(tensor)};
    return std::make_unique<PendingWork>(group_->allreduce(tensors));
  }

  std::unique_ptr<PendingCollective> start_all_gather(torch::Tensor shard,
                                                      torch::Tensor full) override {
    TORCH_CHECK(full.numel() == shard.numel() * world_, "all_gather: ", full.numel(),
                " elements for ", world_, " shards of ", shard.numel());
    TORCH_CHECK(full.is_contiguous() && shard.is_contiguous(), "all_gather: not contiguous");
    if (on_cuda_) {
      // NCCL gathers straight into one flat buffer; given a list of chunks it would gather
      // into a flat temporary and copy each chunk out of it.
      torch::Tensor out = full.view({-1}), in = shard.view({-1});
      return std::make_unique<PendingWork>(group_->_allgather_base(out, in));
    }
    std::vector<std::vector<torch::Tensor>> outputs = {chunks(full, world_)};
    std::vector<torch::Tensor> inputs = {std::move(shard)};
    return std::make_unique<PendingWork>(group_->allgather(outputs, inputs));
  }

  std::unique_ptr<PendingCollective> start_reduce_scatter(torch::Tensor full,
                                                          torch::Tensor shard) override {
    TORCH_CHECK(full.numel() == shard.numel() * world_, "reduce_scatter: ", full.numel(),
                " elements for ", world_, " shards of ", shard.numel());
    TORCH_CHECK(full.is_contiguous() && shard.is_contiguous(), "reduce_scatter: not contiguous");
    if (on_cuda_) {
      // One flat input (a list of chunks would first be copied into a flat temporary).
      torch::Tensor out = shard.view({-1}), in = full.view({-1});
      return std::make_unique<PendingWork>(group_->_reduce_scatter_base(out, in));
    }
    // Gloo has no reduce-scatter: sum everything, keep this rank's part.
    std::vector<torch::Tensor> tensors = {full};
    const torch::Tensor mine = chunks(full, world_)[static_cast<std::size_t>(rank_)];
    return std::make_unique<PendingThen>(group_->allreduce(tensors),
                                         [mine, shard]() mutable { shard.copy_(mine); });
  }

  std::unique_ptr<PendingCollective> start_send(torch::Tensor tensor, int to, int tag) override {
    std::vector<torch::Tensor> tensors = {std::move(tensor)};
    return std::make_unique<PendingWork>(group_->send(tensors, to, tag));
  }

  std::unique_ptr<PendingCollective> start_recv(torch::Tensor tensor, int from,
                                                int tag) override {
    std::vector<torch::Tensor> tensors = {std::move(tensor)};
    return std::make_unique<PendingWork>(group_->recv(tensors, from, tag));
  }

  double all_reduce_mean(double value) override {
    std::vector<torch::Tensor> t = {torch::tensor({value}, torch::kDouble)};
    if (on_cuda_) t[0] = t[0].to(torch::kCUDA);
    group_->allreduce(t)->wait();
    return t[0].item<double>() / world_;
  }

  void barrier() override { group_->barrier()->wait(); }

  bool on_cuda_ = false;

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Group> group_;
  int rank_, world_;
};

}  // namespace

Result<RankEnvironment> RankEnvironment::from_env() {
  RankEnvironment env;
  bool present = false;
  auto rank = env_int("RANK", 0, &present);
  if (!rank) return rank.error();
  auto world = env_int("WORLD_SIZE", 1, &present);
  if (!world) return world.error();
  auto local = env_int("LOCAL_RANK", *rank, &present);
  if (!local) return local.error();
  auto port = env_int("MASTER_PORT", 29500, &present);
  if (!port) return port.error();
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) env.master_addr = addr;
  if (const char* dir = std::getenv("SATURN_RENDEZVOUS_DIR"); dir && *dir) env.rendezvous_dir = dir;
  env.rank = *rank;
  env.world_size = std::max(1, *world);
  env.local_rank = *local;
  env.master_port = *port;
  if (env.rank >= env.world_size) {
    return Error{"", 0, "RANK",
                 fmt::format("rank {} is not below WORLD_SIZE {}", env.rank, env.world_size)};
  }
  return env;
}

Result<std::unique_ptr<Communicator>> connect(const RankEnvironment& env, torch::Device device,
                                              double timeout_s, double collective_timeout_s) {
  try {
    c10::intrusive_ptr<c10d::Store> store;
    if (!env.rendezvous_dir.empty()) {
      store = c10::make_intrusive<c10d::FileStore>(env.rendezvous_dir + "/store", env.world_size);
      store->setTimeout(std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)));
    } else {
      c10d::TCPStoreOptions options;
      options.port = static_cast<std::uint16_t>(env.master_port);
      options.isServer = env.rank == 0;
      options.numWorkers = env.world_size;
      options.timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
      store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    }
    c10::intrusive_ptr<Group> group;
    if (device.is_cuda()) {
#ifdef SATURN_WITH_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = std::chrono::milliseconds(static_cast<long>(collective_timeout_s * 1000));
      group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, opts);
#else
      return Error{"", 0, "devices", "this saturn-worker was built without NCCL"};
#endif
    } else {
#ifdef SATURN_WITH_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create();
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
      opts->timeout = std::chrono::milliseconds(static_cast<long>(collective_timeout_s * 1000));
      group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, opts);
#else
      return Error{"", 0, "devices", "this saturn-worker was built without Gloo (CPU ranks)"};
#endif
    }
    auto comm = std::make_unique<ProcessGroupCommunicator>(store, group, env.rank, env.world_size);
    comm->on_cuda_ = device.is_cuda();
    return std::unique_ptr<Communicator>(std::move(comm));
  } catch (const std::exception& e) {
    return Error{"", 0, "MASTER_ADDR",
                 fmt::format("cannot join the process group at {}:{} as rank {} of {}: {}",
                             env.master_addr, env.master_port, env.rank, env.world_size, e.what())};
  }
}

}  // namespace saturn::worker
