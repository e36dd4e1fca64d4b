// The performance estimator: whole-job runtime and peak memory per GPU of every job x technique
// x GPU count x GPU type, from the model zoo's shapes, the GPU catalogue's datasheet figures and
// a calibration file of measured (or explicitly assumed) efficiency factors. Its output is a
// profile table the planner reads, so Saturn can plan before any job has been profiled.
//
// Techniques (single node, bf16 mixed precision, fp32 master weights and optimizer state):
//   ddp     — a full replica per GPU, gradients all-reduced (N = 1: one GPU; alias `single`)
//   fsdp    — ZeRO-3 sharding of weights, gradients and optimizer state; variants with activation
//             checkpointing and with the shards offloaded to host memory
//   gpipe   — N pipeline stages over the block sequence, M micro-batches, fill-drain schedule
//   offload — weights and optimizer state in host memory, blocks streamed to each GPU, optimizer
//             step on the host; k blocks kept resident
// Every formula and its source: docs/estimator.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/cluster.h"
#include "saturn/error.h"
#include "saturn/gpu_catalog.h"
#include "saturn/model_zoo.h"
#include "saturn/profile.h"
#include "saturn/workload.h"

namespace saturn {

// ---- Calibration ------------------------------------------------------------------------------

// A calibration input and where it came from (a measurement, a datasheet, or "assumed ...").
struct CalibratedValue {
  double value = 0;
  std::string source;
};

// The efficiency factors of one GPU type (or the `default` entry). Units in the names.
struct GpuCalibration {
  std::string gpu;  // catalogue name, or "default"
  // Achieved fraction of peak bf16 FLOP/s by a block's arithmetic on large micro-batches,
  // (0, 1].
  CalibratedValue transformer_mfu;  // transformer models
  CalibratedValue conv_mfu;         // convolutional models
  // Fixed seconds per block per forward pass (kernel launches, small kernels), added to its
  // compute time whatever the micro-batch; the backward pass costs twice as much. >= 0.
  CalibratedValue transformer_block_overhead_s;
  CalibratedValue conv_block_overhead_s;
  // Achieved fraction of HBM bandwidth by the (memory-bound) GPU optimizer step, (0, 1].
  CalibratedValue hbm_efficiency;
  // Achieved fraction of NVLink bandwidth by collectives and point-to-point sends, (0, 1].
  CalibratedValue collective_efficiency;
  // Achieved fraction of the host link (PCIe) bandwidth by host<->GPU copies, (0, 1].
  CalibratedValue host_link_efficiency;
  // Share of communication that can hide behind computation, [0, 1] (0: none, 1: all).
  CalibratedValue comm_overlap;
  // Parameters per second the host's CPUs update with AdamW (the whole node), > 0.
  CalibratedValue cpu_adam_params_per_s;
  // Share of device memory the framework's allocator can use for tensors, (0, 1].
  CalibratedValue usable_memory_fraction;
  // Bytes per GPU taken before any tensor (CUDA context, library workspaces, NCCL), >= 0.
  CalibratedValue framework_overhead_bytes;
  // Restart cost inputs: checkpoint write and read bandwidth (bytes/s, > 0), process start and
  // fixed first-step overhead (seconds, >= 0), and steps lost to a switch (>= 0).
  CalibratedValue checkpoint_write_bytes_per_s;
  CalibratedValue checkpoint_read_bytes_per_s;
  CalibratedValue process_start_s;
  CalibratedValue warmup_s;
  CalibratedValue warmup_steps;
};

struct Calibration {
  std::string source;  // file it was read from, or "built-in"
  // Bytes of raw text per token, to count samples of a `format: text` file (> 0).
  CalibratedValue text_bytes_per_token;
  GpuCalibration defaults;           // the `default` entry: every key given
  std::vector<GpuCalibration> gpus;  // per GPU type, keys missing in the file taken from default

