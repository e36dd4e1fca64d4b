// The Trainer's pipeline stage (GPipe): the partition of blocks into stages, this rank's
// StageParameters and schedule, and every stage's BatchNorm statistics shared for checkpoints;
// see trainer.h.
#include <algorithm>

#include <fmt/format.h>

#include "train/trainer.h"

namespace saturn::worker {
namespace {

Error stage_error(const std::string& field, const std::string& message) {
  return Error{"", 0, field, message};
}

}  // namespace

Status Trainer::plan_stages(const ModelArchitecture& arch, const ModelShapeOptions& shape) {
  if (setup_.balance != "time" && setup_.balance != "memory") {
    return stage_error(
        "balance", fmt::format("balance \"{}\": expected \"time\" or \"memory\"", setup_.balance));
  }
  // Block costs from the zoo's shapes of this model: forward FLOPs, or bytes of weights with
  // their gradient and AdamW state plus activations of the whole batch. Without a zoo shape,
  // create_stage() balances parameter counts.
  auto zoo = shape_model(arch, ModelInput{shape.seq_len, shape.image_size, shape.vocab});
  if (!zoo) return Status::Ok();
  const int stages = world_size();
  const int blocks = static_cast<int>(zoo->blocks.size());
  if (stages > blocks) {
    return stage_error("devices",
                       fmt::format("{} pipeline stages for a model of {} blocks", stages, blocks));
  }
  std::vector<double> costs;
  for (const BlockShape& s : zoo->blocks) {
    costs.push_back(setup_.balance == "time"
                        ? s.forward_flops
                        : 16.0 * static_cast<double>(s.weight_params()) +
                              s.activation_bytes * static_cast<double>(setup_.job.batch_size));
  }
  stage_bounds_ = balanced_stages(costs, stages);
  return Status::Ok();
}

Status Trainer::create_stage(torch::ScalarType compute, const InitialValues& initial) {
  const int stages = world_size();
  const int blocks = static_cast<int>(model_->blocks().size());
  if (!stage_bounds_.empty() && stage_bounds_.back() != blocks) {
    return Error{"", 0, "model",
                 fmt::format("internal: the zoo's {} has {} blocks, the built model {}",
                             setup_.job.model, stage_bounds_.back(), blocks)};
  }
  if (stage_bounds_.empty()) {
    if (stages > blocks) {
      return stage_error(
          "devices", fmt::format("{} pipeline stages for a model of {} blocks", stages, blocks));
    }
    std::vector<double> costs(static_cast<std::size_t>(blocks), 0);
    for (const FlatParameters::Entry& e : params_->entries()) {
      const auto& names = model_->block_names();
      const auto b = std::find(names.begin(), names.end(), e.block) - names.begin();
      costs[static_cast<std::size_t>(b)] += static_cast<double>(e.numel);
    }
    stage_bounds_ = balanced_stages(costs, stages);
  }
  const int r = rank();
  const int first = stage_bounds_[static_cast<std::size_t>(r)];
  const int last = stage_bounds_[static_cast<std::size_t>(r) + 1];
  stage_ = std::make_unique<StageParameters>(*model_, *params_, stage_bounds_, r, setup_.device,
                                             compute, initial);
  // Copies of tied weights (GPT's head's token embedding) from the stage that owns them.
  stage_->share_tied_values(setup_.comm);
  const torch::NoGradGuard no_grad;
  for (int b = first; b < last; ++b) {
    for (torch::Tensor& t : model_->blocks()[static_cast<std::size_t>(b)]->buffers()) {
      t.set_data(t.to(setup_.device));
    }
  }
  schedule_ = std::make_unique<PipelineSchedule>(*model_, first, last, r, stages, setup_.comm,
                                                 setup_.device);
  schedule_->set_recompute(setup_.activation_checkpointing);
  return Status::Ok();
}

void Trainer::share_stage_buffers() {
  if (!stage_ || world_size() == 1) return;
  const torch::NoGradGuard no_grad;
  for (std::size_t b = 0; b < model_->blocks().size(); ++b) {
    const int b_int = static_cast<int>(b);
    const bool mine = b_int >= stage_bounds_[static_cast<std::size_t>(rank())] &&
                      b_int < stage_bounds_[static_cast<std::size_t>(rank()) + 1];
    for (torch::Tensor& t : model_->blocks()[b]->buffers()) {
      torch::Tensor sum = mine ? t.to(setup_.device, /*non_blocking=*/false, /*copy=*/true)
                               : torch::zeros_like(t, t.options().device(setup_.device));
      setup_.comm->start_sum(sum)->wait();
      t.copy_(sum);
    }
  }
}

}  // namespace saturn::worker
