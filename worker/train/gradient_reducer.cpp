// Gradient buckets reduced during the backward pass; see gradient_reducer.h.
#include "train/gradient_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace saturn::worker {

GradientReducer::GradientReducer(FlatParameters& params, Communicator& comm,
                                 std::int64_t bucket_bytes)
    : params_(params), comm_(comm) {
  TORCH_CHECK(params_.grad().numel() == params_.numel(),
              "GradientReducer: the gradient buffer holds ", params_.grad().numel(), " of ",
              params_.numel(), " elements");
  const auto& entries = params_.entries();
  const std::int64_t element = params_.grad().element_size();
  const std::int64_t cap = std::max<std::int64_t>(1, bucket_bytes / element);
  bucket_of_.resize(entries.size());
  entry_done_.assign(entries.size(), false);
  // Walk from the last entry back; each bucket grows towards the buffer's start.
  for (std::size_t k = entries.size(); k-- > 0;) {
    const auto& e = entries[k];
    if (buckets_.empty() || buckets_.back().range.numel + e.numel > cap) {
      buckets_.push_back(Bucket{{e.offset + e.numel, 0}, 0, 0});
    }
    Bucket& b = buckets_.back();
    b.range.offset = e.offset;
    b.range.numel += e.numel;
    b.entries += 1;
    bucket_of_[k] = buckets_.size() - 1;
  }
  link_->reducer = this;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    // The accumulator is the autograd node that adds a backward pass's gradient into the
    // parameter's .grad (our view of the flat buffer); its post hooks run after the add.
    std::shared_ptr<torch::autograd::Node> acc =
        torch::autograd::impl::grad_accumulator(params_.parameter(k));
    if (!acc) continue;  // a parameter that does not require grad
    acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [link = link_, k](const torch::autograd::variable_list& outputs,
                          const torch::autograd::variable_list&) {
          const std::lock_guard<std::mutex> lock(link->mutex);
          if (link->reducer) link->reducer->on_gradient(k);
          return outputs;
        }));
    accumulators_.push_back(std::move(acc));
  }
}

GradientReducer::~GradientReducer() {
  {
    const std::lock_guard<std::mutex> lock(link_->mutex);
    link_->reducer = nullptr;
  }
  const std::lock_guard<std::mutex> lock(mutex_);
  for (auto& p : pending_) {
    // A peer that died (killed, crashed) fails the reductions still in flight: the run is over
    // and its error reported where it happened; a destructor must not throw it again.
    try {
      p->wait();
    } catch (const std::exception&) {
    }
  }
}

void GradientReducer::arm() {
  const std::lock_guard<std::mutex> lock(mutex_);
  armed_ = true;
  next_ = 0;
  pending_.clear();
  std::fill(entry_done_.begin(), entry_done_.end(), false);
  for (Bucket& b : buckets_) b.complete = 0;
}

void GradientReducer::on_gradient(std::size_t entry) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_ || entry_done_[entry]) return;
  entry_done_[entry] = true;
  buckets_[bucket_of_[entry]].complete += 1;
  start_ready_locked();
}

void GradientReducer::start_ready_locked() {
  while (next_ < buckets_.size() && buckets_[next_].complete == buckets_[next_].entries) {
    start_locked(next_++);
  }
}

void GradientReducer::start_locked(std::size_t bucket) {
  const FlatParameters::Range& r = buckets_[bucket].range;
  pending_.push_back(comm_.start_sum(params_.grad().narrow(0, r.offset, r.numel)));
}

void GradientReducer::finish() {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) {
    next_ = 0;
    pending_.clear();
  }
  started_during_backward_ = next_;
  while (next_ < buckets_.size()) start_locked(next_++);
  for (auto& p : pending_) p->wait();
  pending_.clear();
  armed_ = false;
  const torch::NoGradGuard no_grad;
  params_.grad().div_(comm_.world_size());
}

}  // namespace saturn::worker
