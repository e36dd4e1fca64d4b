// The estimator's entry points: a job's training setup (model shape, step count), one
// configuration through its technique, a whole workload on a cluster's GPU types, the profile
// table the planner reads, and the restart cost. Formulas: docs/estimator.md.
#include "saturn/estimator.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "estimator/technique.h"
#include "formats/common.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

struct TechniqueEntry {
  const char* name;
  estimator::TechniqueFn fn;
};

const std::vector<TechniqueEntry>& techniques() {
  static const std::vector<TechniqueEntry> table = {
      {"ddp", estimator::estimate_ddp},     {"fsdp", estimator::estimate_fsdp},
      {"gpipe", estimator::estimate_gpipe}, {"offload", estimator::estimate_offload},
      {"single", estimator::estimate_ddp},
  };
  return table;
}

std::string known_techniques() {
  std::string out;
  for (const TechniqueEntry& t : techniques())
    out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

// An error about `key` of `job`, placed where the workload wrote it (the job's entry if the key
// was not written, e.g. a default left out).
Error job_error(const Workload& workload, const JobSpec& job, const std::string& key,
                const std::string& message) {
  const auto it = job.key_origins.find(key);
  SourceRef where = job.origin;
  if (it != job.key_origins.end()) {
    where = it->second;
  } else if (!where.field.empty()) {
    where.field += "." + key;
  } else {
    where.field = key;
  }
  return Error{workload.source, where.line, where.field,
               fmt::format("job \"{}\": {}", job.name, message)};
}

// Bytes of a file, or of every regular file under a directory; -1 when it does not exist.
double data_bytes(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    const auto size = fs::file_size(path, ec);
    return ec ? -1 : static_cast<double>(size);
  }
  if (!fs::is_directory(path, ec)) return -1;
  double total = 0;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<double>(it->file_size(ec));
  }
  return total;
}

// Samples per epoch of `job`: data.samples, or counted from a text file's size.
Result<std::int64_t> samples_per_epoch(const JobSpec& job, const Workload& workload,
                                       const ModelShape& model, const Calibration& cal) {
  const DataSpec& data = job.data;
  if (data.samples > 0) return data.samples;
  if (data.format == "text" && !data.path.empty() && model.seq_len > 0) {
    const fs::path path = fs::path(workload.base_dir) / data.path;
    const double bytes = data_bytes(path);
    if (bytes >= 0) {
      // Byte-level text has a token per byte; BPE about text_bytes_per_token bytes per token.
      const double tokens =
          data.byte_level_vocab() > 0 ? bytes : bytes / cal.text_bytes_per_token.value;
      const auto samples = static_cast<std::int64_t>(std::floor(tokens / model.seq_len));
      if (samples >= 1) return samples;
      return job_error(workload, job, "data.path",
                       fmt::format("{} holds {:.0f} bytes, less than one sample of {} tokens",
                                   path.string(), bytes, model.seq_len));
    }
    return job_error(workload, job, "data.samples",
                     fmt::format("cannot count samples per epoch: {} does not exist; give "
                                 "data.samples",
                                 path.string()));
  }
  return job_error(workload, job, "data.samples",
                   "cannot count samples per epoch for epochs; give data.samples (or steps)");
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// A GPU type of the cluster with the most GPUs and the most memory any of its nodes has.
struct GpuKind {
  GpuSpec spec;
  int max_gpus = 0;
};

}  // namespace

const std::vector<std::string>& estimator_techniques() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const TechniqueEntry& t : techniques()) out.push_back(t.name);
    return out;
  }();
  return names;
}

