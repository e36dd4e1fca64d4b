// What `offload` (offload.cpp) exposes for tests: the memory checks that let search rule out a
// count of kept blocks without building the model.
#pragma once

#include <cstddef>
#include <cstdint>

#include "saturn/error.h"
#include "saturn/workload.h"

namespace saturn::worker {

// Whether the job's model's last `kept` blocks may fit in `available` bytes of device memory:
// their state, `bytes_per_param` per parameter (20 with bf16 compute: weights, gradient, fp32
// master and moments, the step's fp32 gradient; 16 in fp32), and their activations for
// `micro_batch` samples (kept blocks are not recomputed), from the model zoo's per-block
// figures. Ok when they may, or when the zoo does not know the model; otherwise an Error whose
// field is kOutOfMemoryField (events.h), naming both figures. Streamed blocks' buffers and
// activations are not counted, so Ok does not promise a fit.
Status kept_blocks_fit(const JobSpec& job, int kept, std::int64_t micro_batch,
                       double bytes_per_param, std::size_t available);

// Whether offloading the job's model with its last `kept` blocks on the device may fit in
// `available` bytes of host memory. The host holds the other blocks' flat buffers and
// optimizer state, bytes per parameter:
//   on a GPU (`on_cpu` false): fp32 master 4; bf16 compute copy and gradient, pinned, each
//     rounded up to a power of two as PyTorch's pinned-memory cache does (2 + 2 and up to
//     twice that); AdamW's moments 8, or SGD's fp32 gradient copy 4 and momentum 4;
//   on the CPU (`on_cpu`: every block, kept ones too, is in host memory): fp32 master (the
//     compute copy) 4 and gradient 4; AdamW's moments 8, or SGD's momentum 4.
// While the model is built, its fp32 values (4 bytes per parameter of the whole model) sit
// beside those blocks' buffers, before the optimizer state; the larger of the two peaks counts.
// Ok when it may fit, when the zoo does not know the model, or when `kept` is out of range (the
// trainer's config error); otherwise an Error whose field is kOutOfMemoryField, naming the
// figures. Activations and libtorch itself are not counted.
Status host_memory_fits(const JobSpec& job, int kept, bool on_cpu, std::size_t available);

}  // namespace saturn::worker
