// mean_cross_entropy as a custom autograd function; see cross_entropy.h.
#include "models/cross_entropy.h"

#include <cstdlib>
#include <string>

#ifdef SATURN_WITH_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/cross_entropy.h"
#endif

namespace saturn::worker {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

#ifdef SATURN_WITH_KERNELS
kernels::LogitType logit_type(const torch::Tensor& logits) {
  return logits.scalar_type() == torch::kBFloat16 ? kernels::LogitType::kBFloat16
                                                  : kernels::LogitType::kFloat32;
}

void* current_stream(const torch::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

void check_launch(int error, const char* pass) {
  TORCH_CHECK(error == 0, "fused cross-entropy ", pass, " kernel: ",
              kernels::kernel_error_string(error));
}
#endif

class CrossEntropy : public torch::autograd::Function<CrossEntropy> {
 public:
  // logits [N, V], targets [N] -> mean loss []; saves logits, targets and lse [N] fp32.
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor logits, torch::Tensor targets) {
    torch::Tensor lse, losses;  // [N] fp32
    if (uses_fused_cross_entropy(logits)) {
#ifdef SATURN_WITH_KERNELS
      const c10::cuda::CUDAGuard guard(logits.device());
      const std::int64_t rows = logits.size(0);
      lse = torch::empty({rows}, logits.options().dtype(torch::kFloat));
      losses = torch::empty_like(lse);
      check_launch(kernels::cross_entropy_forward(logits.data_ptr(), logit_type(logits),
                                                  targets.data_ptr<std::int64_t>(), rows,
                                                  logits.size(1), lse.data_ptr<float>(),
                                                  losses.data_ptr<float>(), current_stream(logits)),
                   "forward");
#endif
    } else {
      const torch::Tensor x = logits.to(torch::kFloat);
      lse = torch::logsumexp(x, 1);
      losses = lse - x.gather(1, targets.unsqueeze(1)).squeeze(1);
    }
    ctx->save_for_backward({logits, targets, lse});
    return losses.mean();
  }

  // grads[0]: d(loss) [] -> {d(logits) [N, V] in the logits' type, none for the targets}.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& logits = saved[0];
    const torch::Tensor& targets = saved[1];
    const torch::Tensor& lse = saved[2];
    const std::int64_t rows = logits.size(0);
    const double scale = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
    const torch::Tensor grad = grads[0].to(logits.device(), torch::kFloat).contiguous();  // []
    torch::Tensor dlogits;
    if (uses_fused_cross_entropy(logits)) {
#ifdef SATURN_WITH_KERNELS
      const c10::cuda::CUDAGuard guard(logits.device());
      dlogits = torch::empty_like(logits);
      check_launch(kernels::cross_entropy_backward(
                       logits.data_ptr(), logit_type(logits), targets.data_ptr<std::int64_t>(),
                       lse.data_ptr<float>(), grad.data_ptr<float>(), static_cast<float>(scale),
                       rows, logits.size(1), dlogits.data_ptr(), current_stream(logits)),
                   "backward");
#endif
    } else {
      // softmax − one-hot, times the upstream gradient over N.
      torch::Tensor p = (logits.to(torch::kFloat) - lse.unsqueeze(1)).exp_();
      p.scatter_add_(1, targets.unsqueeze(1), torch::full({rows, 1}, -1.0, p.options()));
      p.mul_(grad * scale);
      dlogits = p.to(logits.scalar_type());
    }
    return {dlogits, torch::Tensor()};
  }
};

}  // namespace

bool uses_fused_cross_entropy(const torch::Tensor& logits) {
#ifdef SATURN_WITH_KERNELS
  // SATURN_FUSED_LOSS=0 runs the ATen path instead (benchmarks measure both side by side).
  static const bool enabled = [] {
    const char* v = std::getenv("SATURN_FUSED_LOSS");
    return v == nullptr || std::string(v) != "0";
  }();
  return enabled && logits.is_cuda() &&
         (logits.scalar_type() == torch::kBFloat16 || logits.scalar_type() == torch::kFloat);
#else
  (void)logits;
  return false;
#endif
}

torch::Tensor mean_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  TORCH_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0),
              "mean_cross_entropy: logits [N, V] and targets [N], got ", logits.sizes(), " and ",
              targets.sizes());
  TORCH_CHECK(targets.scalar_type() == torch::kLong && targets.device() == logits.device(),
              "mean_cross_entropy: targets must be int64 on the logits' device");
  return CrossEntropy::apply(logits.contiguous(), targets.contiguous());
}

}  // namespace saturn::worker
