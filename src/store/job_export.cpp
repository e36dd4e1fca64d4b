// A done job's trained model as a Hugging Face directory; see saturn/job_export.h.
#include "saturn/job_export.h"

#include <filesystem>

#include <fmt/format.h>

#include "saturn/run_layout.h"
#include "saturn/workload.h"

namespace saturn {

Result<std::string> export_job(const std::string& run_dir, const std::string& job,
                               const std::string& out, const ExportOptions& options) {
  namespace fs = std::filesystem;
  const RunDir run(run_dir);
  auto job_file = run.job_file(job);
  if (!job_file) return job_file.error();
  std::error_code ec;
  if (!fs::is_regular_file(*job_file, ec)) {
    return Error{run_dir, 0, "job",
                 fmt::format("the run has no job \"{}\" ({} is missing)", job, *job_file)};
  }
  auto workload = load_workload_yaml(*job_file);
  if (!workload) return workload.error();
  const JobSpec& spec = workload->jobs.front();
  auto arch = job_architecture(spec);
  if (!arch) return arch.error();
  auto checkpoints = run.checkpoint_dir(job);
  if (!checkpoints) return checkpoints.error();
  auto newest = newest_checkpoint(*checkpoints);
  if (!newest) return newest.error();
  std::optional<PretrainedModel> source;
  if (!spec.init.empty()) {
    auto opened = open_pretrained(spec.init.path);
    if (!opened) return opened.error();
    source = std::move(*opened);
  }
  ExportOptions with_tokenizer = options;
  if (!spec.data.tokenizer.empty() && spec.data.tokenizer != "bytes") {
    with_tokenizer.tokenizer_dir = spec.data.tokenizer;  // absolute in the job file
  }
  std::string target = out;
  if (target.empty()) {
    auto dir = run.model_dir(job);
    if (!dir) return dir.error();
    target = *dir;
    fs::create_directories(fs::path(target).parent_path(), ec);
    // The job's own export is replaced: written beside, then the old one removed.
    if (fs::exists(target, ec)) {
      const std::string old = target + ".old";
      fs::remove_all(old, ec);
      fs::rename(target, old, ec);
      Status s = export_model(*arch, source ? &*source : nullptr, *newest, target, with_tokenizer);
      if (!s) {
        fs::rename(old, target, ec);
        return s.error();
      }
      fs::remove_all(old, ec);
      return target;
    }
  }
  if (Status s = export_model(*arch, source ? &*source : nullptr, *newest, target, with_tokenizer);
      !s) {
    return s.error();
  }
  return target;
}

}  // namespace saturn
