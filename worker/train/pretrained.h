// Pretrained weights copied into a model while build_model() builds it (a job's `init`,
// saturn/pretrained.h): each block, right after its random initialisation, gets its parameters
// from the mapped files, tensor by tensor — converted from F32, F16 or BF16 to fp32,
// transposed where the file stores [in, out] — before the next block is built. Host memory: the
// model (or a rank's part of it, train/initial_part.h) plus one tensor; the files are mapped, not
// read whole.
//
// Which file tensor is which parameter: the WeightMap of saturn/pretrained.h (a Saturn
// checkpoint's names are the model's own). A grown vocabulary (init.vocab: resize) takes the
// file's rows first; the rest keep their new-model values.
//
// Not thread-safe (build_model builds one model at a time).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "models/model.h"
#include "saturn/error.h"
#include "saturn/pretrained.h"
#include "saturn/pretrained_files.h"
#include "saturn/safetensors.h"
#include "saturn/workload.h"

namespace saturn::worker {

class PretrainedLoader {
 public:
  // Opens job.init for `architecture`: the files mapped, every tensor accounted for (strict:
  // missing, unknown, an untied lm_head), dtypes checked. Errors name the file and tensor.
  static Result<std::unique_ptr<PretrainedLoader>> open(const JobSpec& job,
                                                        const ModelArchitecture& architecture);

  // The BlockSink that loads each block, then hands it to `next` (may be empty).
  BlockSink sink(BlockSink next);

  // After build_model(): the first error a block met (a sink cannot return one), and that every
  // parameter the files give was loaded. Tensors loaded so far: loaded().
  Status finish() const;
  std::size_t loaded() const { return loaded_; }

 private:
  struct Source {
    const SafetensorsFile::Entry* entry = nullptr;
    std::string file;
    bool transpose = false;
    std::string theirs;
  };
  PretrainedLoader() = default;
  Status load_block(const std::string& block_name, BlockImpl& block);
  Status load_tensor(const std::string& name, const Source& source, torch::Tensor& target);

  std::string path_;  // the pretrained model's directory
  bool resize_vocab_ = false;  // init.vocab: resize (embedding rows beyond the file's are new)
  PretrainedFiles files_;      // the mapped weight files (Source entries point into them)
  std::map<std::string, Source> by_ours_;  // the model's parameter name -> its file tensor
  std::set<std::string> replaced_;         // parameters init.classes makes new (not loaded)
  std::size_t loaded_ = 0;
  Status error_ = Status::Ok();
};

}  // namespace saturn::worker
