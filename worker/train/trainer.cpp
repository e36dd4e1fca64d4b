// One rank's training loop; see trainer.h.
#include "train/trainer.h"

#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "memory_cap.h"
#include "train/checkpoint.h"
#include "train/initial_part.h"
#include "train/memory_checks.h"
#include "train/pretrained.h"
#ifdef SATURN_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace saturn::worker {
namespace {

// Gradient bucket size, bytes (PyTorch DDP's default).
constexpr std::int64_t kBucketBytes = 25 * 1024 * 1024;

Error config_error(const std::string& field, const std::string& message) {
  return Error{"", 0, field, message};
}

// Hands the heap's free pages back to the system. Set-up and checkpoints free many tensors of
// a few MB: glibc serves those from its heap once its adaptive mmap threshold has risen (it
// rises to the size of each mmap'd block freed, up to 32 MB), and keeps the pages of freed heap
// blocks resident; without this, a rank that built the model block by block would hold a
// model's worth of freed memory for the rest of the run.
void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void synchronize(torch::Device device) {
#ifdef SATURN_WITH_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

// The rank's model with its initial values: from the job's seed, or its pretrained weights
// (job.init), which replace each block's values before `part` (FSDP, GPipe; null: the whole
// model) takes its share. A rank that builds the whole model checks first that its fp32
// parameters fit (offloading checks its host memory itself).
Result<std::shared_ptr<Model>> build_initial_model(const TrainerSetup& setup,
                                                   const ModelArchitecture& arch,
                                                   const ModelShapeOptions& shape,
                                                   InitialPart* part) {
  const JobSpec& job = setup.job;
  if (!part && !setup.offload) {
    auto zoo = shape_model(arch, ModelInput{shape.seq_len, shape.image_size, shape.vocab});
    if (zoo) {
      if (Status s = check_model_fits(zoo->params, setup.device); !s) return s.error();
    }
  }
  std::unique_ptr<PretrainedLoader> pretrained;
  if (!job.init.empty()) {
    auto loader = PretrainedLoader::open(job, arch);
    if (!loader) return loader.error();
    pretrained = std::move(*loader);
  }
  BlockSink sink = part ? part->sink() : BlockSink{};
  if (pretrained) sink = pretrained->sink(std::move(sink));
  auto model = build_model(arch, shape, job.seed, std::move(sink));
  if (!model) return model.error();
  if (pretrained) {
    if (Status s = pretrained->finish(); !s) return s.error();
  }
  return model;  // the loader goes here, unmapping the files
}

}  // namespace

double peak_memory_bytes(torch::Device device) {
#ifdef SATURN_WITH_CUDA
  if (device.is_cuda()) {
    start_device_allocator(device);
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    // Index 0 is StatType::AGGREGATE (all pools); the enum moved namespaces in PyTorch 2.
    return static_cast<double>(stats.reserved_bytes[0].peak);
  }
#endif
  (void)device;
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

void reset_peak_memory(torch::Device device) {
#ifdef SATURN_WITH_CUDA
  if (device.is_cuda()) {
    start_device_allocator(device);
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
  }
#endif
  (void)device;
  release_cached_pinned_memory();
}

Result<std::unique_ptr<Trainer>> Trainer::create(const TrainerSetup& setup) {
  std::unique_ptr<Trainer> t(new Trainer(setup));
  const JobSpec& job = t->setup_.job;
  auto arch = job_architecture(job);
  if (!arch) return arch.error();
  int data_vocab = 0;
  if (arch->context > 0 && job.data.format == "text") {
    auto tokenizer = job_tokenizer(job, setup.base_dir);
    if (!tokenizer) return tokenizer.error();
    data_vocab = (*tokenizer)->vocab_size();
  }
  auto vocab = job_model_vocab(job, *arch, data_vocab);
  if (!vocab) return vocab.error();
  ModelShapeOptions shape;
  shape.seq_len = job.data.seq_len;
  shape.vocab = *vocab;
  shape.all_positions = !job.init.empty();
  shape.image_size = job.data.image_size;
  if (setup.device.is_cuda()) shape.vocab_pad_multiple = 64;
  const torch::ScalarType compute = setup.device.is_cuda() ? torch::kBFloat16 : torch::kFloat;
  if (setup.pipeline && (setup.offload || setup.fsdp)) {
    return config_error("pipeline", "pipelining is not combined with offloading or sharding");
  }
  if (setup.offload && (setup.fsdp || (setup.comm && setup.comm->world_size() > 1))) {
    return config_error("offload", "offloading trains one rank, not sharded");
  }
  if (setup.offload_shards && !setup.fsdp) {
    return config_error("offload_shards", "CPU offload of shards is an FSDP setting");
  }
  if (setup.blocks_in_flight < 1) {
    return config_error(
        "blocks_in_flight",
        fmt::format("blocks_in_flight must be at least 1, got {}", setup.blocks_in_flight));
  }
  if (setup.offload && !setup.activation_checkpointing) {
    return config_error("activation_checkpointing",
                        "offloading recomputes activations; it cannot keep every block on the "
                        "device");
  }
  // FSDP and GPipe ranks keep only their part of the initial values while the model is built
  // (initial_part.h): a shard of every block, or the stage's blocks.
  std::unique_ptr<InitialPart> part;
  if (setup.fsdp) {
    part = std::make_unique<InitialPart>(InitialPart::shard(t->rank(), t->world_size()));
  } else if (setup.pipeline) {
    if (Status st = t->plan_stages(*arch, shape); !st) return st.error();
    part = std::make_unique<InitialPart>(
        t->stage_bounds_.empty()
            ? InitialPart::blocks(0, SIZE_MAX)
            : InitialPart::blocks(static_cast<std::size_t>(t->stage_bounds_[t->rank()]),
                                  static_cast<std::size_t>(t->stage_bounds_[t->rank() + 1])));
  }
  auto model = build_initial_model(setup, *arch, shape, part.get());
  if (!model) return model.error();
  t->model_ = *model;
  // Offloading keeps the flat buffers in host memory, all but the kept blocks' (on the device);
  // FSDP and GPipe only the layout (their parts hold the values).
  const bool on_host = setup.offload || setup.fsdp || setup.pipeline;
  auto kept = t->kept_block_names();
  if (!kept) return kept.error();
  t->params_ = std::make_unique<FlatParameters>(
      *t->model_, on_host ? torch::Device(torch::kCPU) : setup.device, compute,
      /*pinned=*/setup.offload && setup.device.is_cuda(), /*layout_only=*/part != nullptr, *kept,
      setup.device);
  if ((t->device_part_ = t->params_->kept()) != nullptr) {
    t->host_part_ = std::make_unique<FlatRange>(*t->params_, 0, t->params_->held());
  }
  if (part && part->numel() != t->params_->numel()) {
    return Error{"", 0, "model",
                 fmt::format("internal: {} parameters taken while building, {} laid out",
                             part->numel(), t->params_->numel())};
  }
  if (setup.fsdp) {
    t->shards_ =
        std::make_unique<ShardedParameters>(*t->params_, t->rank(), t->world_size(), setup.device,
                                            compute, setup.offload_shards, part->values());
  }
  if (setup.offload || setup.fsdp) {
    t->streamer_ = std::make_unique<BlockStreamer>(*t->model_, *t->params_, setup.device,
                                                   t->shards_.get(), setup.comm);
    t->streamer_->set_recompute(setup.activation_checkpointing);
    t->streamer_->set_blocks_in_flight(setup.blocks_in_flight);
  }
  if (setup.pipeline) {
    if (Status st = t->create_stage(compute, part->values()); !st) return st.error();
  }
  // FSDP and GPipe hold their part of the parameters; the initial values and the other blocks'
  // placeholders go.
  part.reset();
  if (t->shards_ || t->stage_) t->params_->release_buffers();
  release_free_heap();
  t->optimizer_ = std::make_unique<FlatOptimizer>(t->buffers(), OptimizerConfig::from_job(job));
  if (t->device_part_) {
    t->device_optimizer_ =
        std::make_unique<FlatOptimizer>(*t->device_part_, OptimizerConfig::from_job(job));
    // One clipping norm over both parts: the host part steps first (optimizer_step()), adding
    // the device part's sum of squares to its own and leaving its own for the device part's.
    auto host_squares = std::make_shared<double>(0);
    FlatRange* on_device = t->device_part_;
    t->optimizer_->set_norm_reduction([host_squares, on_device](torch::Tensor squares) {
      *host_squares = squares.item<double>();
      const torch::Tensor g = on_device->grad();
      return squares + torch::linalg_vector_norm(g, 2, c10::nullopt, false, torch::kFloat)
                           .pow(2)
                           .to(squares.device());
    });
    t->device_optimizer_->set_norm_reduction(
        [host_squares](torch::Tensor squares) { return squares + *host_squares; });
  }
  if (setup.comm && setup.comm->world_size() > 1) {
    if (t->stage_) {
      // Each stage's sum of squares, its copies of tied weights left out, summed over stages.
      Communicator* comm = setup.comm;
      StageParameters* stage = t->stage_.get();
      t->optimizer_->set_norm_reduction([comm, stage](torch::Tensor squares) {
        squares -= stage->tied_squares();
        comm->start_sum(squares)->wait();
        return squares;
      });
    } else if (setup.fsdp) {
      // Summed on the device: with offloaded shards the squares are on the host.
      Communicator* comm = setup.comm;
      const torch::Device device = setup.device;
      t->optimizer_->set_norm_reduction([comm, device](torch::Tensor squares) {
        torch::Tensor sum = squares.to(device);
        comm->start_sum(sum)->wait();
        return sum.to(squares.device());
      });
    } else {
      t->reducer_ = std::make_unique<GradientReducer>(*t->params_, *setup.comm, kBucketBytes);
    }
  }
  if (Status st = check_data_fits(job, setup.base_dir, setup.device); !st) return st.error();
  auto data = make_data_source(job, setup.base_dir, *arch, *vocab, setup.device);
  if (!data) return data.error();
  t->data_ = std::move(*data);

  const int world = t->data_ranks();
  t->grad_accum_ = setup.grad_accum > 0 ? setup.grad_accum : std::max(1, job.grad_accum);
  const std::int64_t split = static_cast<std::int64_t>(t->grad_accum_) * world;
  if (job.batch_size % split != 0) {
    return config_error("batch_size",
                        fmt::format("batch_size {} does not split into {} micro-steps x {} ranks",
                                    job.batch_size, t->grad_accum_, world));
  }
  t->micro_batch_ = job.batch_size / split;
  if (Status st = check_batch_fits(job, *arch, setup.device, t->micro_batch_, t->grad_accum_,
                                   t->data_ranks());
      !st) {
    return st.error();
  }
  if (setup.cuda_graph) {
    if (!GraphedStep::kAvailable || !setup.device.is_cuda() || t->world_size() > 1 ||
        !t->optimizer_->fused() || t->streamer_ || t->stage_) {
      return config_error(
          "cuda_graph",
          "a CUDA graph needs one CUDA device, one rank, no offloading or sharding, AdamW "
          "and a CUDA PyTorch >= 2.4");
    }
    Trainer* self = t.get();
    t->graph_ = std::make_unique<GraphedStep>(
        [self](const std::vector<Batch>& batches, const torch::Tensor& lr) {
          self->buffers().zero_grad();
          torch::Tensor losses = torch::zeros({}, torch::TensorOptions().device(lr.device()));
          for (std::size_t i = 0; i < batches.size(); ++i) {
            losses += self->micro_step(batches[i], static_cast<int>(i));
          }
          return std::make_pair(losses,
                                self->optimizer_->step_on_device(lr, self->setup_.job.grad_clip));
        },
        setup.device);
  }
  if (job.steps > 0) {
    t->total_steps_ = job.steps;
  } else {
    const double samples = job.epochs * static_cast<double>(t->data_->train_samples());
    t->total_steps_ = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::ceil(samples / job.batch_size - 1e-9)));
  }
  return t;
}

