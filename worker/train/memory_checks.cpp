// Memory checks before a trainer makes its data and first batch; see memory_checks.h.
#include "train/memory_checks.h"

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "events.h"
#include "host_memory.h"
#include "memory_cap.h"

namespace saturn::worker {

Status check_data_fits(const JobSpec& job, const std::string& base_dir, torch::Device device) {
  double bytes = 0;
  if (job.data.format == "synthetic-text") {
    bytes = 4.0 * 1.05 * static_cast<double>(job.data.samples) * job.data.seq_len;
  } else if (job.data.format == "text") {
    std::error_code ec;
    const std::filesystem::path p(job.data.path);
    const auto size =
        std::filesystem::file_size(p.is_absolute() ? p : std::filesystem::path(base_dir) / p, ec);
    if (!ec) bytes = 4.0 * static_cast<double>(size);
  }
  std::optional<std::size_t> bound;
  std::string what = "host memory";
  if (device.is_cpu()) bound = available_device_memory(torch::kCPU);  // the rank's cap, or none
  if (bound) {
    what = "the CPU rank's memory cap";
  } else {
    bound = host_memory_size();
  }
  if (!bound || bytes <= static_cast<double>(*bound)) return Status::Ok();
  return Error{"", 0, job.data.format == "text" ? "data.path" : "data.samples",
               fmt::format("the job's token ids need {:.3g} GB; {} is {:.3g} GB", bytes / 1e9, what,
                           static_cast<double>(*bound) / 1e9)};
}

Status check_model_fits(std::int64_t params, torch::Device device) {
  const double bytes = 4.0 * static_cast<double>(params);
  std::optional<std::size_t> bound;
  std::string what = "host memory left";
  if (device.is_cpu()) bound = available_device_memory(torch::kCPU);  // the rank's cap, or none
  if (bound) {
    what = "the CPU rank's memory";
  } else {
    bound = available_host_memory();
  }
  if (!bound || bytes <= static_cast<double>(*bound)) return Status::Ok();
  return Error{"", 0, kOutOfMemoryField,
               fmt::format("the model's {:.3g} billion fp32 parameters need {:.3g} GB to build; "
                           "{} is {:.3g} GB",
                           static_cast<double>(params) / 1e9, bytes / 1e9, what,
                           static_cast<double>(*bound) / 1e9)};
}

Status check_batch_fits(const JobSpec& job, const ModelArchitecture& arch, torch::Device device,
                        std::int64_t micro_batch, int grad_accum, int data_ranks) {
  const bool language = arch.context > 0;
  const auto samples = static_cast<double>(micro_batch);
  // Host, per sample: its position (int64); language: its T + 1 token ids as int32, then as the
  // int64 tensor, and on CUDA that tensor's pinned copy; images: label and noise indices.
  const double t = static_cast<double>(job.data.seq_len) + 1;
  const double host = samples * (8 + (language ? t * (4 + 8 + (device.is_cuda() ? 8 : 0)) : 16));
  // Device, per sample: the first activation, which every technique holds whole for a
  // micro-batch: the embeddings' output (T x d_model) or the input image (3 x H x W).
  const double element = device.is_cuda() ? 2 : 4;
  const double side =
      static_cast<double>(job.data.image_size > 0 ? job.data.image_size : arch.image_size);
  const double activation =
      samples * element *
      (language ? static_cast<double>(job.data.seq_len) * arch.d_model : 3 * side * side);
  std::optional<std::size_t> host_left = available_host_memory();
  std::optional<std::size_t> device_left = available_device_memory(device);
  double needed = host, available = 0;
  std::string what = "its data in host memory";
  if (device.is_cpu()) {  // one budget, the rank's cap, for both
    if (device_left) host_left = device_left;
    needed = host + activation;
    what = "its data and first activation";
  } else if (device_left && activation > static_cast<double>(*device_left)) {
    needed = activation;
    available = static_cast<double>(*device_left);
    what = "its first activation on the device";
  }
  if (available == 0) {
    if (!host_left || needed <= static_cast<double>(*host_left)) return Status::Ok();
    available = static_cast<double>(*host_left);
  }
  return Error{"", 0, kOutOfMemoryField,
               fmt::format("a micro-batch of {} samples needs {:.3g} GB for {} alone; {:.3g} GB "
                           "are available (batch_size {} over {} micro-steps x {} ranks)",
                           micro_batch, needed / 1e9, what, available / 1e9, job.batch_size,
                           grad_accum, data_ranks)};
}

}  // namespace saturn::worker
