// StageParameters: a pipeline stage's blocks' parameters and its copies of tied ones; see
// stage_parameters.h.
#include "train/stage_parameters.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace saturn::worker {
namespace {

// Point-to-point tags of set-up and checkpoints, above the schedule's per-micro-batch ones.
constexpr int kGatherTag = 1 << 20;
constexpr int kTieTag = (1 << 20) + 1;

}  // namespace

StageParameters::StageParameters(Model& model, FlatParameters& full, const std::vector<int>& bounds,
                                 int stage, torch::Device device, torch::ScalarType compute_dtype,
                                 const InitialValues& initial)
    : stage_(stage), full_numel_(full.numel()) {
  const int stages = static_cast<int>(bounds.size()) - 1;
  TORCH_CHECK(stage >= 0 && stage < stages, "stage ", stage, " of ", stages);
  std::map<std::string, int> block_index;
  for (std::size_t b = 0; b < model.block_names().size(); ++b) {
    block_index[model.block_names()[b]] = static_cast<int>(b);
  }
  auto stage_of_block = [&](int b) {
    return static_cast<int>(std::upper_bound(bounds.begin(), bounds.end(), b) - bounds.begin()) - 1;
  };
  const auto& entries = full.entries();
  std::map<const c10::TensorImpl*, std::size_t> entry_of;
  std::vector<int> owner(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entry_of[full.parameter(i).unsafeGetTensorImpl()] = i;
    owner[i] = stage_of_block(block_index.at(entries[i].block));
  }
  // Each stage's own slice: its blocks' entries, contiguous in model order.
  own_of_stage_.assign(static_cast<std::size_t>(stages), {0, 0});
  std::vector<bool> any(static_cast<std::size_t>(stages), false);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& [offset, numel] = own_of_stage_[static_cast<std::size_t>(owner[i])];
    if (!any[static_cast<std::size_t>(owner[i])]) offset = entries[i].offset;
    any[static_cast<std::size_t>(owner[i])] = true;
    numel = entries[i].offset + entries[i].numel - offset;
  }
  numel_ = own_numel();
  // Ties, in the same order on every rank: by user stage, then the user's blocks in order.
  std::vector<std::size_t> tie_entry;
  for (int user = 0; user < stages; ++user) {
    std::set<std::size_t> seen;
    for (int b = bounds[static_cast<std::size_t>(user)]; b < bounds[static_cast<std::size_t>(user) + 1];
         ++b) {
      const Block& block = model.blocks()[static_cast<std::size_t>(b)];
      std::vector<torch::Tensor> used = block->parameters();
      for (const torch::Tensor& t : block->tied_parameters()) used.push_back(t);
      for (const torch::Tensor& p : used) {
        const auto found = entry_of.find(p.unsafeGetTensorImpl());
        TORCH_CHECK(found != entry_of.end(), "block ", model.block_names()[static_cast<std::size_t>(b)],
                    " has a parameter outside the flat buffers");
        const std::size_t i = found->second;
        if (owner[i] == user || !seen.insert(i).second) continue;
        Tie t;
        t.full_offset = entries[i].offset;
        t.numel = entries[i].numel;
        t.owner = owner[i];
        t.user = user;
        if (owner[i] == stage) t.here = t.full_offset - own_offset();
        if (user == stage) {
          t.here = numel_;
          numel_ += t.numel;
        }
        ties_.push_back(t);
        tie_entry.push_back(i);
      }
    }
  }
  const auto on = torch::TensorOptions().device(device);
  master_ = torch::zeros({numel_}, on.dtype(torch::kFloat));
  TORCH_CHECK(fill(initial ? initial : full.initial_values(), master_),
              "StageParameters: no initial values for stage ", stage, "'s blocks");
  for (const Range& r : full.decay_ranges()) {
    const std::int64_t lo = std::max(r.offset, own_offset());
    const std::int64_t hi = std::min(r.offset + r.numel, own_offset() + own_numel());
    if (hi > lo) decay_ranges_.push_back({lo - own_offset(), hi - lo});
  }
  for (std::size_t k = 0; k < ties_.size(); ++k) {
    if (ties_[k].user == stage && entries[tie_entry[k]].decay) {
      decay_ranges_.push_back({ties_[k].here, ties_[k].numel});
    }
  }
  compute_ = compute_dtype == torch::kFloat ? master_ : master_.to(compute_dtype);
  grad_ = torch::zeros({numel_}, on.dtype(compute_dtype));
  // The stage's blocks compute with these buffers: own entries, then the copies.
  auto bind = [&](std::size_t i, std::int64_t at) {
    const FlatParameters::Entry& e = entries[i];
    const torch::Tensor& p = full.parameter(i);
    p.set_data(compute_.narrow(0, at, e.numel).view(e.shape));
    p.mutable_grad() = grad_.narrow(0, at, e.numel).view(e.shape);
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (owner[i] == stage) bind(i, entries[i].offset - own_offset());
  }
  for (std::size_t k = 0; k < ties_.size(); ++k) {
    if (ties_[k].user == stage) bind(tie_entry[k], ties_[k].here);
  }
}

