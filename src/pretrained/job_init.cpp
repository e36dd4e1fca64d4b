// A job's `init` and model resolved at load time (pretrained/job_init.h), and the rules the
// estimator and saturn-worker share for its architecture and vocabulary (saturn/workload.h).
#include "pretrained/job_init.h"

#include <filesystem>

#include <fmt/format.h>

namespace saturn {
namespace {

Error job_key_error(const JobSpec& job, const std::string& source, const std::string& key,
                    const std::string& message) {
  const auto it = job.key_origins.find(key);
  if (it == job.key_origins.end()) return Error{source, job.origin.line, key, message};
  return Error{source, it->second.line, it->second.field, message};
}

}  // namespace

namespace {

Status resolve_architecture(JobSpec& job, const std::string& source, const std::string& base_dir);

}  // namespace

// init.classes replaces an image model's classifier: the architecture gets that many outputs.
Status resolve_job_model(JobSpec& job, const std::string& source, const std::string& base_dir) {
  if (Status s = resolve_architecture(job, source, base_dir); !s) return s;
  if (job.init.classes <= 0) return Status::Ok();
  if (std::filesystem::path(job.init.path).extension() != ".safetensors") {
    return job_key_error(job, source, "init.classes",
                         fmt::format("job \"{}\": init.classes replaces the classifier of a "
                                     "state dict (a .safetensors file); {} is not one",
                                     job.name, job.init.path));
  }
  if (job.architecture.family.empty() || job.architecture.context > 0) {
    return job_key_error(job, source, "init.classes",
                         fmt::format("job \"{}\": init.classes replaces an image model's "
                                     "classifier; {} is not one",
                                     job.name, job.model));
  }
  job.architecture.classes = job.init.classes;
  return Status::Ok();
}

namespace {

Status resolve_architecture(JobSpec& job, const std::string& source, const std::string& base_dir) {
  if (job.init.empty()) {
    if (auto zoo = find_architecture(job.model)) job.architecture = *zoo;
    return Status::Ok();
  }
  namespace fs = std::filesystem;
  const fs::path p(job.init.path);
  job.init.path =
      (p.is_absolute() ? p : fs::absolute(fs::path(base_dir) / p)).lexically_normal().string();
  std::error_code ec;
  if (!job.model.empty() && !fs::exists(job.init.path, ec)) {
    // Planning and estimating need only the architecture `model` names: weights not downloaded
    // yet are an error when the job starts (saturn-worker names the path), as data is.
    if (auto zoo = find_architecture(job.model)) job.architecture = *zoo;
    return Status::Ok();
  }
  auto model = open_pretrained(job.init.path);
  if (!model) {
    const Error& e = model.error();
    return job_key_error(
        job, source, "init.path",
        fmt::format("job \"{}\": {}{}{}", job.name, e.file, e.file.empty() ? "" : ": ", e.message));
  }
  if (model->layout == PretrainedLayout::kStateDict) {  // no config: `model` names it
    if (job.model.empty()) {
      return job_key_error(job, source, "init.path",
                           fmt::format("job \"{}\": {} is a state dict without config.json: give "
                                       "`model` (e.g. resnet-50) for its architecture",
                                       job.name, job.init.path));
    }
    auto named = find_architecture(job.model);
    if (!named) return job_key_error(job, source, "model", named.error().message);
    job.architecture = *named;
    return Status::Ok();
  }
  ModelArchitecture arch = model->architecture;
  if (job.model.empty() || job.model == arch.name) {  // left out, or the name init gives
    job.model = arch.name;
  } else {
    auto named = find_architecture(job.model);
    if (!named) return job_key_error(job, source, "model", named.error().message);
    const std::string diff = architecture_difference(*named, arch);
    if (!diff.empty()) {
      return job_key_error(job, source, "model",
                           fmt::format("job \"{}\": model {} does not match the model in {} ({}); "
                                       "leave model out to take init's",
                                       job.name, job.model, job.init.path, diff));
    }
    arch.name = job.model;
  }
  job.architecture = std::move(arch);
  return Status::Ok();
}

}  // namespace

Result<ModelArchitecture> job_architecture(const JobSpec& job) {
  if (!job.architecture.family.empty()) return job.architecture;
  return find_architecture(job.model);
}

Result<int> job_model_vocab(const JobSpec& job, const ModelArchitecture& architecture,
                            int data_vocab) {
  if (architecture.context <= 0) return 0;
  if (job.init.empty()) return data_vocab > 0 ? data_vocab : architecture.vocab;
  if (job.data.byte_level_vocab() > 0 && architecture.vocab > job.data.byte_level_vocab()) {
    // Byte ids 0..255 would be read as the model's own tokens, which they are not.
    return Error{"", 0, "data.tokenizer",
                 fmt::format("job \"{}\": the pretrained model has a vocabulary of {} tokens and "
                             "the data is read byte by byte: give data.tokenizer (the model's own "
                             "tokenizer directory; GPT-2's ships in data/tokenizers/gpt2)",
                             job.name, architecture.vocab)};
  }
  if (data_vocab <= architecture.vocab) return architecture.vocab;
  if (job.init.vocab == "resize") return data_vocab;
  return Error{"", 0, "init.vocab",
               fmt::format("job \"{}\": the data's tokenizer has {} tokens, more than the "
                           "pretrained model's {}: set init.vocab: resize to grow the token "
                           "embeddings (new rows start untrained)",
                           job.name, data_vocab, architecture.vocab)};
}

}  // namespace saturn