Result<TrainingSetup> make_training_setup(const JobSpec& job, const Workload& workload,
                                          const Calibration& calibration) {
  TrainingSetup setup;
  setup.job = job.name;
  auto arch = job_architecture(job);
  if (!arch) return job_error(workload, job, arch.error().field, arch.error().message);
  auto vocab = job_model_vocab(job, *arch, job.data.byte_level_vocab());
  if (!vocab) return job_error(workload, job, vocab.error().field, vocab.error().message);
  auto model = shape_model(*arch, ModelInput{job.data.seq_len, job.data.image_size, *vocab});
  if (!model) return job_error(workload, job, model.error().field, model.error().message);
  setup.model = std::move(*model);
  setup.batch_size = job.batch_size;
  setup.grad_accum = std::max(1, job.grad_accum);
  setup.optimizer = job.optimizer.empty() ? "adamw" : job.optimizer;
  setup.momentum = job.momentum;
  if (job.batch_size <= 0) return job_error(workload, job, "batch_size", "must be > 0");
  if (job.steps > 0) {
    setup.steps = job.steps;
  } else if (job.epochs > 0) {
    auto samples = samples_per_epoch(job, workload, setup.model, calibration);
    if (!samples) return samples.error();
    const double steps =
        std::ceil(job.epochs * static_cast<double>(*samples) / job.batch_size - 1e-9);
    setup.steps = std::max<std::int64_t>(1, static_cast<std::int64_t>(steps));
  } else {
    return job_error(workload, job, "steps", "give epochs or steps");
  }
  return setup;
}

Result<ConfigEstimate> estimate_config(const TrainingSetup& setup, std::string_view technique,
                                       int gpus, const GpuSpec& gpu,
                                       const Calibration& calibration,
                                       const nlohmann::json& knobs) {
  const auto it = std::find_if(techniques().begin(), techniques().end(),
                               [&](const TechniqueEntry& t) { return t.name == technique; });
  if (it == techniques().end()) {
    return Error{"", 0, "technique",
                 fmt::format("no estimator for technique \"{}\" (known: {})", technique,
                             known_techniques())};
  }
  if (gpu.peak_bf16_flops <= 0 || gpu.nvlink_bytes_per_s <= 0 || gpu.hbm_bytes_per_s <= 0 ||
      gpu.host_link_bytes_per_s <= 0 || gpu.memory_bytes <= 0) {
    return Error{"", 0, "gpu",
                 fmt::format("GPU type \"{}\" lacks the figures the estimator needs (FLOP/s, "
                             "memory, HBM, NVLink and host-link bandwidth)",
                             gpu.name)};
  }
  if (gpus < 1) return Error{"", 0, "gpus", fmt::format("must be >= 1, got {}", gpus)};
  if (!knobs.is_object()) {
    return Error{"", 0, "knobs", fmt::format("expected a JSON object, got {}", knobs.dump())};
  }
  const estimator::Context ctx{setup, gpu, calibration.for_gpu(gpu.name), gpus, &knobs};
  if (technique == "single" && gpus != 1) {
    ConfigEstimate e;
    e.technique = "single";
    e.gpus = gpus;
    e.gpu_type = gpu.name;
    e.steps = setup.steps;
    e.reason = "single runs on one GPU";
    return e;
  }
  ConfigEstimate e = it->fn(ctx);
  e.technique = std::string(technique);
  return e;
}

double estimate_restart_s(const ModelShape& model, const GpuSpec& gpu, const Calibration& cal,
                          double step_s, double state_bytes_per_param) {
  const GpuCalibration& c = cal.for_gpu(gpu.name);
  const double bytes = static_cast<double>(model.params) * state_bytes_per_param;
  return bytes / c.checkpoint_write_bytes_per_s.value + c.process_start_s.value +
         bytes / c.checkpoint_read_bytes_per_s.value + c.warmup_s.value +
         c.warmup_steps.value * step_s;
}