Result<std::vector<std::string>> Trainer::kept_block_names() const {
  const int kept = setup_.device_blocks;
  if (kept == 0) return std::vector<std::string>{};
  if (!setup_.offload) {
    return config_error("device_blocks", "blocks kept on the device are an offloading setting");
  }
  const auto& names = model_->block_names();
  const int blocks = static_cast<int>(names.size());
  if (kept < 0 || kept > blocks - 1) {
    return config_error("device_blocks",
                        fmt::format("device_blocks {}: {} has {} blocks, of which 0 to {} can be "
                                    "kept on the device (block 0 stays in host memory)",
                                    kept, setup_.job.model, blocks, blocks - 1));
  }
  return std::vector<std::string>(names.end() - kept, names.end());
}

void Trainer::zero_grads() {
  buffers().zero_grad();
  if (device_part_) device_part_->zero_grad();
}

double Trainer::optimizer_step(double lr) {
  const double clip = setup_.job.grad_clip;
  const double norm = optimizer_->step(lr, clip);
  // The device part's norm is the same joint norm (create()'s norm reductions).
  if (device_optimizer_) device_optimizer_->step(lr, clip);
  return norm;
}

torch::Tensor Trainer::forward(const torch::Tensor& input) {
  return streamer_ ? streamer_->forward(input) : model_->forward(input);
}

