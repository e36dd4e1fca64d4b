// Pretrained weights into a model as it is built; see train/pretrained.h.
#include "train/pretrained.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace saturn::worker {
namespace {

Error init_error(const std::string& file, const std::string& message) {
  return Error{file, 0, "init", message};
}

std::optional<torch::ScalarType> torch_dtype(const std::string& dtype) {
  if (dtype == "F32") return torch::kFloat;
  if (dtype == "F16") return torch::kHalf;
  if (dtype == "BF16") return torch::kBFloat16;
  if (dtype == "I64") return torch::kLong;  // BatchNorm's num_batches_tracked
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<PretrainedLoader>> PretrainedLoader::open(
    const JobSpec& job, const ModelArchitecture& architecture) {
  auto model = open_pretrained(job.init.path);
  if (!model) return model.error();
  std::unique_ptr<PretrainedLoader> l(new PretrainedLoader());
  l->path_ = model->path;
  l->resize_vocab_ = job.init.vocab == "resize";
  auto files = PretrainedFiles::open(model->weight_files);
  if (!files) return files.error();
  l->files_ = std::move(*files);
  const auto& tensors = l->files_.tensors();
  auto add = [&](const std::string& ours, const std::string& theirs, bool transpose) {
    const PretrainedFiles::Tensor& t = tensors.at(theirs);
    l->by_ours_[ours] = Source{t.entry, t.file, transpose, theirs};
  };
  if (model->layout == PretrainedLayout::kSaturnCheckpoint) {
    for (const auto& [name, t] : tensors) add(name, name, false);
  } else {
    auto map = map_pretrained(*model, architecture, l->files_.names());
    if (!map) return map.error();
    for (const TensorLink& link : map->links) {
      // init.classes: a new classifier, as a new model's; the file's is not read.
      if (job.init.classes > 0 && std::find(map->classifier.begin(), map->classifier.end(),
                                            link.ours) != map->classifier.end()) {
        l->replaced_.insert(link.ours);
      } else {
        add(link.ours, link.theirs, link.transpose);
      }
    }
    if (!map->tied_head.empty()) {
      // A GPT-2 head is the token embedding: a file's lm_head.weight must be a copy of it.
      const auto* head = tensors.at(map->tied_head).entry;
      const auto* wte = tensors.at(map->prefix + "wte.weight").entry;
      if (head->dtype != wte->dtype || head->shape != wte->shape ||
          std::memcmp(head->data, wte->data, head->bytes) != 0) {
        return init_error(model->path, fmt::format("{} differs from {}wte.weight: GPT-2's LM head "
                                                   "is the token embedding (tied)",
                                                   map->tied_head, map->prefix));
      }
    }
  }
  for (const auto& [ours, source] : l->by_ours_) {
    const bool counter = ours.size() > 20 && ours.rfind(".num_batches_tracked") == ours.size() - 20;
    if (!torch_dtype(source.entry->dtype) || ((source.entry->dtype == "I64") != counter)) {
      return init_error(source.file, fmt::format("tensor {} is {}: weights load from F32, F16 or "
                                                 "BF16 (num_batches_tracked from I64)",
                                                 source.theirs, source.entry->dtype));
    }
  }
  return l;
}

BlockSink PretrainedLoader::sink(BlockSink next) {
  return [this, next = std::move(next)](const std::string& name, BlockImpl& block) {
    if (error_) error_ = load_block(name, block);
    if (next) next(name, block);
  };
}

Status PretrainedLoader::load_block(const std::string& block_name, BlockImpl& block) {
  const torch::NoGradGuard no_grad;
  for (auto& item : block.named_parameters(/*recurse=*/true)) {
    const std::string name = block_name + "." + item.key();
    const auto it = by_ours_.find(name);
    if (it == by_ours_.end() && replaced_.count(name)) continue;  // a new classifier
    if (it == by_ours_.end()) {
      return init_error(path_,
                        fmt::format("the pretrained model has no tensor for parameter {}", name));
    }
    if (Status s = load_tensor(name, it->second, item.value()); !s) return s;
  }
  for (auto& item : block.named_buffers(/*recurse=*/true)) {
    const std::string name = block_name + "." + item.key();
    const auto it = by_ours_.find(name);
    if (it == by_ours_.end()) continue;  // a Hugging Face GPT-2 has no buffers to load
    if (Status s = load_tensor(name, it->second, item.value()); !s) return s;
  }
  return Status::Ok();
}

Status PretrainedLoader::load_tensor(const std::string& name, const Source& source,
                                     torch::Tensor& target) {
  const SafetensorsFile::Entry& e = *source.entry;
  // [rows, cols] stored -> [cols, rows] as the model holds it.
  std::vector<std::int64_t> shape = e.shape;
  if (source.transpose && shape.size() == 2) std::swap(shape[0], shape[1]);
  const std::vector<std::int64_t> want = target.sizes().vec();
  // A grown vocabulary (init.vocab: resize): the file gives the first rows of the token
  // embedding (and of GPT-J's untied head).
  const bool vocab_rows =
      name == "embed.wte.weight" || name == "head.lm_head.weight" || name == "head.lm_head.bias";
  const bool grown = vocab_rows && resize_vocab_ && shape.size() == want.size() && !shape.empty() &&
                     shape[0] < want[0] &&
                     std::equal(shape.begin() + 1, shape.end(), want.begin() + 1);
  if (shape != want && !grown) {
    return init_error(source.file, fmt::format("tensor {} has shape [{}]{}, the model's {} is [{}]",
                                               source.theirs, fmt::join(e.shape, ", "),
                                               source.transpose ? " (stored [in, out])" : "", name,
                                               fmt::join(want, ", ")));
  }
  const torch::ScalarType dtype = *torch_dtype(e.dtype);
  if (target.is_floating_point() != c10::isFloatingType(dtype)) {
    return init_error(source.file, fmt::format("tensor {}: {} into a {} tensor", source.theirs,
                                               e.dtype, c10::toString(target.scalar_type())));
  }
  torch::Tensor values = torch::from_blob(const_cast<unsigned char*>(e.data), e.shape,
                                          torch::TensorOptions().dtype(dtype));
  if (source.transpose) values = values.t();
  torch::Tensor into = grown ? target.narrow(0, 0, shape[0]) : target;
  into.copy_(values);  // converts to the model's dtype (fp32)
  ++loaded_;
  // The tensor's pages of the mapped file are not read again: drop them from this process (the
  // kernel keeps them cached), so that loading holds the model and one tensor, not the model and
  // the whole file. The mapping is private and read-only: a later read maps them back.
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(e.data) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(e.data) + e.bytes;
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  return Status::Ok();
}

Status PretrainedLoader::finish() const {
  if (!error_) return error_;
  if (loaded_ < by_ours_.size()) {
    return init_error(path_, fmt::format("{} of the pretrained model's {} tensors were loaded: the "
                                         "model built has fewer parameters than the file",
                                         loaded_, by_ours_.size()));
  }
  return Status::Ok();
}

}  // namespace saturn::worker
