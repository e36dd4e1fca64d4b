// A pretrained model's weight files opened together (saturn/pretrained.h PretrainedModel's
// weight_files, one or a sharded set): every tensor by name with the file it is in. What
// saturn-worker's loader and export both read the source through.
//
// Owns the mappings; entries stay valid while it lives (moving it keeps them). Read-only once
// opened: safe to read from several threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "saturn/error.h"
#include "saturn/safetensors.h"

namespace saturn {

class PretrainedFiles {
 public:
  struct Tensor {
    const SafetensorsFile::Entry* entry = nullptr;  // in the mapping this object owns
    std::string file;                               // its path, one of weight_files
  };

  // Maps each of `weight_files`. Errors: a file that does not open (safetensors' errors), a
  // tensor in two files (field "init", naming the second file).
  static Result<PretrainedFiles> open(const std::vector<std::string>& weight_files);

  // Every tensor, by name.
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }
  // The names, in order.
  std::vector<std::string> names() const;

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace saturn
