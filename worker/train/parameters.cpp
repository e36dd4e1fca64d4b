// Flat parameter buffers, the flat AdamW / SGD, and the learning-rate schedule; see
// parameters.h.
#include "train/parameters.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <unordered_set>

#include <ATen/Parallel.h>

#include "compat.h"
#include "train/host_adamw.h"

namespace saturn::worker {

void order_for_layout(std::vector<std::pair<std::string, torch::Tensor>>::iterator begin,
                      std::vector<std::pair<std::string, torch::Tensor>>::iterator end) {
  std::stable_partition(begin, end, [](const auto& p) { return p.second.dim() >= 2; });
}

FlatParameters::FlatParameters(torch::nn::Module& module, torch::Device device,
                               torch::ScalarType compute_dtype, bool pinned, bool layout_only,
                               const std::vector<std::string>& kept_blocks,
                               torch::Device kept_device) {
  TORCH_CHECK(!(pinned && layout_only), "FlatParameters: pinned buffers need values");
  TORCH_CHECK(!(layout_only && !kept_blocks.empty()), "FlatParameters: kept blocks need values");
  const torch::NoGradGuard no_grad;
  module.to(device);  // buffers (and parameters, re-pointed below)
  // Distinct parameters in module order; a tied weight appears once, under its first name.
  std::vector<std::pair<std::string, torch::Tensor>> params;
  std::unordered_set<const void*> seen;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!seen.insert(item.value().unsafeGetTensorImpl()).second) continue;
    params.emplace_back(item.key(), item.value());
  }
  // Within each block ("h.3" of "h.3.c_attn.weight", "embed" of "embed.wte.weight"): the decay
  // group first.
  auto block_of = [](const std::string& name) {
    const std::size_t first = name.find('.');
    if (first == std::string::npos) return name;
    const std::size_t second = name.find('.', first + 1);
    const bool numbered = second != std::string::npos && second > first + 1 &&
                          std::all_of(name.begin() + static_cast<long>(first) + 1,
                                      name.begin() + static_cast<long>(second),
                                      [](char c) { return c >= '0' && c <= '9'; });
    return name.substr(0, numbered ? second : first);
  };
  for (auto begin = params.begin(); begin != params.end();) {
    const std::string block = block_of(begin->first);
    auto end = std::find_if(begin, params.end(),
                            [&](const auto& p) { return block_of(p.first) != block; });
    order_for_layout(begin, end);
    begin = end;
  }
  for (const auto& [name, p] : params) {
    Entry e;
    e.name = name;
    e.offset = numel_;
    e.numel = p.numel();
    e.shape = p.sizes().vec();
    e.decay = p.dim() >= 2;
    e.block = block_of(name);
    if (e.decay) {
      if (!decay_ranges_.empty() &&
          decay_ranges_.back().offset + decay_ranges_.back().numel == e.offset) {
        decay_ranges_.back().numel += e.numel;
      } else {
        decay_ranges_.push_back({e.offset, e.numel});
      }
    }
    numel_ += e.numel;
    entries_.push_back(std::move(e));
  }
  if (layout_only) {
    master_ = compute_ = grad_ = torch::empty({0}, torch::kFloat);
    for (const auto& item : params) {
      parameters_.push_back(item.second);
      given_.push_back(item.second.storage());
    }
    return;
  }
  // The kept blocks' range: from the first entry of a kept block to the end of the layout.
  const auto first_kept = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return std::find(kept_blocks.begin(), kept_blocks.end(), e.block) != kept_blocks.end();
  });
  for (auto e = first_kept; e != entries_.end(); ++e) {
    TORCH_CHECK(std::find(kept_blocks.begin(), kept_blocks.end(), e->block) != kept_blocks.end(),
                "FlatParameters: ", e->name, " follows a kept block but is not in one");
  }
  const std::int64_t held = first_kept == entries_.end() ? numel_ : first_kept->offset;
  if (held < numel_) {
    kept_ = std::make_unique<FlatRange>(*this, held, numel_ - held, kept_device, compute_dtype);
  }
  // Pinned: what is copied to and from the device (master only when it is the compute copy),
  // allocated page-locked at once rather than copied there (no transient second copy).
  const auto on = torch::TensorOptions().device(device);
  const bool fp32 = compute_dtype == torch::kFloat;
  master_ = torch::empty({held}, on.dtype(torch::kFloat).pinned_memory(pinned && fp32));
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Entry& e = entries_[i];
    torch::Tensor whole = e.offset < held ? master_ : kept_->master();
    whole.narrow(0, e.offset < held ? e.offset : e.offset - held, e.numel)
        .copy_(params[i].second.reshape({-1}));
  }
  if (fp32) {
    compute_ = master_;
  } else {
    compute_ = torch::empty({held}, on.dtype(compute_dtype).pinned_memory(pinned));
    compute_.copy_(master_);
  }
  grad_ = torch::zeros({held}, on.dtype(compute_dtype).pinned_memory(pinned));
  if (kept_) kept_->publish();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Entry& e = entries_[i];
    const bool in_kept = e.offset >= held;
    const std::int64_t at = in_kept ? e.offset - held : e.offset;
    torch::Tensor& p = params[i].second;
    p.set_data((in_kept ? kept_->compute() : compute_).narrow(0, at, e.numel).view(e.shape));
    p.mutable_grad() = (in_kept ? kept_->grad() : grad_).narrow(0, at, e.numel).view(e.shape);
    parameters_.push_back(p);
    given_.push_back(p.storage());
  }
}

