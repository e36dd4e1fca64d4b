// Communicator over Gloo with two ranks in this process: all-gather puts each rank's shard in
// its place, reduce-scatter leaves each rank the sum of its part, send/recv pairs by tag. On a
// GPU: a one-rank NCCL group (what one GPU can show of NCCL) runs every collective.
#include <gtest/gtest.h>

#include <thread>

#include "local_group.h"

namespace saturn::worker {
namespace {

// Runs `body(rank, communicator)` on one thread per rank.
template <typename Body>
void on_each_rank(std::vector<std::unique_ptr<Communicator>>& comms, Body body) {
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < comms.size(); ++r) {
    threads.emplace_back([&, r] { body(static_cast<int>(r), *comms[r]); });
  }
  for (auto& t : threads) t.join();
}

TEST(Communicator, AllGatherReduceScatterSendAndReceive) {
#ifndef SATURN_WITH_GLOO
  GTEST_SKIP() << "CPU ranks need Gloo; this build has none";
#endif
  auto comms = local_group(2, 29743);
  ASSERT_EQ(comms.size(), 2u);
  on_each_rank(comms, [](int rank, Communicator& c) {
    // Rank r's shard: [10r, 10r + 1, 10r + 2].
    const torch::Tensor shard = torch::arange(3, torch::kFloat) + 10.0 * rank;
    torch::Tensor full = torch::full({6}, -1.0);
    c.start_all_gather(shard, full)->wait();
    EXPECT_TRUE(torch::equal(full, torch::tensor({0.0f, 1.0f, 2.0f, 10.0f, 11.0f, 12.0f})))
        << "rank " << rank << ": " << full;

    // Rank r contributes (r + 1) x [1..6]: the sum is 3 x [1..6], rank r keeps its half.
    torch::Tensor contribution = (torch::arange(1, 7, torch::kFloat) * (rank + 1));
    torch::Tensor mine = torch::zeros({3});
    c.start_reduce_scatter(contribution, mine)->wait();
    const torch::Tensor expect = torch::arange(1, 7, torch::kFloat).narrow(0, 3 * rank, 3) * 3;
    EXPECT_TRUE(torch::equal(mine, expect)) << "rank " << rank << ": " << mine;

    // Two messages each way, told apart by their tags.
    if (rank == 0) {
      c.start_send(torch::full({4}, 7.0), 1, /*tag=*/2)->wait();
      c.start_send(torch::full({4}, 5.0), 1, /*tag=*/1)->wait();
      torch::Tensor back = torch::zeros({2});
      c.start_recv(back, 1, /*tag=*/3)->wait();
      EXPECT_TRUE(torch::equal(back, torch::full({2}, 9.0)));
    } else {
      torch::Tensor a = torch::zeros({4}), b = torch::zeros({4});
      auto first = c.start_recv(a, 0, /*tag=*/2);
      auto second = c.start_recv(b, 0, /*tag=*/1);
      first->wait();
      second->wait();
      EXPECT_TRUE(torch::equal(a, torch::full({4}, 7.0)));
      EXPECT_TRUE(torch::equal(b, torch::full({4}, 5.0)));
      c.start_send(torch::full({2}, 9.0), 0, /*tag=*/3)->wait();
    }
    c.barrier();
  });
}

// NCCL with one rank on cuda:0: the group forms over the TCP rendezvous, each collective runs on
// NCCL's stream and its wait() orders the current stream after it.
TEST(Communicator, OneNcclRankOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
#ifndef SATURN_WITH_NCCL
  GTEST_SKIP() << "this build has no NCCL";
#endif
  RankEnvironment env;
  env.master_port = 29747;
  auto c = connect(env, torch::Device(torch::kCUDA, 0), 60);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  Communicator& comm = **c;
  EXPECT_EQ(comm.world_size(), 1);
  const auto on_gpu = torch::TensorOptions().dtype(torch::kFloat).device(torch::kCUDA, 0);

  torch::Tensor sum = torch::arange(1000, on_gpu);
  comm.start_sum(sum)->wait();
  EXPECT_TRUE(torch::equal(sum.cpu(), torch::arange(1000, torch::kFloat)));

  const torch::Tensor shard = torch::arange(5, on_gpu) + 3;
  torch::Tensor full = torch::full({5}, -1.0, on_gpu);
  comm.start_all_gather(shard, full)->wait();
  EXPECT_TRUE(torch::equal(full.cpu(), shard.cpu()));

  torch::Tensor mine = torch::zeros({5}, on_gpu);
  comm.start_reduce_scatter(torch::arange(5, on_gpu) * 2, mine)->wait();
  EXPECT_TRUE(torch::equal(mine.cpu(), torch::arange(5, torch::kFloat) * 2));

  EXPECT_DOUBLE_EQ(comm.all_reduce_mean(2.5), 2.5);
  comm.barrier();
}

}  // namespace
}  // namespace saturn::worker
