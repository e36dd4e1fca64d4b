// TransferStreams: host-device copies on CUDA side streams; see transfer_streams.h.
#include "train/transfer_streams.h"

#include <algorithm>
#include <deque>

#ifdef SATURN_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace saturn::worker {
namespace {

// A copy on the calling thread, with nothing to wait for (no side streams).
InboundCopy copy_in_place(torch::Device device, const torch::Tensor& host,
                          const std::function<torch::Tensor(torch::Tensor)>& then) {
  torch::Tensor t = torch::empty_like(host, host.options().device(device));
  t.copy_(host);
  InboundCopy copy;
  copy.tensor = then(std::move(t));
  return copy;
}

}  // namespace

InboundCopy TransferStreams::copy_in(const torch::Tensor& host) {
  return copy_in(host, [](torch::Tensor t) { return t; });
}

#ifdef SATURN_WITH_CUDA

struct TransferStreams::Side {
  c10::cuda::CUDAStream in, out;
  bool pending_out = false;
  std::deque<at::cuda::CUDAEvent> marks;  // oldest first
};

namespace {

// Marks `t`'s memory as used by `stream`, so the caching allocator waits for that stream's
// work before it reuses the memory.
void record_use(const torch::Tensor& t, c10::cuda::CUDAStream stream) {
  c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), stream);
}

}  // namespace

TransferStreams::TransferStreams(torch::Device device) : device_(device) {
  if (!device.is_cuda()) return;
  const auto index = device.index() < 0 ? c10::cuda::current_device() : device.index();
  side_.reset(new Side{c10::cuda::getStreamFromPool(false, index),
                       c10::cuda::getStreamFromPool(false, index), false, {}});
}

TransferStreams::~TransferStreams() {
  if (side_ && side_->pending_out) side_->out.synchronize();
}

InboundCopy TransferStreams::copy_in(const torch::Tensor& host,
                                     const std::function<torch::Tensor(torch::Tensor)>& then) {
  if (!side_) return copy_in_place(device_, host, then);
  InboundCopy copy;
  const c10::cuda::CUDAStreamGuard guard(side_->in);
  torch::Tensor t = torch::empty_like(host, host.options().device(device_));
  t.copy_(host, /*non_blocking=*/true);
  copy.tensor = then(std::move(t));
  auto event = std::make_shared<at::cuda::CUDAEvent>();
  event->record(side_->in);
  copy.ready = event;
  return copy;
}

torch::Tensor TransferStreams::use(const InboundCopy& copy) {
  if (side_ && copy.ready) {
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(side_->in.device_index());
    static_cast<at::cuda::CUDAEvent*>(copy.ready.get())->block(current);
    record_use(copy.tensor, current);
  }
  return copy.tensor;
}

void TransferStreams::copy_out(const torch::Tensor& device, torch::Tensor host) {
  if (!side_) {
    host.copy_(device);
    return;
  }
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(side_->out.device_index());
  at::cuda::CUDAEvent produced;
  produced.record(current);
  produced.block(side_->out);
  const c10::cuda::CUDAStreamGuard guard(side_->out);
  host.copy_(device, /*non_blocking=*/true);
  record_use(device, side_->out);
  side_->pending_out = true;
}

void TransferStreams::finish_out() {
  if (side_ && side_->pending_out) {
    side_->out.synchronize();
    side_->pending_out = false;
    side_->marks.clear();  // recorded on the copy-out stream: all finished
  }
}

void TransferStreams::finish() {
  if (!side_) return;
  finish_out();
  side_->in.synchronize();
  c10::cuda::getCurrentCUDAStream(side_->in.device_index()).synchronize();
  side_->marks.clear();
}

void TransferStreams::mark() {
  if (!side_) return;
  // The copy-out stream waits for the current stream, so an event after it covers both.
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(side_->out.device_index());
  at::cuda::CUDAEvent produced;
  produced.record(current);
  produced.block(side_->out);
  side_->marks.emplace_back();
  side_->marks.back().record(side_->out);
}

void TransferStreams::throttle(int pending) {
  if (!side_) return;
  while (static_cast<int>(side_->marks.size()) > std::max(0, pending)) {
    side_->marks.front().synchronize();
    side_->marks.pop_front();
  }
}

#else  // no CUDA: plain copies

struct TransferStreams::Side {};

TransferStreams::TransferStreams(torch::Device device) : device_(device) {}
TransferStreams::~TransferStreams() = default;

InboundCopy TransferStreams::copy_in(const torch::Tensor& host,
                                     const std::function<torch::Tensor(torch::Tensor)>& then) {
  return copy_in_place(device_, host, then);
}

torch::Tensor TransferStreams::use(const InboundCopy& copy) { return copy.tensor; }

void TransferStreams::copy_out(const torch::Tensor& device, torch::Tensor host) {
  host.copy_(device);
}

void TransferStreams::finish_out() {}
void TransferStreams::finish() {}
void TransferStreams::mark() {}
void TransferStreams::throttle(int) {}

#endif

}  // namespace saturn::worker
