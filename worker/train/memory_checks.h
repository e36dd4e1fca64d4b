// What a job's data and a setting's micro-batch need in memory, checked against what the rank
// may have before anything is made: a job or setting far beyond the machine is an error in
// milliseconds (search moves on to more accumulation), not a host filled until a trial times
// out (2026-12-07: batch_size 1e9 held 24 GB until its trial timed out). Necessary conditions
// only: a step's own peak is found by running it.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "saturn/error.h"
#include "saturn/model_zoo.h"
#include "saturn/workload.h"

namespace saturn::worker {

// The job's language data as int32 token ids (synthetic text: samples x (1 + 1/20 for
// evaluation) x T; a text file: at most one per byte) against a bound that does not move with
// what runs beside the worker: a CPU rank's cap (`device` a CPU), else the host's size
// (host_memory_size()). A moment's shortage is left to the allocator. Errors: field
// "data.samples" or "data.path" (a data error: the job cannot run here as it is).
Status check_data_fits(const JobSpec& job, const std::string& base_dir, torch::Device device);

// One micro-batch of `micro_batch` samples: its data as assembled in host memory (positions,
// token ids as int32 and int64, on CUDA a pinned copy; images: label and noise indices) and its
// first activation on `device` (the embeddings' output, T x d_model, or the input image), which
// every technique holds whole, against what is left to the rank now (on the CPU both against
// the rank's cap). Errors: field kOutOfMemoryField (search: an infeasible setting).
Status check_batch_fits(const JobSpec& job, const ModelArchitecture& arch, torch::Device device,
                        std::int64_t micro_batch, int grad_accum, int data_ranks);

// The model's fp32 parameters (`params` of them), which build_model makes in host memory first
// when a rank holds the whole model (single, ddp; offloading checks its host memory itself,
// techniques/offload.cpp; FSDP and GPipe ranks keep a part),
// against a CPU rank's cap (`device` a CPU), else the host memory left. A GPT-J 6B on a CPU
// slot is an out-of-memory result in milliseconds, not a process the kernel kills. Errors:
// field kOutOfMemoryField.
Status check_model_fits(std::int64_t params, torch::Device device);

}  // namespace saturn::worker