InitialValues values_of(const torch::Tensor& full) {
  return [full](std::int64_t offset, std::int64_t numel, torch::Tensor dst) {
    if (offset < 0 || numel < 0 || offset + numel > full.numel()) return false;
    const torch::NoGradGuard no_grad;
    dst.copy_(full.narrow(0, offset, numel));
    return true;
  };
}

InitialValues FlatParameters::initial_values() const { return values_of(master_); }

void FlatParameters::release_buffers() {
  const torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const torch::Tensor& p = parameters_[i];
    if (p.defined() && given_[i] && p.storage().is_alias_of(given_[i])) {
      p.set_data(torch::empty({0}, p.options()));
      p.mutable_grad() = torch::Tensor();
    }
    given_[i] = c10::Storage();
  }
  master_ = compute_ = grad_ = torch::empty({0}, torch::kFloat);
}

FlatRange::FlatRange(FlatBuffers& whole, std::int64_t offset, std::int64_t numel)
    : offset_(offset) {
  take_layout(whole, numel);
  master_ = whole.master().narrow(0, offset, numel);
  compute_ = whole.separate_compute() ? whole.compute().narrow(0, offset, numel) : master_;
  grad_ = whole.grad().narrow(0, offset, numel);
}

FlatRange::FlatRange(const FlatBuffers& layout, std::int64_t offset, std::int64_t numel,
                     torch::Device device, torch::ScalarType compute_dtype)
    : offset_(offset) {
  take_layout(layout, numel);
  const auto on = torch::TensorOptions().device(device);
  master_ = torch::empty({numel}, on.dtype(torch::kFloat));
  compute_ = compute_dtype == torch::kFloat ? master_
                                            : torch::empty({numel}, on.dtype(compute_dtype));
  grad_ = torch::zeros({numel}, on.dtype(compute_dtype));
}

void FlatRange::take_layout(const FlatBuffers& whole, std::int64_t numel) {
  TORCH_CHECK(offset_ >= 0 && numel >= 0 && offset_ + numel <= whole.numel(), "FlatRange [",
              offset_, ", ", offset_ + numel, ") outside a layout of ", whole.numel());
  numel_ = numel;
  for (const Range& r : whole.decay_ranges()) {
    const std::int64_t lo = std::max(r.offset, offset_);
    const std::int64_t hi = std::min(r.offset + r.numel, offset_ + numel);
    if (hi > lo) decay_ranges_.push_back({lo - offset_, hi - lo});
  }
}

