// A pretrained model's weight files opened together; see saturn/pretrained_files.h.
#include "saturn/pretrained_files.h"

#include <fmt/format.h>

namespace saturn {

Result<PretrainedFiles> PretrainedFiles::open(const std::vector<std::string>& weight_files) {
  PretrainedFiles f;
  for (const std::string& path : weight_files) {
    auto file = SafetensorsFile::open(path);
    if (!file) return file.error();
    f.files_.push_back(std::move(*file));
  }
  // Entries point into each file's own map, whose nodes stay put when the file (or this object)
  // moves; files_ is not resized after this point.
  for (std::size_t i = 0; i < f.files_.size(); ++i) {
    for (const auto& [name, entry] : f.files_[i].tensors()) {
      if (!f.tensors_.emplace(name, Tensor{&entry, weight_files[i]}).second) {
        return Error{weight_files[i], 0, "init", fmt::format("tensor {} is in two files", name)};
      }
    }
  }
  return f;
}

std::vector<std::string> PretrainedFiles::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

}  // namespace saturn