void StageParameters::share_tied_values(Communicator* comm) {
  // Owner to user, one tie at a time in the order every rank knows: only those two stages hold
  // anything beyond their buffers.
  const torch::NoGradGuard no_grad;
  for (const Tie& t : ties_) {
    if (t.owner != stage_ && t.user != stage_) continue;
    TORCH_CHECK(comm, "tied parameters across stages without a communicator");
    torch::Tensor here = master_.narrow(0, t.here, t.numel);
    if (t.owner == stage_) {
      comm->start_send(here, t.user, kTieTag)->wait();
    } else {
      comm->start_recv(here, t.owner, kTieTag)->wait();
      if (separate_compute()) compute_.narrow(0, t.here, t.numel).copy_(here);
    }
  }
}

void StageParameters::sum_tied_grads(Communicator* comm) {
  if (ties_.empty()) return;
  std::int64_t total = 0;
  for (const Tie& t : ties_) total += t.numel;
  torch::Tensor all = torch::zeros({total}, grad_.options());
  std::int64_t at = 0;
  for (const Tie& t : ties_) {
    if (t.here >= 0) all.narrow(0, at, t.numel).copy_(grad_.narrow(0, t.here, t.numel));
    at += t.numel;
  }
  TORCH_CHECK(comm, "tied parameters across stages without a communicator");
  comm->start_sum(all)->wait();
  at = 0;
  for (const Tie& t : ties_) {
    if (t.here >= 0) grad_.narrow(0, t.here, t.numel).copy_(all.narrow(0, at, t.numel));
    at += t.numel;
  }
}

torch::Tensor StageParameters::tied_squares() const {
  torch::Tensor sum = torch::zeros({}, grad_.options().dtype(torch::kFloat));
  for (const Tie& t : ties_) {
    if (t.user == stage_) sum += grad_.narrow(0, t.here, t.numel).to(torch::kFloat).square().sum();
  }
  return sum;
}

torch::Tensor StageParameters::gather_full(const torch::Tensor& part, Communicator* comm,
                                           int root) const {
  TORCH_CHECK(part.numel() == numel_, "gather_full: ", part.numel(), " elements, the stage holds ",
              numel_);
  const int stages = static_cast<int>(own_of_stage_.size());
  if (root < 0 || stages == 1) {
    torch::Tensor out = torch::zeros({full_numel_}, part.options().dtype(torch::kFloat));
    out.narrow(0, own_offset(), own_numel()).copy_(part.narrow(0, 0, own_numel()));
    if (comm && comm->world_size() > 1) comm->start_sum(out)->wait();
    return out.cpu();
  }
  TORCH_CHECK(comm, "a pipeline of ", stages, " stages without a communicator");
  if (stage_ != root) {
    if (own_numel() > 0) {
      const torch::Tensor mine = part.narrow(0, 0, own_numel()).to(torch::kFloat).contiguous();
      comm->start_send(mine, root, kGatherTag)->wait();
    }
    return torch::Tensor();
  }
  torch::Tensor out = torch::empty({full_numel_}, torch::kFloat);
  for (int s = 0; s < stages; ++s) {
    const auto [offset, numel] = own_of_stage_[static_cast<std::size_t>(s)];
    if (numel == 0) continue;
    if (s == stage_) {
      out.narrow(0, offset, numel).copy_(part.narrow(0, 0, own_numel()));
    } else {
      torch::Tensor from = torch::empty({numel}, part.options().dtype(torch::kFloat));
      comm->start_recv(from, s, kGatherTag)->wait();
      out.narrow(0, offset, numel).copy_(from);
    }
  }
  return out;
}

bool StageParameters::fill(const InitialValues& source, torch::Tensor part) const {
  TORCH_CHECK(part.numel() == numel_, "fill: ", part.numel(), " elements, the stage holds ",
              numel_);
  if (own_numel() > 0 && !source(own_offset(), own_numel(), part.narrow(0, 0, own_numel()))) {
    return false;
  }
  for (const Tie& t : ties_) {
    if (t.user == stage_) source(t.full_offset, t.numel, part.narrow(0, t.here, t.numel));
  }
  return true;
}

std::vector<int> balanced_stages(const std::vector<double>& costs, int stages) {
  const int n = static_cast<int>(costs.size());
  TORCH_CHECK(stages >= 1 && stages <= n, stages, " stages for ", n, " blocks");
  std::vector<double> prefix(static_cast<std::size_t>(n) + 1, 0);
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + costs[static_cast<std::size_t>(i)];
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // best[s][i]: least largest stage cost splitting blocks [0, i) into s stages; cut: its last
  // stage's first block.
  std::vector<std::vector<double>> best(stages + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> cut(stages + 1, std::vector<int>(n + 1, 0));
  best[0][0] = 0;
  for (int s = 1; s <= stages; ++s) {
    for (int i = s; i <= n; ++i) {
      for (int j = s - 1; j < i; ++j) {
        const double v = std::max(best[s - 1][j], prefix[i] - prefix[j]);
        if (v < best[s][i]) {
          best[s][i] = v;
          cut[s][i] = j;
        }
      }
    }
  }
  std::vector<int> bounds(static_cast<std::size_t>(stages) + 1, 0);
  bounds[static_cast<std::size_t>(stages)] = n;
  for (int s = stages, i = n; s > 0; --s) {
    i = cut[s][i];
    bounds[static_cast<std::size_t>(s) - 1] = i;
  }
  return bounds;
}

}  // namespace saturn::worker