torch::Tensor Trainer::micro_step(const Batch& batch, int micro) {
  const torch::Tensor loss = model_->loss(forward(batch.input), batch.target);
  if (reducer_ && micro == grad_accum_ - 1) reducer_->arm();
  (loss / grad_accum_).backward();
  return loss.detach();
}

StepStats Trainer::train_step() {
  const auto t0 = std::chrono::steady_clock::now();
  const JobSpec& job = setup_.job;
  StepStats s;
  s.lr = learning_rate(job.lr, step_, job.warmup_steps, total_steps_);
  auto batch = [&](int micro) {
    return data_->train_batch(
        batch_positions(step_, job.batch_size, grad_accum_, micro, data_ranks(), data_rank()));
  };
  std::int64_t tokens = 0;
  double loss_sum = 0;
  if (graph_) {
    std::vector<Batch> batches;
    for (int micro = 0; micro < grad_accum_; ++micro) {
      batches.push_back(batch(micro));
      tokens += batches.back().tokens;
    }
    const auto [loss, norm] = graph_->run(batches, s.lr);
    optimizer_->count_step();
    loss_sum = loss.item<double>();
    s.grad_norm = norm.item<double>();
  } else if (schedule_) {
    zero_grads();
    std::vector<Batch> batches;
    for (int micro = 0; micro < grad_accum_; ++micro) {
      batches.push_back(batch(micro));
      tokens += batches.back().tokens;
    }
    const torch::Tensor losses = schedule_->train(batches);
    stage_->sum_tied_grads(setup_.comm);
    s.grad_norm = optimizer_step(s.lr);
    loss_sum = losses.item<double>();
  } else {
    zero_grads();
    if (streamer_) streamer_->begin_step();
    torch::Tensor losses = torch::zeros({}, torch::TensorOptions().device(setup_.device));
    for (int micro = 0; micro < grad_accum_; ++micro) {
      const Batch b = batch(micro);
      losses += micro_step(b, micro);
      tokens += b.tokens;
    }
    if (streamer_) streamer_->end_step();
    if (reducer_) reducer_->finish();
    s.grad_norm = optimizer_step(s.lr);
    loss_sum = losses.item<double>();
  }
  s.loss = loss_sum / grad_accum_;
  // Stages: only the last has the loss.
  if (setup_.comm) s.loss = setup_.comm->all_reduce_mean(s.loss) * (stage_ ? world_size() : 1);
  ++step_;
  synchronize(setup_.device);
  s.step = step_;
  s.samples = job.batch_size;
  s.tokens = tokens * data_ranks();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

double Trainer::evaluate(std::int64_t max_samples) {
  const torch::NoGradGuard no_grad;
  model_->eval();
  if (streamer_) streamer_->begin_step();
  // Each rank evaluates its share of the first `n` evaluation samples.
  const std::int64_t n = std::min(max_samples, data_->eval_samples());
  const std::int64_t per_rank = std::max<std::int64_t>(1, n / data_ranks());
  // Sharded ranks gather blocks for every batch, so all must run as many: with fewer samples
  // than ranks every rank evaluates the first ones.
  const std::int64_t first = shards_ && n < world_size() ? 0 : data_rank() * per_rank;
  // Per-sample mean: each micro-batch's mean loss weighs by its samples, so a short last batch
  // counts for what it holds and the figure does not depend on the micro-batch size.
  double sum = 0;
  std::int64_t samples = 0;
  for (std::int64_t offset = 0; offset < per_rank && first + offset < data_->eval_samples();
       offset += micro_batch_) {
    const std::int64_t count =
        std::min({micro_batch_, per_rank - offset, data_->eval_samples() - first - offset});
    const Batch batch = data_->eval_batch(first + offset, count);
    sum +=
        (schedule_ ? schedule_->evaluate(batch) : model_->loss(forward(batch.input), batch.target))
            .item<double>() *
        static_cast<double>(count);
    samples += count;
  }
  if (streamer_) streamer_->end_step();
  model_->train();
  // Every rank evaluates as many samples, so the mean of the ranks' means is the samples' mean.
  const double mean = samples > 0 ? sum / static_cast<double>(samples) : 0;
  if (!setup_.comm) return mean;
  // Stages: only the last has the loss.
  return setup_.comm->all_reduce_mean(mean) * (stage_ ? world_size() : 1);
}

torch::Tensor Trainer::full_master() {
  if (shards_) return shards_->gather_full(shards_->master(), setup_.comm);
  if (stage_) return stage_->gather_full(stage_->master(), setup_.comm);
  if (device_part_) {
    return torch::cat({params_->master(), device_part_->master().to(params_->master().device())});
  }
  return params_->master();
}

std::vector<Trainer::Saved> Trainer::saved_tensors() {
  std::vector<Saved> out = {
      {"", &buffers().master(), device_part_ ? &device_part_->master() : nullptr}};
  const auto own = optimizer_->state();
  std::vector<std::pair<std::string, torch::Tensor*>> kept;
  if (device_optimizer_) kept = device_optimizer_->state();  // the same states, same order
  for (std::size_t i = 0; i < own.size(); ++i) {
    out.push_back({own[i].first, own[i].second, kept.empty() ? nullptr : kept[i].second});
  }
  return out;
}

Result<std::string> Trainer::save_checkpoint(const std::string& dir) {
  Result<std::string> where = std::string();
  const CheckpointState state{step_,        optimizer_->steps(), setup_.job.name, setup_.job.model,
                              world_size(), grad_accum_};
  // Checkpoints keep the whole model's layout. FSDP and GPipe ranks send their part to rank 0,
  // which assembles and writes one file at a time (the weights, then the optimizer state); every
  // rank takes part in every gather, even after rank 0 failed to write.
  share_stage_buffers();
  std::optional<CheckpointWriter> writer;
  if (rank() == 0 && dir.empty()) {
    where = Error{"", 0, "checkpoint", "no directory to write the checkpoint to"};
  } else if (rank() == 0) {
    auto begun = CheckpointWriter::begin(dir, state);
    if (begun) {
      writer.emplace(std::move(*begun));
    } else {
      where = begun.error();
    }
  }
  auto gather = [&](const Saved& item) -> FlatPieces {
    if (shards_) return {shards_->gather_full(*item.part, setup_.comm, /*root=*/0)};
    if (stage_) return {stage_->gather_full(*item.part, setup_.comm, /*root=*/0)};
    if (item.kept) return {*item.part, *item.kept};
    return {*item.part};  // the whole model on every rank
  };
  const std::vector<Saved> saved = saved_tensors();
  auto failed = [&](const Status& s) {
    if (s) return false;
    where = s.error();
    writer.reset();
    return true;
  };
  {
    const FlatPieces master = gather(saved.front());
    if (writer) failed(writer->write_weights(*model_, *params_, master));
  }
  std::vector<std::pair<std::string, FlatPieces>> states;
  for (auto s = saved.begin() + 1; s != saved.end(); ++s) states.emplace_back(s->name, gather(*s));
  if (writer && !failed(writer->write_optimizer(*params_, states))) where = writer->commit();
  states.clear();
  release_free_heap();
  if (setup_.comm) setup_.comm->barrier();
  return where;
}

Result<std::optional<Trainer::Resumed>> Trainer::restore_checkpoint(const std::string& dir) {
  CheckpointState expect;
  expect.job = setup_.job.name;
  expect.model = setup_.job.model;
  std::vector<std::string> names;
  for (const auto& [name, tensor] : optimizer_->state()) names.push_back(name);
  // Rank 0 chooses, reading every file once to verify it, and sets aside the newer ones that
  // failed their checks; the others open the step it chose. Then every rank says whether it
  // loaded: one that could not makes them all fail together, none goes on into collectives alone.
  std::optional<CheckpointReader> reader;
  std::optional<Error> failed;
  double chosen = -1;  // the step; -1: no checkpoint; -2: rank 0 failed
  if (rank() == 0) {
    auto newest = CheckpointReader::open_newest(dir, *params_, names, expect);
    if (!newest) {
      failed = newest.error();
    } else if (*newest) {
      reader.emplace(std::move(**newest));
      if (Status st = reader->set_aside_rejected(); !st) failed = st.error();
    }
    chosen = failed ? -2 : reader ? static_cast<double>(reader->state().step) : -1;
  }
  const bool together = setup_.comm && world_size() > 1;
  if (together) {  // exact: steps are far below 2^53 / world size
    chosen = setup_.comm->all_reduce_mean(rank() == 0 ? chosen * world_size() : 0.0);
  }
  const auto peer_failed = [&](const std::string& what) {
    return Error{dir, 0, kPeerFailedField, what + "; rank 0's error says why"};
  };
  if (chosen < -1.5) return failed ? *failed : peer_failed("rank 0 could not resume");
  if (chosen < 0) return std::optional<Resumed>();
  Status loaded = Status::Ok();
  if (!reader) {
    auto opened = CheckpointReader::open(
        dir, checkpoint_name(static_cast<std::int64_t>(std::llround(chosen))), *params_, names,
        expect, /*verify=*/false);
    if (opened) {
      reader.emplace(std::move(*opened));
    } else {
      loaded = opened.error();
    }
  }
  if (loaded) {
    // Every rank reads its part of the weights and optimizer state (FSDP, GPipe) or all of
    // them from the files.
    for (const Saved& s : saved_tensors()) {
      const InitialValues values = reader->values(s.name);
      if (shards_) {
        shards_->fill(values, *s.part);
      } else if (stage_) {
        stage_->fill(values, *s.part);
      } else {
        values(0, s.part->numel(), *s.part);
        if (s.kept) values(device_part_->offset(), s.kept->numel(), *s.kept);
      }
    }
    buffers().publish();
    if (device_part_) device_part_->publish();
    loaded = reader->restore_buffers(*model_);
  }
  if (together && setup_.comm->all_reduce_mean(loaded ? 1.0 : 0.0) < 1 - 1e-9 && loaded) {
    loaded = peer_failed(fmt::format("another rank could not load {}", reader->path()));
  }
  if (!loaded) return loaded.error();
  CheckpointReader& r = *reader;
  r.restore_rng();
  optimizer_->set_steps(r.state().optimizer_steps);
  if (device_optimizer_) device_optimizer_->set_steps(r.state().optimizer_steps);
  step_ = r.state().step;
  release_free_heap();
  return std::optional<Resumed>(Resumed{r.state().step, r.path(), r.verified(), r.rejected()});
}

}  // namespace saturn::worker
