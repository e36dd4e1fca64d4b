// Checkpoint writing and reading; see checkpoint.h.
#include "train/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "formats/common.h"
#include "saturn/atomic_file.h"
#include "saturn/checksum.h"
#include "saturn/safetensors.h"

namespace saturn::worker {
namespace {

namespace fs = std::filesystem;

constexpr int kKeep = 2;  // checkpoints kept
constexpr const char* kWeightsFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kTrainerFile = "trainer.json";
constexpr const char* kChecksumsFile = "checksums.xxh128";

std::string dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return "F32";
    case torch::kBFloat16:
      return "BF16";
    case torch::kHalf:
      return "F16";
    case torch::kDouble:
      return "F64";
    case torch::kLong:
      return "I64";
    case torch::kInt:
      return "I32";
    case torch::kByte:
      return "U8";
    default:
      return "";
  }
}

torch::ScalarType scalar_type(const std::string& dtype) {
  if (dtype == "F32") return torch::kFloat;
  if (dtype == "BF16") return torch::kBFloat16;
  if (dtype == "F16") return torch::kHalf;
  if (dtype == "F64") return torch::kDouble;
  if (dtype == "I64") return torch::kLong;
  if (dtype == "I32") return torch::kInt;
  return torch::kByte;
}

// CPU copies kept alive while their views are written.
struct Staged {
  std::vector<torch::Tensor> keep;
  std::vector<TensorView> views;

  void add(const std::string& name, const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    keep.push_back(c);
    views.push_back({name, dtype_name(c.scalar_type()), c.sizes().vec(), c.data_ptr(),
                     static_cast<std::size_t>(c.numel()) * c.element_size()});
  }
  // Per-parameter slices of a flat buffer in pieces (CheckpointWriter's FlatPieces); no copies of
  // CPU pieces.
  void add_flat(const std::string& prefix, const FlatPieces& pieces, const FlatParameters& p) {
    std::vector<std::int64_t> starts;  // each piece's first element in the layout
    std::int64_t at = 0;
    const std::size_t first = keep.size();
    for (const torch::Tensor& piece : pieces) {
      keep.push_back(piece.detach().to(torch::kCPU).contiguous());
      starts.push_back(at);
      at += piece.numel();
    }
    TORCH_CHECK(at == p.numel(), "checkpoint: ", prefix, " has ", at, " elements, the layout ",
                p.numel());
    for (const FlatParameters::Entry& e : p.entries()) {
      const auto i = static_cast<std::size_t>(
          std::upper_bound(starts.begin(), starts.end(), e.offset) - starts.begin() - 1);
      const std::int64_t local = e.offset - starts[i];
      TORCH_CHECK(local + e.numel <= pieces[i].numel(), "checkpoint: ", e.name,
                  " straddles two pieces");
      const auto* base = static_cast<const unsigned char*>(keep[first + i].data_ptr());
      views.push_back({prefix + e.name, "F32", e.shape, base + local * 4,
                       static_cast<std::size_t>(e.numel) * 4});
    }
  }
};

// Names in `dir` (not "." and ".."); POSIX rather than std::filesystem's iterators, which crashed
// in the PyTorch 2.11 build's toolchain on the GPU machine.
std::vector<std::string> list_directory(const fs::path& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return names;
}

// A directory, not a link to one.
bool is_real_directory(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Makes a rename inside `dir` durable (best effort: some file systems cannot sync directories).
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The CPU generator's state (parameter initialisation, synthetic data; none of the training
// loop's own choices depend on it, but a resumed run keeps it as the uninterrupted one would).
torch::Tensor cpu_rng_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  const std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const torch::Tensor& state) {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  const std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

Error checkpoint_error(const std::string& path, const std::string& message) {
  return Error{path, 0, "checkpoint", message};
}

}  // namespace

void remove_directory_tree(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    for (const std::string& n : list_directory(dir)) remove_directory_tree(dir + "/" + n);
    ::rmdir(dir.c_str());
  } else {
    ::unlink(dir.c_str());
  }
}

Result<std::string> make_private_directory(const std::string& parent, const std::string& prefix) {
  std::string pattern = (fs::path(parent) / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Error{parent, 0, "", fmt::format("cannot create a directory: {}", std::strerror(errno))};
  }
  return pattern;
}

Result<CheckpointWriter> CheckpointWriter::begin(const std::string& dir,
                                                 const CheckpointState& state) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return checkpoint_error(dir, "cannot create the checkpoint directory: " + ec.message());
  const std::string name = checkpoint_name(state.step);
  const fs::path tmp_dir = fs::path(dir) / fmt::format("{}.tmp.{}", name, ::getpid());
  remove_directory_tree(tmp_dir.string());
  fs::create_directories(tmp_dir, ec);
  if (ec) return checkpoint_error(tmp_dir.string(), "cannot create: " + ec.message());
  return CheckpointWriter(dir, name, tmp_dir.string(), state);
}

