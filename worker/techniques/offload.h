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
// `available` bytes of host memory. The host holds every other block (every block with
// `kept_on_host`: a CPU "device" is host memory too): their master weights, compute copy,
// gradient and optimizer state, 16 bytes per parameter with AdamW (12 SGD with momentum, 8
// SGD), and while the model is built its fp32 values (4 bytes per parameter of the whole model)
// beside those blocks' flat buffers (8 bytes per parameter); the larger of the two counts. Ok
// when it may, or when the zoo does not know the model; otherwise an Error whose field is
// kOutOfMemoryField, naming both figures. Activations and libtorch itself are not counted.
Status host_memory_fits(const JobSpec& job, int kept, bool kept_on_host, std::size_t available);

}  // namespace saturn::worker