void FlatBuffers::publish() {
  if (separate_compute()) {
    const torch::NoGradGuard no_grad;
    compute_.copy_(master_);
  }
}

OptimizerConfig OptimizerConfig::from_job(const JobSpec& job) {
  OptimizerConfig c;
  c.kind = job.optimizer.empty() ? "adamw" : job.optimizer;
  c.weight_decay = job.weight_decay;
  c.momentum = job.momentum;
  return c;
}

FlatOptimizer::FlatOptimizer(FlatBuffers& params, OptimizerConfig config)
    : params_(params), config_(std::move(config)) {
  const torch::Tensor& m = params_.master();
  TORCH_CHECK(m.numel() == params_.numel() && params_.grad().numel() == params_.numel(),
              "FlatOptimizer: the buffers hold ", m.numel(), " of ", params_.numel(),
              " elements (blocks kept elsewhere: optimise a FlatRange of each part)");
  if (config_.kind == "adamw") {
    exp_avg_ = torch::zeros_like(m);
    exp_avg_sq_ = torch::zeros_like(m);
  } else if (config_.momentum > 0) {
    momentum_ = torch::zeros_like(m);
  }
  // The slices without weight decay are the gaps between the decay ranges.
  std::int64_t at = 0;
  for (const auto& r : params_.decay_ranges()) {
    if (r.offset > at) slices_.push_back({at, r.offset - at, false});
    slices_.push_back({r.offset, r.numel, true});
    at = r.offset + r.numel;
  }
  if (params_.numel() > at) slices_.push_back({at, params_.numel() - at, false});
  const torch::Tensor& grad = params_.grad();
  const auto grad_type = grad.scalar_type();
  host_ = config_.kind == "adamw" && config_.host_kernel && m.device().is_cpu() &&
          m.is_contiguous() && grad.device().is_cpu() && grad.is_contiguous() &&
          (grad_type == torch::kFloat || grad_type == torch::kBFloat16);
  if (host_) return;
  if (grad_type != torch::kFloat) grad32_ = torch::empty_like(m);
  fused_ = config_.kind == "adamw" && config_.fused && compat::kHasFusedAdamW;
  if (!fused_) return;
  const torch::Tensor g = grad32_.defined() ? grad32_ : grad;
  const auto step_options = torch::TensorOptions().dtype(torch::kFloat).device(m.device());
  for (const bool decay : {true, false}) {
    FusedGroup group;
    group.weight_decay = decay ? config_.weight_decay : 0.0;
    for (const Slice& r : slices_) {
      if (r.decay != decay) continue;
      group.params.push_back(m.narrow(0, r.offset, r.numel));
      group.grads.push_back(g.narrow(0, r.offset, r.numel));
      group.exp_avgs.push_back(exp_avg_.narrow(0, r.offset, r.numel));
      group.exp_avg_sqs.push_back(exp_avg_sq_.narrow(0, r.offset, r.numel));
      group.steps.push_back(torch::zeros({}, step_options));
    }
    if (!group.params.empty()) groups_.push_back(std::move(group));
  }
}

void FlatOptimizer::set_steps(std::int64_t steps) {
  steps_ = steps;
  const torch::NoGradGuard no_grad;
  for (FusedGroup& group : groups_) {
    for (torch::Tensor& t : group.steps) t.fill_(static_cast<double>(steps));
  }
}

torch::Tensor FlatOptimizer::fp32_grad() {
  if (!grad32_.defined()) return params_.grad();
  grad32_.copy_(params_.grad());
  return grad32_;
}

torch::Tensor FlatOptimizer::norm_of(const torch::Tensor& g) const {
  const torch::Tensor local = g.norm();
  return sum_over_ranks_ ? sum_over_ranks_(local.pow(2)).sqrt() : local;
}