std::map<std::string, std::string> CheckpointWriter::metadata() const {
  return {{"format", "pt"},
          {"job", state_.job},
          {"model", state_.model},
          {"step", std::to_string(state_.step)},
          {"written_by", "saturn-worker"}};
}

Status CheckpointWriter::write_weights(Model& model, const FlatParameters& layout,
                                       const FlatPieces& master) {
  Staged weights;
  weights.add_flat("", master, layout);
  for (const auto& b : model.named_buffers(/*recurse=*/true)) weights.add(b.key(), b.value());
  return write_safetensors((fs::path(tmp_dir_) / kWeightsFile).string(), weights.views, metadata(),
                           &digests_[kWeightsFile]);
}

Status CheckpointWriter::write_optimizer(
    const FlatParameters& layout, const std::vector<std::pair<std::string, FlatPieces>>& states) {
  Staged opt;
  for (const auto& [state_name, tensor] : states) opt.add_flat(state_name + ".", tensor, layout);
  opt.add("rng.cpu", cpu_rng_state());
  return write_safetensors((fs::path(tmp_dir_) / kOptimizerFile).string(), opt.views, metadata(),
                           &digests_[kOptimizerFile]);
}

Result<std::string> CheckpointWriter::commit() {
  const nlohmann::json trainer = {{"step", state_.step},
                                  {"optimizer_steps", state_.optimizer_steps},
                                  {"job", state_.job},
                                  {"model", state_.model},
                                  {"world_size", state_.world_size},
                                  {"grad_accum", state_.grad_accum}};
  const fs::path tmp_dir = tmp_dir_;
  const std::string trainer_text = trainer.dump(2) + "\n";
  if (Status s = write_file_atomically((tmp_dir / kTrainerFile).string(), trainer_text); !s) {
    return s.error();
  }
  Xxh128 trainer_digest;
  trainer_digest.update(trainer_text.data(), trainer_text.size());
  digests_[kTrainerFile] = trainer_digest.hex();
  if (digests_.size() != 3) {
    return checkpoint_error(tmp_dir.string(), "commit() before both files were written");
  }
  if (Status s =
          write_file_atomically((tmp_dir / kChecksumsFile).string(), format_checksums(digests_));
      !s) {
    return s.error();
  }
  const fs::path final_dir = fs::path(dir_) / name_;
  remove_directory_tree(final_dir.string());
  std::error_code ec;
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) return checkpoint_error(final_dir.string(), "cannot move into place: " + ec.message());
  sync_directory(dir_);
  if (Status s = write_file_atomically((fs::path(dir_) / "LATEST").string(), name_ + "\n"); !s) {
    return s.error();
  }
  // Keep the newest kKeep complete checkpoints; leftovers of interrupted writes go too. Only
  // what this writer names (step-NNNNNNNN, step-NNNNNNNN.tmp.PID), and only real directories:
  // a directory shared with anything else (a job named "." once wrote into checkpoints/ itself)
  // loses nothing that is not a checkpoint.
  std::vector<std::string> names;
  for (const std::string& n : list_directory(dir_)) {
    const CheckpointName parsed = parse_checkpoint_name(n);
    if (parsed.kind == CheckpointName::kOther || !is_real_directory(fs::path(dir_) / n)) continue;
    if (parsed.kind == CheckpointName::kPartial) {
      remove_directory_tree((fs::path(dir_) / n).string());
    } else {
      names.push_back(n);
    }
  }
  std::sort(names.begin(), names.end());
  for (std::size_t i = 0; i + kKeep < names.size(); ++i)
    remove_directory_tree((fs::path(dir_) / names[i]).string());
  return final_dir.string();
}

std::string checkpoint_name(std::int64_t step) {
  return fmt::format("step-{:08}", step);
}

CheckpointName parse_checkpoint_name(const std::string& name) {
  CheckpointName out;
  if (name.rfind("step-", 0) != 0) return out;
  std::size_t end = 5;
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  if (end - 5 < 8 || end - 5 > 18) return out;  // the writer's {:08}, within int64
  const std::int64_t step = std::stoll(name.substr(5, end - 5));
  if (end == name.size()) return {CheckpointName::kComplete, step};
  const std::string rest = name.substr(end);
  if (rest.rfind(".tmp.", 0) == 0 && rest.size() > 5 &&
      rest.find_first_not_of("0123456789", 5) == std::string::npos) {
    return {CheckpointName::kPartial, step};
  }
  return out;
}