Result<std::vector<JobEstimates>> estimate_workload(const Workload& workload,
                                                    const Cluster& cluster,
                                                    const Calibration& calibration,
                                                    const nlohmann::json& knobs) {
  std::vector<GpuKind> kinds;
  std::vector<std::string> unknown;
  for (const Node& node : cluster.nodes) {
    const auto spec = find_gpu(node.gpu_type);
    if (!spec) {
      if (std::find(unknown.begin(), unknown.end(), node.gpu_type) == unknown.end()) {
        unknown.push_back(node.gpu_type);
      }
      continue;
    }
    auto kind = std::find_if(kinds.begin(), kinds.end(),
                             [&](const GpuKind& k) { return k.spec.name == spec->name; });
    if (kind == kinds.end()) {
      kinds.push_back(GpuKind{*spec, 0});
      kind = kinds.end() - 1;
      kind->spec.memory_bytes = 0;
    }
    kind->max_gpus = std::max(kind->max_gpus, node.gpus);
    kind->spec.memory_bytes = std::max(kind->spec.memory_bytes, node.gpu_memory_bytes);
  }
  if (kinds.empty()) {
    return Error{"", 0, "cluster",
                 fmt::format("no GPU type of the cluster is in the catalogue ({}); the estimator "
                             "needs their FLOP/s and bandwidths (known: {})",
                             fmt::join(unknown, ", "), formats::known_gpu_types())};
  }
  std::vector<JobEstimates> out;
  for (const JobSpec& job : workload.jobs) {
    auto setup = make_training_setup(job, workload, calibration);
    if (!setup) return setup.error();
    JobEstimates je;
    je.setup = std::move(*setup);
    je.source = workload.source;
    je.origin = job.origin;
    for (const std::string& technique : job.techniques) {
      for (int gpus : job.gpus) {
        for (const GpuKind& kind : kinds) {
          if (gpus > kind.max_gpus) {
            ConfigEstimate e;
            e.technique = technique;
            e.gpus = gpus;
            e.gpu_type = kind.spec.name;
            e.steps = je.setup.steps;
            e.reason =
                fmt::format("the largest {} node has {} GPUs", kind.spec.name, kind.max_gpus);
            je.configs.push_back(std::move(e));
            continue;
          }
          auto e = estimate_config(je.setup, technique, gpus, kind.spec, calibration, knobs);
          if (!e) return job_error(workload, job, "techniques", e.error().message);
          je.configs.push_back(std::move(*e));
        }
      }
    }
    // Restart cost: to the median feasible configuration (its GPU type and step time).
    std::vector<double> steps;
    const ConfigEstimate* typical = nullptr;
    for (const ConfigEstimate& c : je.configs) {
      if (c.feasible) steps.push_back(c.step_s);
    }
    const double step_s = median(steps);
    for (const ConfigEstimate& c : je.configs) {
      if (c.feasible &&
          (!typical || std::abs(c.step_s - step_s) < std::abs(typical->step_s - step_s))) {
        typical = &c;
      }
    }
    const GpuSpec& gpu = typical ? *find_gpu(typical->gpu_type) : kinds.front().spec;
    je.restart_s = estimate_restart_s(je.setup.model, gpu, calibration, step_s,
                                      estimator::optimizer_bytes(je.setup).states);
    out.push_back(std::move(je));
  }
  return out;
}

Result<ProfileTable> to_profile_table(const std::vector<JobEstimates>& jobs,
                                      const Cluster& cluster) {
  std::vector<std::string> types;
  for (const Node& node : cluster.nodes) {
    if (std::find(types.begin(), types.end(), node.gpu_type) == types.end()) {
      types.push_back(node.gpu_type);
    }
  }
  ProfileTable table;
  table.cluster = cluster;
  for (const JobEstimates& je : jobs) {
    Task task;
    task.name = je.setup.job;
    task.restart_s = je.restart_s;
    const ConfigEstimate* leanest = nullptr;
    for (const ConfigEstimate& e : je.configs) {
      if (!e.feasible) {
        if (e.peak_memory_bytes > 0 &&
            (!leanest || e.peak_memory_bytes < leanest->peak_memory_bytes)) {
          leanest = &e;
        }
        continue;
      }
      Config c;
      c.technique = e.technique;
      c.gpus = e.gpus;
      c.runtime_s = e.runtime_s;
      c.peak_memory_bytes = e.peak_memory_bytes;
      if (types.size() > 1) c.gpu_type = e.gpu_type;
      c.params = e.params;
      c.step_s = e.step_s;
      c.steps = e.steps;
      task.configs.push_back(std::move(c));
    }
    if (task.configs.empty()) {
      std::string why = "no configuration was estimated";
      if (leanest) {
        why = fmt::format("its leanest configuration, {} on {} x {}, {}", leanest->technique,
                          leanest->gpus, leanest->gpu_type, leanest->reason);
      } else if (!je.configs.empty()) {
        why = je.configs.front().reason;
      }
      return Error{je.source, je.origin.line, je.origin.field,
                   fmt::format("job \"{}\" fits on no GPU of the cluster: {}", je.setup.job, why)};
    }
    table.tasks.push_back(std::move(task));
  }
  return table;
}

Result<ProfileTable> estimate_profile_table(const Workload& workload, const Cluster& cluster,
                                            const Calibration& calibration) {
  auto jobs = estimate_workload(workload, cluster, calibration);
  if (!jobs) return jobs.error();
  return to_profile_table(*jobs, cluster);
}

}  // namespace saturn