  // The entry for `gpu_type` (case-insensitive), or `defaults`.
  const GpuCalibration& for_gpu(std::string_view gpu_type) const;
};

// calibration/default.yaml, compiled into the library (the file is the one source).
Calibration default_calibration();

// Every value of `calibration` with its dotted key as written in the file
// ("text_bytes_per_token", "gpus.default.conv_mfu", "gpus.h100-80gb.transformer_mfu"), GPU
// entries fully resolved (keys taken from default included), in file order.
std::vector<std::pair<std::string, CalibratedValue>> calibration_entries(
    const Calibration& calibration);

// Parses calibration YAML (docs/estimator.md#calibration-file). Errors (syntax, unknown key,
// wrong type, negative, NaN, out of range, a missing `source`) name the file, line and field.
Result<Calibration> parse_calibration_yaml(std::string_view text, std::string_view source);
Result<Calibration> load_calibration(const std::string& path);

// ---- Per-configuration estimates ---------------------------------------------------------------

// A job as the estimator sees it.
struct TrainingSetup {
  std::string job;         // job name
  ModelShape model;        // shaped for the job's seq_len / image_size
  int batch_size = 0;      // global samples per optimizer step
  int grad_accum = 1;      // micro-steps per optimizer step
  std::string optimizer;   // "adamw" | "sgd"
  double momentum = 0;     // SGD: a momentum buffer when > 0
  std::int64_t steps = 0;  // optimizer steps in the whole job
};

// Builds the setup of `job`: looks the model up, derives the step count. Errors name the
// workload file, the line and the field (unknown model, seq_len over the context, no way to count
// samples per epoch).
Result<TrainingSetup> make_training_setup(const JobSpec& job, const Workload& workload,
                                          const Calibration& calibration);

// Where one step's time goes, seconds (the parts add up to step_s) and its memory, bytes.
struct StepBreakdown {
  double compute_s = 0;    // forward, backward and recompute on the GPU
  double comm_s = 0;       // communication not hidden behind compute (incl. pipeline bubble wait)
  double host_s = 0;       // host optimizer and host transfers not hidden behind compute
  double optimizer_s = 0;  // optimizer step on the GPU
  double state_bytes = 0;  // weights, gradients, optimizer state held on the GPU
  double activation_bytes = 0;  // activations kept for backward
  double buffer_bytes = 0;      // gathered / streamed weights, gradient buffers
};

struct ConfigEstimate {
  std::string technique;
  int gpus = 0;
  std::string gpu_type;
  bool feasible = false;
  std::string reason;  // why not, when infeasible
  double step_s = 0;   // seconds per optimizer step
  std::int64_t steps = 0;
  double runtime_s = 0;          // steps x step_s
  double peak_memory_bytes = 0;  // per GPU, incl. framework overhead and fragmentation
  StepBreakdown breakdown;
  // The knobs chosen (activation_checkpointing, micro_batches, cpu_offload, resident_blocks,
  // ...).
  nlohmann::json params = nlohmann::json::object();
};

// The techniques the estimator knows: ddp, fsdp, gpipe, offload, single.
const std::vector<std::string>& estimator_techniques();

// Estimates one configuration: searches the technique's variants and keeps the fastest that
// fits in `gpu.memory_bytes`; when none fits, the one that needs the least memory, infeasible,
// with the reason. `knobs` (a JSON object) restricts the search to the variants whose params
// hold each of its keys with its value, e.g. {"activation_checkpointing": true}; when no
// variant has them the estimate is infeasible and says so. An unknown technique is an Error.
Result<ConfigEstimate> estimate_config(const TrainingSetup& setup, std::string_view technique,
                                       int gpus, const GpuSpec& gpu,
                                       const Calibration& calibration,
                                       const nlohmann::json& knobs = nlohmann::json::object());

// ---- Whole workloads ---------------------------------------------------------------------------

// Every (technique, gpus, GPU type) of one job, feasible or not, in the order of the job's
// techniques, GPU counts and the cluster's GPU types (a GPU count beyond the largest node of a
// type is infeasible, with that reason). Used by `saturn estimate` to print what was skipped
// and why. GPU types missing from the catalogue are not estimated.
struct JobEstimates {
  TrainingSetup setup;
  std::vector<ConfigEstimate> configs;
  double restart_s = 0;  // estimate_restart_s at the median feasible configuration's step time
  std::string source;    // the workload file, and where the job was written in it (for errors)
  SourceRef origin;
};
// `knobs`: as for estimate_config, applied to every configuration.
Result<std::vector<JobEstimates>> estimate_workload(
    const Workload& workload, const Cluster& cluster, const Calibration& calibration,
    const nlohmann::json& knobs = nlohmann::json::object());

// Estimated whole-job profile for every job of `workload` on the GPU types of `cluster`: one
// Task per job (name = job name), one Config per feasible (technique, gpus, gpu type), with
// gpu_type set when the cluster has more than one GPU type, params = the chosen knobs, step_s and
// steps set; Task::restart_s from estimate_restart_s. A job with no feasible
// configuration on any node is an Error naming the job ("fits on no GPU of the cluster: ...").
Result<ProfileTable> estimate_profile_table(const Workload& workload, const Cluster& cluster,
                                            const Calibration& calibration);

// The profile table of already computed estimates (what estimate_profile_table returns).
Result<ProfileTable> to_profile_table(const std::vector<JobEstimates>& jobs,
                                      const Cluster& cluster);

// Seconds a reconfiguration costs: checkpoint write + process start + checkpoint read + warm-up
// (fixed first-step overhead + warmup_steps x step_s). The checkpoint holds the fp32 master
// weights and optimizer state: `state_bytes_per_param` (12 for AdamW). `step_s` = 0 leaves the
// warm-up steps out.
double estimate_restart_s(const ModelShape& model, const GpuSpec& gpu, const Calibration& cal,
                          double step_s = 0, double state_bytes_per_param = 12);

}  // namespace saturn
