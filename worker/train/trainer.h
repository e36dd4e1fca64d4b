// One rank's training of one job: model, flat parameters, optimizer, data and schedule, one
// optimizer step at a time; evaluation; checkpoints. Data-parallel when given a Communicator:
// each rank computes on its share of every micro-step and the gradient is averaged over ranks
// in buckets while the last micro-step's backward pass runs (GradientReducer). Techniques
// (techniques/) drive it.
//
// Precision: bf16 compute with fp32 master weights and optimizer state on CUDA; fp32 on the CPU.
// Offloading keeps the flat buffers (and the optimizer) in host memory and streams blocks, except
// the last `device_blocks` blocks, whose buffers and optimizer live on the device.
// Global batch B = grad_accum x ranks x micro-batch; a step's loss is the mean over its B samples.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/model.h"
#include "saturn/workload.h"
#include "train/block_streamer.h"
#include "train/checkpoint.h"
#include "train/communicator.h"
#include "train/data_source.h"
#include "train/gradient_reducer.h"
#include "train/graphed_step.h"
#include "train/parameters.h"
#include "train/pipeline_schedule.h"
#include "train/sharded_parameters.h"
#include "train/stage_parameters.h"

namespace saturn::worker {

struct TrainerSetup {
  JobSpec job;
  std::string base_dir;  // data paths are relative to it
  torch::Device device = torch::kCPU;
  Communicator* comm = nullptr;  // not owned; null: one rank
  int grad_accum = 0;            // micro-steps per optimizer step; 0: the job's
  // Capture the whole step as a CUDA graph after GraphedStep::kWarmupSteps eager steps
  // (graphed_step.h): one CUDA device, one rank, AdamW through the fused kernel.
  bool cuda_graph = false;
  // Parameters, gradients and optimizer state in host memory, blocks streamed to `device`
  // around their passes (block_streamer.h); one rank.
  bool offload = false;
  // Fully sharded data parallelism: every rank keeps one shard of each block's parameters,
  // gradients and optimizer state (sharded_parameters.h); blocks are gathered around their
  // passes and their gradients reduce-scattered (block_streamer.h).
  bool fsdp = false;
  // FSDP: recompute each block's activations in its backward pass (the block's parameters are
  // gathered twice and only its input is kept); false keeps the block gathered, activations
  // saved, from forward to backward. Offloading always recomputes.
  bool activation_checkpointing = true;
  // FSDP: each rank's shards (parameters, gradients, optimizer state) in host memory, the
  // optimizer step on the host (ShardedParameters' offload).
  bool offload_shards = false;
  // Offloading: the model's last `device_blocks` blocks kept on the device for the whole run,
  // with their master weights, gradients and optimizer state, and their optimizer step there
  // (block_streamer.h); at most the model's blocks - 1 (block 0 stays in host memory). 0: every
  // block but the first and last streamed, the whole optimizer step on the host.
  int device_blocks = 0;
  // Offloading and FSDP: streamed blocks on the device at once, the next ones copied in or
  // gathered while one computes (BlockStreamer::set_blocks_in_flight; 1: no prefetching).
  int blocks_in_flight = 2;
  // GPipe: one pipeline stage per rank (pipeline_schedule.h), each rank's blocks and optimizer
  // state only (stage_parameters.h); grad_accum is the number of micro-batches of the
  // fill-drain schedule, and activation_checkpointing recomputes each stage's activations.
  bool pipeline = false;
  // How stages are balanced: "time" (the zoo's forward FLOPs per block) or "memory" (weights,
  // optimizer state and activations per block).
  std::string balance = "time";
};

struct StepStats {
  std::int64_t step = 0;  // the step just finished, 1-based
  double loss = 0;        // mean over the global batch (averaged over ranks)
  double lr = 0;
  double grad_norm = 0;
  double seconds = 0;        // wall-clock of the step on this rank
  std::int64_t samples = 0;  // global batch
  std::int64_t tokens = 0;   // global tokens (language models)
};

class Trainer {
 public:
  // Errors (Error::field says which): unknown model, data that does not suit it or cannot be
  // read, a batch that does not split evenly over ranks and micro-steps.
  static Result<std::unique_ptr<Trainer>> create(const TrainerSetup& setup);

  const JobSpec& job() const { return setup_.job; }
  Model& model() { return *model_; }
  // The model's layout and, except under FSDP and GPipe, its parameters (there: the layout
  // only, its buffers released; offloading with device_blocks: the blocks before the kept ones,
  // and the kept ones in kept(); see full_master()).
  FlatParameters& parameters() { return *params_; }
  // The current fp32 weights in FlatParameters' layout; under FSDP and GPipe gathered from
  // every rank (every rank must call it).
  torch::Tensor full_master();
  int rank() const { return setup_.comm ? setup_.comm->rank() : 0; }
  int world_size() const { return setup_.comm ? setup_.comm->world_size() : 1; }
  int grad_accum() const { return grad_accum_; }
  std::int64_t micro_batch() const { return micro_batch_; }  // samples per rank per micro-step
  // GPipe: the first block of each stage, then the block count (stages + 1 entries); empty
  // otherwise.
  const std::vector<int>& stage_bounds() const { return stage_bounds_; }
  // Optimizer steps in the whole job (steps, or epochs x training samples / batch, rounded up).
  std::int64_t total_steps() const { return total_steps_; }
  std::int64_t step() const { return step_; }  // steps done
  bool cuda_graph() const { return graph_ != nullptr; }
  // Offloading and FSDP: the block streamer (its counters); null otherwise.
  const BlockStreamer* streamer() const { return streamer_.get(); }

  // One optimizer step.
  StepStats train_step();
  // Mean loss over the first `max_samples` evaluation samples (all of them when fewer), averaged
  // over ranks; the model is left in training mode.
  double evaluate(std::int64_t max_samples);