namespace {

// Checks the files of checkpoint directory `at` against its checksums.xxh128. Sets `verified`
// false when it has none (written before checkpoints had them).
Status verify_checksums(const fs::path& at, bool* verified) {
  *verified = false;
  const fs::path list = at / kChecksumsFile;
  struct stat st {};
  if (::lstat(list.c_str(), &st) != 0 && errno == ENOENT) return Status::Ok();
  auto text = formats::read_text_file(list.string(), std::size_t{1} << 20);
  if (!text) return text.error();
  auto digests = parse_checksums(*text, list.string());
  if (!digests) return digests.error();
  for (const char* file : {kTrainerFile, kWeightsFile, kOptimizerFile}) {
    const auto expected = digests->find(file);
    if (expected == digests->end()) {
      return checkpoint_error(list.string(), fmt::format("{} is not listed", file));
    }
    auto actual = file_xxh128((at / file).string());
    if (!actual) return actual.error();
    if (*actual != expected->second) {
      return checkpoint_error(
          (at / file).string(),
          fmt::format("damaged: its checksum is {}, {} was written", *actual, expected->second));
    }
  }
  *verified = true;
  return Status::Ok();
}

}  // namespace

Result<CheckpointReader> CheckpointReader::open(const std::string& dir, const std::string& name,
                                                const FlatParameters& layout,
                                                const std::vector<std::string>& states,
                                                const CheckpointState& expect, bool verify) {
  const fs::path at = fs::path(dir) / name;
  if (!is_real_directory(at)) return checkpoint_error(at.string(), "missing (or not a directory)");
  bool verified = false;
  if (verify) {
    if (Status st = verify_checksums(at, &verified); !st) return st.error();
  }
  auto trainer_text = formats::read_text_file((at / kTrainerFile).string(), std::size_t{1} << 20);
  if (!trainer_text) return trainer_text.error();
  CheckpointState s;
  try {
    const nlohmann::json j = nlohmann::json::parse(*trainer_text);
    s.step = j.at("step").get<std::int64_t>();
    s.optimizer_steps = j.at("optimizer_steps").get<std::int64_t>();
    s.job = j.at("job").get<std::string>();
    s.model = j.at("model").get<std::string>();
    s.world_size = j.value("world_size", 1);
    s.grad_accum = j.value("grad_accum", 1);
  } catch (const std::exception& e) {
    return checkpoint_error((at / kTrainerFile).string(), std::string("unreadable: ") + e.what());
  }
  if (s.job != expect.job || s.model != expect.model) {
    return checkpoint_error(at.string(), fmt::format("holds job \"{}\" ({}), not \"{}\" ({})",
                                                     s.job, s.model, expect.job, expect.model));
  }
  auto weights = SafetensorsFile::open((at / kWeightsFile).string());
  if (!weights) return weights.error();
  auto opt = SafetensorsFile::open((at / kOptimizerFile).string());
  if (!opt) return opt.error();
  auto check = [&](const SafetensorsFile& file, const std::string& prefix) -> Status {
    for (const FlatParameters::Entry& e : layout.entries()) {
      const SafetensorsFile::Entry* t = file.find(prefix + e.name);
      if (!t || t->dtype != "F32" || t->shape != e.shape) {
        return checkpoint_error(
            at.string(), fmt::format("\"{}{}\" is missing or has another shape", prefix, e.name));
      }
    }
    return Status::Ok();
  };
  if (Status st = check(*weights, ""); !st) return st.error();
  for (const std::string& state : states) {
    if (Status st = check(*opt, state + "."); !st) return st.error();
  }
  CheckpointReader reader(at.string(), layout, std::move(*weights), std::move(*opt), s);
  reader.verified_ = verified;
  return reader;
}

Result<std::optional<CheckpointReader>> CheckpointReader::open_newest(
    const std::string& dir, const FlatParameters& layout, const std::vector<std::string>& states,
    const CheckpointState& expect) {
  // Every complete checkpoint, newest first. LATEST is not needed to find them (a writer that
  // died between the rename and LATEST left a newer complete one), but one that names a missing
  // checkpoint says a checkpoint was lost.
  std::vector<std::pair<std::int64_t, std::string>> candidates;
  for (const std::string& n : list_directory(dir)) {
    const CheckpointName parsed = parse_checkpoint_name(n);
    if (parsed.kind == CheckpointName::kComplete) candidates.emplace_back(parsed.step, n);
  }
  std::sort(candidates.rbegin(), candidates.rend());
  std::vector<RejectedCheckpoint> rejected;
  const fs::path latest = fs::path(dir) / "LATEST";
  std::error_code ec;
  if (fs::exists(latest, ec)) {
    auto text = formats::read_text_file(latest.string(), 4096);
    std::string name = text ? *text : "";
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
    const bool listed = std::any_of(candidates.begin(), candidates.end(),
                                    [&](const auto& c) { return c.second == name; });
    if (!listed) {
      rejected.push_back(
          {latest.string(), text ? fmt::format("names \"{}\", which is not a checkpoint here", name)
                                 : text.error().to_string()});
    }
  }
  for (const auto& [step, name] : candidates) {
    auto reader = open(dir, name, layout, states, expect, /*verify=*/true);
    if (reader) {
      reader->rejected_ = std::move(rejected);
      return std::optional<CheckpointReader>(std::move(*reader));
    }
    rejected.push_back({(fs::path(dir) / name).string(), reader.error().to_string()});
  }
  if (rejected.empty()) return std::optional<CheckpointReader>();
  std::string why;
  for (const RejectedCheckpoint& r : rejected) why += fmt::format("; {}: {}", r.path, r.reason);
  return Error{dir, 0, "checkpoint",
               fmt::format("no intact checkpoint to resume from{} (move the directory away to "
                           "train from the start)",
                           why)};
}

