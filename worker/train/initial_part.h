// A rank's part of a model's initial parameter values, taken block by block while the model is
// built, so that an FSDP or GPipe rank never holds the whole model's values at once.
//
// build_model() hands each block to sink() as soon as the block is initialised. The sink lays the
// block's new parameters out as FlatParameters will (blocks in order, a tied weight once under
// its first block, the decay group first within a block), keeps the window of that slice which
// `window` asks for as fp32 host memory, and replaces every parameter's data with a placeholder
// of the same shape (one element, stride 0), so that the block's values are freed before the
// next block is built. A rank then holds its kept windows plus at most one block; FlatParameters
// with `layout_only` reads the layout from the placeholders, and values() fills the rank's
// shards or stage (ShardedParameters, StageParameters) from the windows.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_set>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/model.h"
#include "train/parameters.h"

namespace saturn::worker {

class InitialPart {
 public:
  // Elements [first, second) of block `block`'s slice of the flat layout (`numel` elements) to
  // keep; an empty range keeps nothing.
  using Window =
      std::function<std::pair<std::int64_t, std::int64_t>(std::size_t block, std::int64_t numel)>;

  // Rank `rank` of `world` FSDP ranks: each block's slice padded to a multiple of world, shard
  // `rank` of it (ShardedParameters' cut), the padding left out.
  static Window shard(int rank, int world);
  // The blocks [first, last): a pipeline stage's own blocks (StageParameters).
  static Window blocks(std::size_t first, std::size_t last);

  explicit InitialPart(Window window) : window_(std::move(window)) {}

  // What build_model() calls with each block. Not thread-safe (build_model builds one model at
  // a time).
  BlockSink sink();

  // Elements laid out so far (FlatParameters::numel() once the model is built).
  std::int64_t numel() const { return numel_; }
  // Bytes of values kept.
  std::int64_t kept_bytes() const;
  // The kept values as an InitialValues: a range that kept windows cover without a gap (windows
  // of adjacent blocks continue each other), or false. The object must outlive it.
  InitialValues values() const;

 private:
  struct Piece {
    std::int64_t offset = 0;  // in the flat layout
    torch::Tensor values;     // fp32, contiguous, on the CPU
  };
  void take(BlockImpl& block);

  Window window_;
  std::vector<Piece> pieces_;                   // in offset order
  std::unordered_set<const void*> seen_;        // parameters laid out (TensorImpl)
  std::int64_t numel_ = 0;
  std::size_t blocks_ = 0;
};

}  // namespace saturn::worker