  // Writes a checkpoint of this state under `dir` (rank 0 writes; others wait at a barrier):
  // dir/step-NNNNNNNN/{model.safetensors, optimizer.safetensors, trainer.json} then dir/LATEST.
  // Returns the checkpoint's directory. Every rank must call it (FSDP and GPipe gather their
  // parts); `dir` empty on rank 0 takes part and writes nothing (an error).
  Result<std::string> save_checkpoint(const std::string& dir);
  // Loads the newest intact checkpoint of `dir` (CheckpointReader::open_newest: rank 0 chooses
  // and verifies it, the other ranks load the one it chose) and says which; std::nullopt leaves
  // the fresh state (no checkpoint). Rank 0 sets aside the newer ones that failed their checks.
  // Errors: checkpoints there and none intact (another job's, another model's, damaged).
  struct Resumed {
    std::int64_t step = 0;
    std::string path;
    bool verified = false;  // checksums checked (false: a checkpoint from before they existed)
    std::vector<RejectedCheckpoint> rejected;  // newer ones that failed (rank 0's view)
  };
  Result<std::optional<Resumed>> restore_checkpoint(const std::string& dir);

 private:
  explicit Trainer(TrainerSetup setup) : setup_(std::move(setup)) {}
  // Forward and backward pass of micro-step `micro` (gradients accumulate into the flat
  // buffer, the data-parallel reduction armed on the last); returns the loss, detached.
  torch::Tensor micro_step(const Batch& batch, int micro);
  // The model's output for `input`: all blocks on the device, or streamed (offload).
  torch::Tensor forward(const torch::Tensor& input);

  TrainerSetup setup_;
  std::shared_ptr<Model> model_;
  std::unique_ptr<FlatParameters> params_;
  std::unique_ptr<FlatOptimizer> optimizer_;
  std::unique_ptr<GradientReducer> reducer_;  // data-parallel only
  std::unique_ptr<DataSource> data_;
  std::unique_ptr<GraphedStep> graph_;  // cuda_graph only
  // Offloading with device_blocks: the kept blocks' range of the layout on the device
  // (params_->kept()) with its own optimizer, and the rest (views of params_' host buffers,
  // which hold that range only) that optimizer_ updates.
  FlatRange* device_part_ = nullptr;
  std::unique_ptr<FlatRange> host_part_;
  std::unique_ptr<FlatOptimizer> device_optimizer_;
  std::unique_ptr<ShardedParameters> shards_;  // FSDP only
  // Offload and FSDP; declared after what it uses (params_ and its kept(), shards_) so that it is
  // destroyed first: a block still materialised (an exception mid-step) is released into them.
  std::unique_ptr<BlockStreamer> streamer_;
  std::unique_ptr<StageParameters> stage_;      // GPipe only
  std::unique_ptr<PipelineSchedule> schedule_;  // GPipe only
  std::vector<int> stage_bounds_;               // GPipe only
  // What the optimizer updates: the shards (FSDP), the stage (GPipe), the host part
  // (offloading with blocks kept on the device) or the whole model.
  FlatBuffers& buffers() {
    if (shards_) return *shards_;
    if (stage_) return *stage_;
    if (host_part_) return *host_part_;
    return *params_;
  }
  // What a checkpoint holds of this rank, by its name in the checkpoint ("": the master weights,
  // first; then each optimizer state): the tensor of buffers() and, offloading with
  // device_blocks, its counterpart in the part on the device, which follows it in the layout
  // (null otherwise).
  struct Saved {
    std::string name;
    torch::Tensor* part = nullptr;
    torch::Tensor* kept = nullptr;
  };
  std::vector<Saved> saved_tensors();
  // Zeroes the gradients of buffers() and of the part on the device.
  void zero_grads();
  // One optimizer step of every part at learning rate `lr` (clipped to the job's grad_clip over
  // the whole gradient); returns the gradient's norm before clipping.
  double optimizer_step(double lr);
  // The blocks kept on the device (offloading with device_blocks: the model's last ones, names
  // as in Model::block_names()); a device_blocks config error when the setup cannot keep them.
  Result<std::vector<std::string>> kept_block_names() const;
  // Ranks the batch is split over (data parallelism; pipeline stages share every sample) and
  // this rank's place among them.
  int data_ranks() const { return stage_ ? 1 : world_size(); }
  int data_rank() const { return stage_ ? 0 : rank(); }
  // GPipe, before the model is built: checks the balance setting and, from the zoo's block
  // shapes, fills stage_bounds_ (left empty when the zoo has no shape for the model).
  Status plan_stages(const ModelArchitecture& arch, const ModelShapeOptions& shape);
  // GPipe, once it is built: fills stage_bounds_ if still empty (parameter counts), stage_
  // (from `initial`) and schedule_.
  Status create_stage(torch::ScalarType compute, const InitialValues& initial);
  // GPipe: every stage's BatchNorm statistics into every rank's model (for checkpoints).
  void share_stage_buffers();
  int grad_accum_ = 1;
  std::int64_t micro_batch_ = 1;
  std::int64_t total_steps_ = 0;
  std::int64_t step_ = 0;
};

// Peak device memory of this process so far, bytes: the CUDA caching allocator's peak reserved
// bytes on CUDA, the process's peak resident set on the CPU.
double peak_memory_bytes(torch::Device device);
// On CUDA: hands the caching allocator's unused blocks back and starts peak_memory_bytes()
// afresh, so that a measurement after one that ran out of memory reports its own peak; hands the
// pinned-memory cache's unused host blocks back too (release_cached_pinned_memory). The CPU's
// peak resident set cannot be reset.
void reset_peak_memory(torch::Device device);

}  // namespace saturn::worker
