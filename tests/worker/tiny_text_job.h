// Shared by the worker's training tests: a small text corpus in a test directory of its own and
// a tiny GPT job on it (byte-level text, 32-token samples, AdamW with warm-up and clipping); a
// tiny ResNet job on synthetic images (BatchNorm, SGD with momentum).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "saturn/workload.h"

namespace saturn::worker {

// TempDir/saturn_worker_<name>, holding text.txt (about 16 KB of English).
inline std::filesystem::path text_workdir(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("saturn_worker_" + name);
  std::filesystem::create_directories(dir);
  if (!std::filesystem::exists(dir / "text.txt")) {
    std::ofstream out(dir / "text.txt");
    for (int i = 0; i < 400; ++i)
      out << "the quick brown fox " << i % 7 << " jumps over the lazy dog. ";
  }
  return dir;
}

// gpt2-tiny on text.txt: `batch` samples per step in `accum` micro-steps, `steps` steps.
inline JobSpec tiny_text_job(int batch = 8, int accum = 1, std::int64_t steps = 6,
                             std::uint64_t seed = 3) {
  JobSpec j;
  j.name = "tiny";
  j.model = "gpt2-tiny";
  j.data.format = "text";
  j.data.path = "text.txt";
  j.data.seq_len = 32;
  j.optimizer = "adamw";
  j.lr = 3e-3;
  j.weight_decay = 0.1;
  j.warmup_steps = 2;
  j.grad_clip = 1.0;
  j.batch_size = batch;
  j.grad_accum = accum;
  j.steps = steps;
  j.seed = seed;
  return j;
}

// resnet-tiny on 64 synthetic 32 px images: batches of 8 in `accum` micro-steps, `steps` steps.
inline JobSpec tiny_resnet_job(int accum = 1, std::int64_t steps = 4) {
  JobSpec job;
  job.name = "resnet";
  job.model = "resnet-tiny";
  job.data.format = "synthetic-images";
  job.data.samples = 64;
  job.data.image_size = 32;
  job.lr = 0.05;
  job.optimizer = "sgd";
  job.momentum = 0.9;
  job.batch_size = 8;
  job.grad_accum = accum;
  job.steps = steps;
  job.seed = 2;
  return job;
}

}  // namespace saturn::worker