Status CheckpointReader::set_aside_rejected() {
  const fs::path dir = fs::path(at_).parent_path();
  const long now = static_cast<long>(std::time(nullptr));
  for (const RejectedCheckpoint& r : rejected_) {
    const fs::path from = r.path;
    if (from.filename() == "LATEST") continue;  // rewritten below
    std::error_code ec;
    fs::rename(from, fs::path(fmt::format("{}.rejected-{}", r.path, now)), ec);
    if (ec) return checkpoint_error(r.path, "cannot set it aside: " + ec.message());
  }
  if (!rejected_.empty()) {
    if (Status s = write_file_atomically((dir / "LATEST").string(),
                                         fs::path(at_).filename().string() + "\n");
        !s) {
      return s;
    }
    sync_directory(dir);
  }
  return Status::Ok();
}

CheckpointReader::CheckpointReader(std::string at, const FlatParameters& layout,
                                   SafetensorsFile weights, SafetensorsFile optimizer,
                                   CheckpointState state)
    : at_(std::move(at)),
      layout_(&layout),
      weights_(std::move(weights)),
      optimizer_(std::move(optimizer)),
      state_(std::move(state)) {}

InitialValues CheckpointReader::values(const std::string& state) const {
  const SafetensorsFile& file = state.empty() ? weights_ : optimizer_;
  const std::string prefix = state.empty() ? "" : state + ".";
  return [this, &file, prefix](std::int64_t offset, std::int64_t numel, torch::Tensor dst) {
    if (offset < 0 || numel < 0 || offset + numel > layout_->numel()) return false;
    const torch::NoGradGuard no_grad;
    const auto& entries = layout_->entries();
    // The first entry ending after offset; entries lie in offset order without gaps.
    auto it = std::upper_bound(
        entries.begin(), entries.end(), offset,
        [](std::int64_t at, const FlatParameters::Entry& e) { return at < e.offset + e.numel; });
    for (; it != entries.end() && it->offset < offset + numel; ++it) {
      const std::int64_t lo = std::max(offset, it->offset);
      const std::int64_t hi = std::min(offset + numel, it->offset + it->numel);
      const SafetensorsFile::Entry* t = file.find(prefix + it->name);  // checked by open()
      // The mapping is read-only; from_blob only reads it here.
      auto* data = const_cast<float*>(reinterpret_cast<const float*>(t->data));
      const torch::Tensor from = torch::from_blob(data + (lo - it->offset), {hi - lo},
                                                  torch::TensorOptions().dtype(torch::kFloat));
      dst.narrow(0, lo - offset, hi - lo).copy_(from);
    }
    return true;
  };
}

Status CheckpointReader::restore_buffers(Model& model) const {
  const torch::NoGradGuard no_grad;
  for (auto& b : model.named_buffers(/*recurse=*/true)) {
    const SafetensorsFile::Entry* t = weights_.find(b.key());
    if (!t || t->shape != b.value().sizes().vec()) {
      return checkpoint_error(
          at_, fmt::format("buffer \"{}\" is missing or has another shape", b.key()));
    }
    torch::Tensor cpu = torch::empty(t->shape, scalar_type(t->dtype));
    std::memcpy(cpu.data_ptr(), t->data, t->bytes);
    b.value().copy_(cpu);
  }
  return Status::Ok();
}

void CheckpointReader::restore_rng() const {
  if (const SafetensorsFile::Entry* r = optimizer_.find("rng.cpu")) {
    torch::Tensor cpu = torch::empty({static_cast<std::int64_t>(r->bytes)}, torch::kByte);
    std::memcpy(cpu.data_ptr(), r->data, r->bytes);
    set_cpu_rng_state(cpu);
  }
}

}  // namespace saturn::worker