torch::Tensor FlatOptimizer::clip_scale(const torch::Tensor& norm, double max_norm) const {
  // Divides the gradient by (norm + 1e-6) / max_norm when its norm exceeds max_norm, by 1
  // otherwise: step()'s clipping, as a device scalar.
  return torch::where(norm > max_norm, (norm + 1e-6) / max_norm, torch::ones_like(norm));
}

template <typename Lr>
torch::Tensor FlatOptimizer::fused_step(const Lr& lr, double max_norm) {
  const torch::Tensor norm = norm_of(fp32_grad());
  std::optional<torch::Tensor> scale;
  if (max_norm > 0) scale = clip_scale(norm, max_norm);
  for (FusedGroup& group : groups_) {
    torch::_foreach_add_(group.steps, 1);
    compat::fused_adamw(group.params, group.grads, group.exp_avgs, group.exp_avg_sqs, group.steps,
                        lr, config_.beta1, config_.beta2, group.weight_decay, config_.eps, scale);
  }
  params_.publish();
  return norm;
}

torch::Tensor FlatOptimizer::step_on_device(const torch::Tensor& lr, double max_norm) {
  TORCH_CHECK(fused_, "step_on_device needs the fused AdamW kernel");
  const torch::NoGradGuard no_grad;
  return fused_step(lr, max_norm);
}

std::vector<std::pair<std::string, torch::Tensor*>> FlatOptimizer::state() {
  std::vector<std::pair<std::string, torch::Tensor*>> out;
  if (exp_avg_.defined()) out.emplace_back("exp_avg", &exp_avg_);
  if (exp_avg_sq_.defined()) out.emplace_back("exp_avg_sq", &exp_avg_sq_);
  if (momentum_.defined()) out.emplace_back("momentum", &momentum_);
  return out;
}

namespace {

// Elements per task of the host kernel's parallel loops: large enough to amortise a task,
// small enough to spread a block over every core.
constexpr std::int64_t kHostGrain = 1 << 16;

}  // namespace

int host_loop_threads() {
  const int threads = at::get_num_threads();
  std::atomic<int> most{1};
  at::parallel_for(0, threads, 1, [&](std::int64_t, std::int64_t) {
    const int id = at::get_thread_num() + 1;
    int seen = most.load();
    while (id > seen && !most.compare_exchange_weak(seen, id)) {
    }
  });
  return most.load();
}

