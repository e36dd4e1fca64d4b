// InitialPart: a rank's window of each block's initial values, taken as the model is built; see
// initial_part.h.
#include "train/initial_part.h"

#include <algorithm>
#include <string>

namespace saturn::worker {

InitialPart::Window InitialPart::shard(int rank, int world) {
  TORCH_CHECK(world >= 1 && rank >= 0 && rank < world, "rank ", rank, " of ", world);
  return [rank, world](std::size_t, std::int64_t numel) {
    const std::int64_t shard = (numel + world - 1) / world;
    const std::int64_t first = std::min(numel, rank * shard);
    return std::make_pair(first, std::min(numel, first + shard));
  };
}

InitialPart::Window InitialPart::blocks(std::size_t first, std::size_t last) {
  return [first, last](std::size_t block, std::int64_t numel) {
    const bool mine = block >= first && block < last;
    return std::make_pair<std::int64_t, std::int64_t>(0, mine ? numel : 0);
  };
}

BlockSink InitialPart::sink() {
  return [this](const std::string&, BlockImpl& block) { take(block); };
}

void InitialPart::take(BlockImpl& block) {
  const torch::NoGradGuard no_grad;
  // The block's parameters not laid out before (a tied weight belongs to its first block).
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : block.named_parameters(/*recurse=*/true)) {
    if (seen_.insert(item.value().unsafeGetTensorImpl()).second) {
      params.emplace_back(item.key(), item.value());
    }
  }
  order_for_layout(params.begin(), params.end());
  std::int64_t numel = 0;
  for (const auto& item : params) numel += item.second.numel();
  const auto [first, last] = window_(blocks_++, numel);
  if (last > first) {
    Piece piece{numel_ + first, torch::empty({last - first}, torch::kFloat)};
    std::int64_t at = 0;  // the parameter's offset in the block's slice
    for (const auto& item : params) {
      const std::int64_t n = item.second.numel();
      const std::int64_t lo = std::max(at, first), hi = std::min(at + n, last);
      if (hi > lo) {
        piece.values.narrow(0, lo - first, hi - lo)
            .copy_(item.second.reshape({-1}).narrow(0, lo - at, hi - lo));
      }
      at += n;
    }
    pieces_.push_back(std::move(piece));
  }
  for (auto& item : params) {
    torch::Tensor& p = item.second;
    p.set_data(torch::zeros({}, p.options()).expand(p.sizes()));
  }
  numel_ += numel;
}

std::int64_t InitialPart::kept_bytes() const {
  std::int64_t bytes = 0;
  for (const Piece& p : pieces_) bytes += p.values.numel() * 4;
  return bytes;
}

InitialValues InitialPart::values() const {
  return [this](std::int64_t offset, std::int64_t numel, torch::Tensor dst) {
    // The last piece starting at or before offset, then the pieces that continue it.
    auto it = std::upper_bound(pieces_.begin(), pieces_.end(), offset,
                               [](std::int64_t at, const Piece& p) { return at < p.offset; });
    if (it == pieces_.begin()) return false;
    --it;
    std::int64_t at = offset;  // the next element to copy
    std::vector<std::pair<const Piece*, std::int64_t>> from;  // piece, its first element
    for (; it != pieces_.end() && at < offset + numel && it->offset <= at; ++it) {
      const std::int64_t end = it->offset + it->values.numel();
      if (end <= at) break;
      from.emplace_back(&*it, at - it->offset);
      at = end;
    }
    if (at < offset + numel) return false;
    std::int64_t done = 0;
    for (const auto& [piece, first] : from) {
      const std::int64_t n = std::min(piece->values.numel() - first, numel - done);
      dst.narrow(0, done, n).copy_(piece->values.narrow(0, first, n));
      done += n;
    }
    return true;
  };
}

}  // namespace saturn::worker
