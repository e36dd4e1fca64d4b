// `offload`: trains a model that need not fit on its device. Master weights, the bf16 compute
// copy, gradients and optimizer state live in host memory; the first and last blocks stay on
// the device for the step, every other block is copied to the device for its forward pass and
// again for its backward pass, which recomputes its activations (train/block_streamer.h); on a
// GPU the copies run on side streams, overlapped with compute. The optimizer step runs on the
// host. With `device_blocks` k > 0, the model's last k blocks instead live on the device for
// the whole run, state and optimizer step included (the step runs where the block lives: on the
// GPU it is many times faster than the host's, and those blocks need no copies). One device.
//
// Search, best first: gradient accumulation like `single`; within it, the most blocks kept on
// the device (all but block 0, then one fewer, down to none), two streamed blocks on the device
// at once (one computing, the next copied in); last, none kept and one block. The first setting
// that fits wins, so the job keeps as many blocks on the device as its memory allows. A count
// whose kept blocks' state and activations alone exceed the device's available memory (the
// zoo's figures; kept_blocks_fit), or whose other blocks' state exceeds the host memory left
// (host_memory_fits; host_memory.h), is out of memory at once, without building the model; a
// count that passes both checks and still does not fit costs a model build.
#include "techniques/offload.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "events.h"
#include "host_memory.h"
#include "memory_cap.h"
#include "saturn/model_zoo.h"
#include "techniques/trainer_technique.h"

namespace saturn::worker {

Status kept_blocks_fit(const JobSpec& job, int kept, std::int64_t micro_batch,
                       double bytes_per_param, std::size_t available) {
  auto arch = job_architecture(job);
  if (!arch || kept <= 0) return Status::Ok();
  auto model = shape_model(*arch, ModelInput{job.data.seq_len, job.data.image_size, 0});
  if (!model) return Status::Ok();
  const auto& blocks = model->blocks;
  double state = 0, activations = 0;
  for (std::size_t i = blocks.size() - std::min(blocks.size(), static_cast<std::size_t>(kept));
       i < blocks.size(); ++i) {
    state += bytes_per_param * static_cast<double>(blocks[i].params);
    activations += blocks[i].activation_bytes * static_cast<double>(micro_batch);
  }
  if (state + activations <= static_cast<double>(available)) return Status::Ok();
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  return Error{"", 0, kOutOfMemoryField,
               fmt::format("device_blocks {}: the kept blocks need about {:.2f} GiB ({:.2f} of "
                           "state, {:.2f} of activations), {:.2f} GiB is available",
                           kept, (state + activations) / kGiB, state / kGiB,
                           activations / kGiB, static_cast<double>(available) / kGiB)};
}

Status host_memory_fits(const JobSpec& job, int kept, bool on_cpu, std::size_t available) {
  auto arch = job_architecture(job);
  if (!arch) return Status::Ok();
  auto model = shape_model(*arch, ModelInput{job.data.seq_len, job.data.image_size, 0});
  if (!model) return Status::Ok();
  const auto& blocks = model->blocks;
  if (kept < 0 || static_cast<std::size_t>(kept) >= blocks.size()) return Status::Ok();
  const std::size_t on_host =
      on_cpu ? blocks.size() : blocks.size() - static_cast<std::size_t>(kept);
  double all = 0, held = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    all += static_cast<double>(blocks[i].params);
    if (i < on_host) held += static_cast<double>(blocks[i].params);
  }
  // A pinned block of `bytes`, as the pinned-memory cache allocates it.
  const auto pinned = [](double bytes) {
    return bytes > 1 ? std::exp2(std::ceil(std::log2(bytes))) : bytes;
  };
  const double master = 4 * held;
  const double compute_and_grad = on_cpu ? 4 * held : 2 * pinned(2 * held);
  const bool sgd = job.optimizer == "sgd";
  const double optimizer =
      sgd ? (on_cpu ? 0 : 4 * held) + (job.momentum > 0 ? 4 * held : 0) : 8 * held;
  const double training = master + compute_and_grad + optimizer;
  const double building = 4 * all + master + compute_and_grad;
  const double need = std::max(training, building);
  if (need <= static_cast<double>(available)) return Status::Ok();
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  return Error{"", 0, kOutOfMemoryField,
               fmt::format("device_blocks {}: host memory for the {:.0f}M parameters of the {} "
                           "blocks held there needs about {:.2f} GiB ({:.2f} training, {:.2f} "
                           "while building the model), {:.2f} GiB is available",
                           kept, held / 1e6, on_host, need / kGiB, training / kGiB,
                           building / kGiB, static_cast<double>(available) / kGiB)};
}

namespace {

using nlohmann::json;

class Offload final : public TrainerTechnique {
 public:
  std::string name() const override { return "offload"; }
  int processes(int) const override { return 1; }
  std::vector<json> candidates(const JobSpec& job, int) const override {
    // Blocks that can be kept: all but block 0 (none when the zoo does not know the model).
    auto arch = job_architecture(job);
    auto shape = arch ? shape_model(*arch, ModelInput{}) : Result<ModelShape>(arch.error());
    const int keepable = shape ? static_cast<int>(shape->blocks.size()) - 1 : 0;
    std::vector<json> out;
    for (json c : accumulation_candidates(job, 1)) {
      for (int kept = keepable; kept >= 0; --kept) {
        c["device_blocks"] = kept;
        // One block in flight frees one block's memory, as keeping one block fewer does; it
        // is the last resort, with none kept.
        for (const int blocks : {2, 1}) {
          if (blocks == 1 && kept > 0) continue;
          c["blocks_in_flight"] = blocks;
          out.push_back(c);
        }
      }
    }
    return out;
  }

 private:
  Status configure(const RunContext& ctx, const json& params,
                   TrainerSetup* setup) const override {
    if (ctx.devices.size() != 1) {
      return Error{"", 0, "devices",
                   fmt::format("offload trains on one device; {} given", ctx.devices.size())};
    }
    setup->grad_accum = params.value("grad_accum", 0);
    setup->offload = true;
    setup->blocks_in_flight = params.value("blocks_in_flight", 2);
    setup->device_blocks = params.value("device_blocks", 0);
    // Settings whose host part or kept blocks alone cannot fit are ruled out before the model
    // is built.
    if (const auto host = available_host_memory()) {
      if (Status st = host_memory_fits(ctx.job, setup->device_blocks, setup->device.is_cpu(),
                                       *host);
          !st) {
        return st;
      }
    }
    if (const auto available = available_device_memory(setup->device)) {
      const int accum =
          setup->grad_accum > 0 ? setup->grad_accum : std::max(1, ctx.job.grad_accum);
      const double bytes_per_param = setup->device.is_cuda() ? 20 : 16;
      if (Status st = kept_blocks_fit(ctx.job, setup->device_blocks, ctx.job.batch_size / accum,
                                      bytes_per_param, *available);
          !st) {
        return st;
      }
    }
    return Status::Ok();
  }
};

}  // namespace

const Technique& offload_technique() {
  static const Offload offload;
  return offload;
}

}  // namespace saturn::worker