double FlatOptimizer::host_step(double lr, double max_norm) {
  const torch::Tensor& grad = params_.grad();
  const std::int64_t n = params_.numel();
  const bool bf16_grad = grad.scalar_type() == torch::kBFloat16;
  const auto* g16 = bf16_grad ? reinterpret_cast<const std::uint16_t*>(grad.data_ptr()) : nullptr;
  const float* g32 = bf16_grad ? nullptr : grad.data_ptr<float>();
  double squares = at::parallel_reduce(
      0, n, kHostGrain, 0.0,
      [&](std::int64_t begin, std::int64_t end, double sum) {
        return sum + (bf16_grad ? sum_of_squares(g16 + begin, end - begin)
                                : sum_of_squares(g32 + begin, end - begin));
      },
      std::plus<double>());
  if (sum_over_ranks_) {
    squares = sum_over_ranks_(torch::full({}, squares, torch::kFloat)).item<double>();
  }
  const double norm = std::sqrt(squares);
  ++steps_;
  AdamWUpdate u;
  u.lr = static_cast<float>(lr);
  u.beta1 = static_cast<float>(config_.beta1);
  u.beta2 = static_cast<float>(config_.beta2);
  u.eps = static_cast<float>(config_.eps);
  u.step = steps_;
  u.grad_multiplier = max_norm > 0 && norm > max_norm ? static_cast<float>(max_norm / (norm + 1e-6))
                                                      : 1.0f;
  const torch::Tensor& compute = params_.compute();
  const bool write_compute = params_.separate_compute() && compute.device().is_cpu() &&
                             compute.scalar_type() == torch::kBFloat16 && compute.is_contiguous();
  float* p = params_.master().data_ptr<float>();
  float* m = exp_avg_.data_ptr<float>();
  float* v = exp_avg_sq_.data_ptr<float>();
  auto* c = write_compute ? reinterpret_cast<std::uint16_t*>(compute.data_ptr()) : nullptr;
  at::parallel_for(0, n, kHostGrain, [&](std::int64_t begin, std::int64_t end) {
    // The slices of [begin, end), each with its weight decay.
    auto slice = std::upper_bound(slices_.begin(), slices_.end(), begin,
                                  [](std::int64_t at, const Slice& s) { return at < s.offset; });
    if (slice != slices_.begin()) --slice;
    for (; slice != slices_.end() && slice->offset < end; ++slice) {
      const std::int64_t lo = std::max(begin, slice->offset);
      const std::int64_t hi = std::min(end, slice->offset + slice->numel);
      if (hi <= lo) continue;
      AdamWUpdate su = u;
      su.weight_decay = slice->decay ? static_cast<float>(config_.weight_decay) : 0.0f;
      if (bf16_grad) {
        host_adamw(su, p + lo, m + lo, v + lo, g16 + lo, c ? c + lo : nullptr, hi - lo);
      } else {
        host_adamw(su, p + lo, m + lo, v + lo, g32 + lo, c ? c + lo : nullptr, hi - lo);
      }
    }
  });
  if (!write_compute) params_.publish();
  return norm;
}

double FlatOptimizer::step(double lr, double max_norm) {
  const torch::NoGradGuard no_grad;
  if (host_) return host_step(lr, max_norm);
  // The fused update queues its work before the norm is read back.
  if (fused_) {
    const torch::Tensor norm = fused_step(lr, max_norm);
    ++steps_;
    return norm.item<double>();
  }
  torch::Tensor& master = params_.master();
  torch::Tensor g = fp32_grad();
  const double norm = norm_of(g).item<double>();
  if (max_norm > 0 && norm > max_norm) g.mul_(max_norm / (norm + 1e-6));
  ++steps_;
  if (config_.kind == "adamw") {
    exp_avg_.lerp_(g, 1 - config_.beta1);
    exp_avg_sq_.mul_(config_.beta2).addcmul_(g, g, 1 - config_.beta2);
    const double bias1 = 1 - std::pow(config_.beta1, static_cast<double>(steps_));
    const double bias2 = 1 - std::pow(config_.beta2, static_cast<double>(steps_));
    if (config_.weight_decay > 0) {
      for (const auto& r : params_.decay_ranges()) {
        master.narrow(0, r.offset, r.numel).mul_(1 - lr * config_.weight_decay);
      }
    }
    const torch::Tensor denom = (exp_avg_sq_.sqrt() / std::sqrt(bias2)).add_(config_.eps);
    master.addcdiv_(exp_avg_, denom, -lr / bias1);
  } else {
    if (config_.weight_decay > 0) {
      for (const auto& r : params_.decay_ranges()) {
        g.narrow(0, r.offset, r.numel)
            .add_(master.narrow(0, r.offset, r.numel), config_.weight_decay);
      }
    }
    if (momentum_.defined()) {
      momentum_.mul_(config_.momentum).add_(g);
      master.add_(momentum_, -lr);
    } else {
      master.add_(g, -lr);
    }
  }
  params_.publish();
  return norm;
}

double learning_rate(double lr, std::int64_t step, std::int64_t warmup, std::int64_t total) {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = std::max<std::int64_t>(1, total - warmup - 1);
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
  const double min_lr = lr / 10;
  return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(M_PI * progress));
}

}  // namespace saturn::worker
