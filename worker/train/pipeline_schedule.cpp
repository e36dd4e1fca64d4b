// PipelineSchedule: one GPipe stage's fill-drain schedule; see pipeline_schedule.h.
#include "train/pipeline_schedule.h"

namespace saturn::worker {
namespace {

// A header before each activation: dtype, rank, sizes (at most kMaxDims).
constexpr int kMaxDims = 6;
constexpr int kHeader = 2 + kMaxDims;

// Tags of micro-batch `micro`: the activation's header and data (forward), its gradient.
int header_tag(int micro) { return 3 * micro; }
int data_tag(int micro) { return 3 * micro + 1; }
int grad_tag(int micro) { return 3 * micro + 2; }

}  // namespace

PipelineSchedule::PipelineSchedule(Model& model, int first, int last, int stage, int stages,
                                   Communicator* comm, torch::Device device)
    : model_(model),
      first_(first),
      last_(last),
      stage_(stage),
      stages_(stages),
      comm_(comm),
      device_(device) {
  TORCH_CHECK(stages == 1 || comm, "a pipeline of ", stages, " stages without a communicator");
}

torch::Tensor PipelineSchedule::run_blocks(torch::Tensor x) {
  for (int b = first_; b < last_; ++b) x = model_.blocks()[static_cast<std::size_t>(b)]->forward(x);
  return x;
}

torch::Tensor PipelineSchedule::receive_activation(int micro) {
  torch::Tensor header = torch::empty({kHeader}, torch::TensorOptions().dtype(torch::kLong).device(device_));
  comm_->start_recv(header, stage_ - 1, header_tag(micro))->wait();
  const torch::Tensor h = header.cpu();
  const auto* v = h.data_ptr<std::int64_t>();
  const auto dtype = static_cast<torch::ScalarType>(v[0]);
  std::vector<std::int64_t> sizes(v + 2, v + 2 + v[1]);
  torch::Tensor x = torch::empty(sizes, torch::TensorOptions().dtype(dtype).device(device_));
  comm_->start_recv(x, stage_ - 1, data_tag(micro))->wait();
  return x;
}

void PipelineSchedule::send_activation(const torch::Tensor& y, int micro) {
  TORCH_CHECK(y.dim() <= kMaxDims, "a stage boundary activation of rank ", y.dim());
  std::vector<std::int64_t> h(kHeader, 0);
  h[0] = static_cast<std::int64_t>(y.scalar_type());
  h[1] = y.dim();
  for (int d = 0; d < y.dim(); ++d) h[2 + d] = y.size(d);
  const torch::Tensor header = torch::tensor(h, torch::kLong).to(device_);
  const torch::Tensor data = y.detach().contiguous();
  pending_.push_back(comm_->start_send(header, stage_ + 1, header_tag(micro)));
  pending_.push_back(comm_->start_send(data, stage_ + 1, data_tag(micro)));
  in_flight_.push_back(header);
  in_flight_.push_back(data);
}

void PipelineSchedule::wait_pending() {
  for (auto& p : pending_) p->wait();
  pending_.clear();
  in_flight_.clear();
}

torch::Tensor PipelineSchedule::train(const std::vector<Batch>& micro_batches) {
  const int m_count = static_cast<int>(micro_batches.size());
  const double scale = 1.0 / m_count;
  std::vector<torch::Tensor> inputs(micro_batches.size()), outputs(micro_batches.size());
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device_));
  // Fill: every micro-batch forward. Without recomputation each keeps its graph (outputs: the
  // stage's output, or on the last stage its scaled loss).
  for (int m = 0; m < m_count; ++m) {
    const Batch& batch = micro_batches[static_cast<std::size_t>(m)];
    torch::Tensor x = is_first() ? batch.input : receive_activation(m).requires_grad_(true);
    torch::Tensor y;
    {
      const torch::AutoGradMode grad(!recompute_);
      y = run_blocks(x);
      if (is_last()) {
        const torch::Tensor loss = model_.loss(y, batch.target);
        loss_sum += loss.detach();
        y = loss * scale;
      }
    }
    if (!is_last()) send_activation(y, m);
    inputs[static_cast<std::size_t>(m)] = x;
    if (!recompute_) outputs[static_cast<std::size_t>(m)] = y;
  }
  wait_pending();
  // Drain: backward passes in reverse order, gradients to the previous stage.
  std::vector<torch::Tensor> buffers;
  for (int b = first_; b < last_; ++b) {
    for (const torch::Tensor& t : model_.blocks()[static_cast<std::size_t>(b)]->buffers()) {
      buffers.push_back(t);
    }
  }
  for (int m = m_count - 1; m >= 0; --m) {
    const auto i = static_cast<std::size_t>(m);
    torch::Tensor x = inputs[i];
    torch::Tensor y = outputs[i];
    std::vector<torch::Tensor> kept;  // BatchNorm statistics as they were after the forward pass
    if (recompute_) {
      for (const torch::Tensor& t : buffers) kept.push_back(t.clone());
      if (!is_first()) x = x.detach().requires_grad_(true);
      y = run_blocks(x);
      if (is_last()) y = model_.loss(y, micro_batches[i].target) * scale;
    }
    if (is_last()) {
      y.backward();
    } else {
      torch::Tensor grad = torch::empty_like(y);
      comm_->start_recv(grad, stage_ + 1, grad_tag(m))->wait();
      torch::autograd::backward({y}, {grad});
    }
    if (recompute_) {
      // Restored after the backward pass, which reads the statistics the recomputation used.
      const torch::NoGradGuard no_grad;
      for (std::size_t k = 0; k < buffers.size(); ++k) buffers[k].copy_(kept[k]);
    }
    if (!is_first()) {
      const torch::Tensor g = x.grad();
      pending_.push_back(comm_->start_send(g, stage_ - 1, grad_tag(m)));
      in_flight_.push_back(g);
    }
    inputs[i] = torch::Tensor();
    outputs[i] = torch::Tensor();
  }
  wait_pending();
  return loss_sum;
}

torch::Tensor PipelineSchedule::evaluate(const Batch& batch) {
  const torch::NoGradGuard no_grad;
  const torch::Tensor x = is_first() ? batch.input : receive_activation(0);
  const torch::Tensor y = run_blocks(x);
  if (is_last()) return model_.loss(y, batch.target);
  send_activation(y, 0);
  wait_pending();
  return torch::zeros({}, torch::TensorOptions().device(device_));
}

}  // namespace saturn::worker
