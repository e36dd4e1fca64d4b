// Workload YAML: jobs, shared defaults, and grid expansion (a list in a hyper-parameter becomes
// one job per combination). Format reference: docs/formats.md#workload.
#include "saturn/workload.h"

#include <algorithm>
#include <climits>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <type_traits>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "formats/common.h"
#include "formats/yaml_fields.h"
#include "pretrained/job_init.h"

namespace saturn {
namespace {

using formats::YamlChecker;

// Most jobs one workload may expand to; guards against an accidental huge grid.
constexpr std::size_t kMaxJobs = 100000;

// One key of a job after merging defaults: what was written and where.
struct Entry {
  std::string key;    // "lr", "data.seq_len"
  YAML::Node value;   // a scalar, or a list (a grid axis, or gpus/techniques)
  std::string field;  // "jobs[0].lr", "defaults.data.seq_len"
};

using Setter = Status (*)(const YamlChecker&, const YAML::Node&, const std::string&, JobSpec&);

template <typename T>
Status store(Result<T> result, auto& target) {
  if (!result) return result.error();
  target = static_cast<std::remove_reference_t<decltype(target)>>(*result);
  return Status::Ok();
}

Status set_choice(const YamlChecker& c, const YAML::Node& v, const std::string& f,
                  std::string& target, std::initializer_list<const char*> allowed) {
  auto text = c.get_string(v, f, true);
  if (!text) return text.error();
  std::string list;
  for (const char* option : allowed) {
    if (*text == option) {
      target = *text;
      return Status::Ok();
    }
    list += (list.empty() ? "" : ", ") + std::string(option);
  }
  return c.error(v, f, "unknown value \"" + *text + "\" (allowed: " + list + ")");
}

Status set_gpus(const YamlChecker& c, const YAML::Node& v, const std::string& f, JobSpec& job) {
  job.gpus.clear();
  if (v.IsSequence() && v.size() == 0) return c.error(v, f, "must list at least one GPU count");
  const std::size_t n = v.IsSequence() ? v.size() : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const YAML::Node item = v.IsSequence() ? v[i] : v;
    const std::string at = v.IsSequence() ? f + "[" + std::to_string(i) + "]" : f;
    auto count = c.get_int(item, at, 1, formats::kMaxGpusPerNode);
    if (!count) return count.error();
    job.gpus.push_back(static_cast<int>(*count));
  }
  std::sort(job.gpus.begin(), job.gpus.end());
  job.gpus.erase(std::unique(job.gpus.begin(), job.gpus.end()), job.gpus.end());
  return Status::Ok();
}

Status set_techniques(const YamlChecker& c, const YAML::Node& v, const std::string& f,
                      JobSpec& job) {
  job.techniques.clear();
  if (v.IsSequence() && v.size() == 0) return c.error(v, f, "must list at least one technique");
  const std::size_t n = v.IsSequence() ? v.size() : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const YAML::Node item = v.IsSequence() ? v[i] : v;
    const std::string at = v.IsSequence() ? f + "[" + std::to_string(i) + "]" : f;
    auto name = c.get_string(item, at, true);
    if (!name) return name.error();
    if (std::find(job.techniques.begin(), job.techniques.end(), *name) != job.techniques.end()) {
      return c.error(item, at, "technique \"" + *name + "\" is listed twice");
    }
    job.techniques.push_back(*name);
  }
  return Status::Ok();
}

// Every key a job (or `defaults`) may set, except `name` and `data`, which are handled apart.
const std::map<std::string, Setter>& setters() {
  using C = const YamlChecker&;
  using N = const YAML::Node&;
  using F = const std::string&;
  static const std::map<std::string, Setter> table = {
      {"model", [](C c, N v, F f, JobSpec& j) { return store(c.get_string(v, f, true), j.model); }},
      {"init.path",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_string(v, f, true), j.init.path); }},
      {"init.vocab",
       [](C c, N v, F f, JobSpec& j) {
         return set_choice(c, v, f, j.init.vocab, {"keep", "resize"});
       }},
      {"init.classes",
       [](C c, N v, F f, JobSpec& j) {
         return store(c.get_int(v, f, 1, 1 << 20), j.init.classes);
       }},
      {"optimizer",
       [](C c, N v, F f, JobSpec& j) {
         return set_choice(c, v, f, j.optimizer, {"adamw", "sgd"});
       }},
      {"lr", [](C c, N v, F f, JobSpec& j) { return store(c.get_number(v, f, 0, true), j.lr); }},
      {"weight_decay",
       [](C c, N v, F f, JobSpec& j) {
         return store(c.get_number(v, f, 0, false), j.weight_decay);
       }},
      {"momentum", [](C c, N v, F f,
                      JobSpec& j) { return store(c.get_number(v, f, 0, false, 1.0), j.momentum); }},
      {"warmup_steps",
       [](C c, N v, F f, JobSpec& j) {
         return store(c.get_int(v, f, 0, INT_MAX), j.warmup_steps);
       }},
      {"grad_clip",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_number(v, f, 0, false), j.grad_clip); }},
      {"grad_accum",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_int(v, f, 1, INT_MAX), j.grad_accum); }},
      {"batch_size",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_int(v, f, 1, INT_MAX), j.batch_size); }},
      {"epochs",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_number(v, f, 0, true), j.epochs); }},
      {"steps",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_int(v, f, 1, INT64_MAX), j.steps); }},
      {"eval_every",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_int(v, f, 0, INT_MAX), j.eval_every); }},
      {"seed", [](C c, N v, F f, JobSpec& j) { return store(c.get_uint64(v, f), j.seed); }},
      {"gpus", set_gpus},
      {"techniques", set_techniques},
      {"data.name",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_string(v, f, true), j.data.name); }},
      {"data.path",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_string(v, f, true), j.data.path); }},
      {"data.format",
       [](C c, N v, F f, JobSpec& j) {
         return set_choice(c, v, f, j.data.format,
                           {"text", "tokens", "synthetic-text", "synthetic-images"});
       }},
      {"data.seq_len",
       [](C c, N v, F f, JobSpec& j) {
         return store(c.get_int(v, f, 1, INT_MAX), j.data.seq_len);
       }},
      {"data.image_size",
       [](C c, N v, F f, JobSpec& j) {
         return store(c.get_int(v, f, 1, INT_MAX), j.data.image_size);
       }},
      {"data.samples",
       [](C c, N v, F f, JobSpec& j) {
         return store(c.get_int(v, f, 0, INT64_MAX), j.data.samples);
       }},
      {"data.tokenizer",
       [](C c, N v, F f, JobSpec& j) { return store(c.get_string(v, f, true), j.data.tokenizer); }},
  };
  return table;
}

// The prefix a grid key contributes to a job name ("lr" -> "lr", "batch_size" -> "bs"); model
// and optimizer contribute their value alone, data.X contributes X.
std::string abbreviation(const std::string& key) {
  static const std::map<std::string, std::string> table = {
      {"lr", "lr"},           {"batch_size", "bs"},  {"weight_decay", "wd"}, {"momentum", "mom"},
      {"warmup_steps", "wu"}, {"grad_clip", "clip"}, {"grad_accum", "acc"},  {"epochs", "ep"},
      {"steps", "steps"},     {"seed", "seed"},      {"eval_every", "eval"}, {"model", ""},
      {"optimizer", ""}};
  if (key.rfind("data.", 0) == 0) return key.substr(5);
  if (key == "init.path") return "init";
  const auto it = table.find(key);
  return it == table.end() ? key : it->second;
}

// The keys a job may have, `name` first; the keys `data` may have.
const std::vector<std::string_view>& job_keys() {
  static const std::vector<std::string_view> keys = {
      "name",     "model",        "data",      "optimizer",  "lr",         "weight_decay",
      "momentum", "warmup_steps", "grad_clip", "grad_accum", "batch_size", "epochs",
      "steps",    "eval_every",   "seed",      "gpus",       "techniques", "init"};
  return keys;
}
const std::vector<std::string_view>& data_keys() {
  static const std::vector<std::string_view> keys = {"name",       "path",    "format",   "seq_len",
                                                     "image_size", "samples", "tokenizer"};
  return keys;
}

// The keys of a job or of `defaults`, data.* flattened, in the order written.
Result<std::vector<Entry>> collect(const YamlChecker& c, const YAML::Node& map,
                                   const std::string& field, bool is_defaults) {
  std::vector<std::string_view> allowed = job_keys();
  if (is_defaults) allowed.erase(allowed.begin());  // a default name makes no sense
  if (auto s = c.check_map(map, field, allowed); !s) return s.error();
  std::vector<Entry> out;
  for (const auto& kv : map) {
    const std::string key = formats::yaml_key(kv.first);
    if (key == "name") continue;
    if (key == "init" && !kv.second.IsMap()) {  // `init: DIR` is `init: {path: DIR}`
      out.push_back({"init.path", kv.second, field + ".init"});
      continue;
    }
    if (key == "init") {
      if (auto s = c.check_map(kv.second, field + ".init", {"path", "vocab", "classes"}); !s)
        return s.error();
      for (const auto& d : kv.second) {
        const std::string sub = formats::yaml_key(d.first);
        out.push_back({"init." + sub, d.second, field + ".init." + sub});
      }
      continue;
    }
    if (key != "data") {
      out.push_back({key, kv.second, field + "." + key});
      continue;
    }
    if (auto s = c.check_map(kv.second, field + ".data", data_keys()); !s) return s.error();
    for (const auto& d : kv.second) {
      const std::string sub = formats::yaml_key(d.first);
      out.push_back({"data." + sub, d.second, field + ".data." + sub});
    }
  }
  return out;
}

// Checks that depend on several keys, on one expanded job.
Status check_job(const YamlChecker& c, const YAML::Node& job_node, const std::string& field,
                 const JobSpec& job, bool has_data) {
  const std::string who = "job \"" + job.name + "\": ";
  if (!has_data) return Status::Ok();
  const DataSpec& d = job.data;
  const std::string at = field + ".data";
  if (d.format.empty()) return c.error(job_node, at + ".format", "missing required key \"format\"");
  const bool text = d.format == "text" || d.format == "tokens";
  const bool images = d.format == "synthetic-images";
  if (text && d.path.empty()) return c.error(job_node, at, who + d.format + " data needs a path");
  if (!text && !d.path.empty()) {
    return c.error(job_node, at, who + d.format + " data is generated; remove path");
  }
  if (!images && d.seq_len <= 0) {
    return c.error(job_node, at, who + d.format + " data needs seq_len");
  }
  if (images && d.image_size <= 0) {
    return c.error(job_node, at, who + "synthetic-images data needs image_size");
  }
  if (images && d.seq_len > 0) {
    return c.error(job_node, at, who + "seq_len does not apply to synthetic-images");
  }
  if (!images && d.image_size > 0) {
    return c.error(job_node, at, who + "image_size applies only to synthetic-images");
  }
  if (d.format != "text" && !d.tokenizer.empty()) {
    return c.error(
        job_node, at + ".tokenizer",
        who + "tokenizer applies only to text data (tokens files are already tokenised)");
  }
  if (!text && d.samples <= 0) {
    return c.error(job_node, at, who + d.format + " data needs samples > 0");
  }
  return Status::Ok();
}

struct Origin {
  std::string text;  // "jobs[0] (lr[0]=1e-5, batch_size[1]=32)"
  int line = 0;
};

// Expands one job (its merged entries) into `out`.
Status expand_job(const YamlChecker& c, const YAML::Node& job_node, const std::string& field,
                  const std::vector<Entry>& entries, std::vector<JobSpec>& out,
                  std::map<std::string, Origin>& names) {
  const YAML::Node name_node = job_node["name"];
  if (!name_node) return c.error(job_node, field + ".name", "missing required key \"name\"");
  if (name_node.IsSequence()) return c.error(name_node, field + ".name", "cannot be a list");
  auto name = c.get_string(name_node, field + ".name", true);
  if (!name) return name.error();
  if (!formats::is_safe_name(*name)) {
    return c.error(name_node, field + ".name",
                   "\"" + *name + "\" is not a job name: a name " + formats::kSafeNameRule +
                       " (it names the job's files in the run directory)");
  }
  auto has = [&](std::string_view key) {
    return std::any_of(entries.begin(), entries.end(),
                       [&](const Entry& e) { return e.key == key; });
  };
  for (const char* key : {"model", "lr", "batch_size", "gpus", "techniques"}) {
    if (!has(key) && !(std::string_view(key) == "model" && has("init.path"))) {
      return c.error(job_node, field + "." + key,
                     std::string("missing required key \"") + key + "\"");
    }
  }
  if ((has("init.vocab") || has("init.classes")) && !has("init.path")) {
    return c.error(job_node, field + ".init.path", "missing required key \"path\" of init");
  }
  if (has("epochs") == has("steps")) {
    return c.error(job_node, field, "give exactly one of epochs and steps");
  }

  JobSpec base;
  base.name = *name;
  base.optimizer = "adamw";
  base.origin = SourceRef{field, formats::yaml_line(job_node)};
  std::vector<const Entry*> axes;
  std::size_t combinations = 1;
  for (const Entry& e : entries) {
    const Setter set = setters().at(e.key);
    const bool grid = e.value.IsSequence() && e.key != "gpus" && e.key != "techniques";
    if (!grid) {
      if (auto s = set(c, e.value, e.field, base); !s) return s;
      base.key_origins[e.key] = SourceRef{e.field, formats::yaml_line(e.value)};
      continue;
    }
    if (e.value.size() == 0) return c.error(e.value, e.field, "an empty list gives no jobs");
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      JobSpec scratch;
      if (auto s = set(c, e.value[i], e.field + "[" + std::to_string(i) + "]", scratch); !s) {
        return s;
      }
    }
    axes.push_back(&e);
    combinations *= e.value.size();
    if (combinations + out.size() > kMaxJobs) {
      return c.error(e.value, e.field,
                     "the workload expands to more than " + std::to_string(kMaxJobs) + " jobs");
    }
  }

  const bool has_data = std::any_of(entries.begin(), entries.end(),
                                    [](const Entry& e) { return e.key.rfind("data.", 0) == 0; });
  std::vector<std::size_t> pick(axes.size(), 0);  // odometer over the axes, last one fastest
  for (std::size_t n = 0; n < combinations; ++n) {
    JobSpec job = base;
    std::string origin;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const YAML::Node value = axes[a]->value[pick[a]];
      if (auto s = setters().at(axes[a]->key)(c, value, axes[a]->field, job); !s) return s;
      job.name += "-" + abbreviation(axes[a]->key) + formats::sanitize_name(value.Scalar());
      job.grid[axes[a]->key] = value.Scalar();
      job.key_origins[axes[a]->key] = SourceRef{
          axes[a]->field + "[" + std::to_string(pick[a]) + "]", formats::yaml_line(value)};
      origin += (origin.empty() ? "" : ", ") + axes[a]->key + "[" + std::to_string(pick[a]) +
                "]=" + value.Scalar();
    }
    origin = field + (origin.empty() ? "" : " (" + origin + ")");
    if (auto s = check_job(c, job_node, field, job, has_data); !s) return s;
    const int line = formats::yaml_line(name_node);
    if (!formats::is_safe_name(job.name)) {  // the grid's suffixes made it too long
      return c.error(name_node, field + ".name",
                     "the job name \"" + job.name + "\" made by " + origin +
                         " is not a job name: a name " + formats::kSafeNameRule);
    }
    if (out.size() >= kMaxJobs) {
      return c.error(job_node, field,
                     "the workload has more than " + std::to_string(kMaxJobs) + " jobs");
    }
    if (const auto [it, inserted] = names.emplace(job.name, Origin{origin, line}); !inserted) {
      return c.error(name_node, field + ".name",
                     "job name \"" + job.name + "\" is produced twice: by " + it->second.text +
                         " on line " + std::to_string(it->second.line) + " and by " + origin);
    }
    out.push_back(std::move(job));
    for (std::size_t a = axes.size(); a-- > 0;) {
      if (++pick[a] < axes[a]->value.size()) break;
      pick[a] = 0;
    }
  }
  return Status::Ok();
}

// Counts the entries of the top-level `jobs` list from the parser's events, without building
// the document, and stops at the first past kMaxJobs: a file of 287,104 jobs (50 MB) was read
// whole (4 GB) before anything said it was too many.
class JobCounter final : public YAML::EventHandler {
 public:
  struct TooMany {};
  std::size_t jobs = 0;
  int line = 0;  // of the jobs list

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m, false); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m, false); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    if (depth_ == 1 && key_) next_is_jobs_ = value == "jobs";
    node(m, false);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    if (depth_ == 1 && !key_ && next_is_jobs_) {
      jobs_depth_ = depth_ + 1;
      line = m.line + 1;
    }
    node(m, true);
  }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(m, true);
  }
  void OnSequenceEnd() override { end(); }
  void OnMapEnd() override { end(); }

 private:
  // A node starts at the current depth (`container`: it opens one).
  void node(const YAML::Mark&, bool container) {
    if (jobs_depth_ > 0 && depth_ == jobs_depth_ && ++jobs > kMaxJobs) throw TooMany{};
    if (container) {
      ++depth_;
    } else if (depth_ == 1) {
      key_ = !key_;  // a scalar in the root map: a key, then its value
    }
  }
  void end() {
    if (depth_ == jobs_depth_) jobs_depth_ = 0;
    if (--depth_ == 1) key_ = !key_;  // a container value in the root map ended
  }
  int depth_ = 0;
  bool key_ = true;
  bool next_is_jobs_ = false;
  int jobs_depth_ = 0;  // the depth of the jobs list's entries; 0: not inside it
};

// The error for a workload listing more than kMaxJobs jobs; std::nullopt when it does not (or
// cannot be read: the real parse says why).
std::optional<Error> too_many_jobs(std::string_view text, std::string_view source) {
  JobCounter counter;
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    parser.HandleNextDocument(counter);
  } catch (const JobCounter::TooMany&) {
    return Error{std::string(source), counter.line, "jobs",
                 "the workload lists more than " + std::to_string(kMaxJobs) +
                     " jobs, the most one may have"};
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

Result<Workload> parse_workload_impl(std::string_view text, std::string_view source,
                                     std::string_view base_dir) {
  if (auto e = too_many_jobs(text, source)) return *e;
  auto doc = formats::parse_yaml_document(text, source);
  if (!doc) return doc.error();
  const YAML::Node root = *doc;
  const YamlChecker c(source);
  if (!root.IsDefined() || root.IsNull()) {
    return c.error_at_line(0, "", "empty workload; expected a \"jobs\" list");
  }
  if (auto s = c.check_map(root, "", {"name", "defaults", "jobs"}); !s) return s.error();
  Workload workload;
  workload.source = std::string(source);
  workload.base_dir = std::string(base_dir);
  if (const YAML::Node name = root["name"]) {
    auto n = c.get_string(name, "name", true);
    if (!n) return n.error();
    workload.name = *n;
  }
  std::vector<Entry> defaults;
  if (const YAML::Node node = root["defaults"]) {
    auto d = collect(c, node, "defaults", true);
    if (!d) return d.error();
    defaults = std::move(*d);
  }
  const YAML::Node jobs = root["jobs"];
  if (!jobs) return c.error(root, "jobs", "missing required key \"jobs\"");
  if (!jobs.IsSequence()) {
    return c.error(jobs, "jobs", "expected a list of jobs, got " + formats::describe_yaml(jobs));
  }
  if (jobs.size() == 0) return c.error(jobs, "jobs", "the workload has no jobs");

  std::map<std::string, Origin> names;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const std::string field = "jobs[" + std::to_string(i) + "]";
    auto own = collect(c, jobs[i], field, false);
    if (!own) return own.error();
    std::vector<Entry> merged = defaults;
    for (Entry& e : *own) {
      auto it = std::find_if(merged.begin(), merged.end(),
                             [&](const Entry& m) { return m.key == e.key; });
      if (it != merged.end()) {
        *it = std::move(e);
      } else {
        merged.push_back(std::move(e));
      }
    }
    if (auto s = expand_job(c, jobs[i], field, merged, workload.jobs, names); !s) {
      return s.error();
    }
  }
  for (JobSpec& job : workload.jobs) {
    if (Status s = resolve_job_model(job, workload.source, workload.base_dir); !s) return s.error();
  }
  return workload;
}

}  // namespace

Result<Workload> parse_workload_yaml(std::string_view text, std::string_view source,
                                     std::string_view base_dir) {
  try {
    return parse_workload_impl(text, source, base_dir);
  } catch (const std::exception& e) {
    // yaml-cpp throws on some node accesses; the checks above are meant to make this unreachable.
    return Error{std::string(source), 0, "", std::string("cannot read workload: ") + e.what()};
  }
}

Result<Workload> load_workload_yaml(const std::string& path) {
  auto text = formats::read_text_file(path, formats::kMaxYamlFileBytes);
  if (!text) return text.error();
  auto workload = parse_workload_yaml(*text, path, formats::directory_of(path));
  if (workload && workload->name.empty()) {
    workload->name = std::filesystem::path(path).stem().string();
  }
  return workload;
}

nlohmann::json job_to_json(const JobSpec& job, const std::string& workload_name,
                           const std::string& base_dir) {
  using nlohmann::json;
  // Data paths become absolute, so the file works wherever it is written.
  const auto absolute = [&](const std::string& path) {
    if (path.empty()) return path;
    const std::filesystem::path p(path);
    return std::filesystem::absolute(p.is_absolute() ? p : std::filesystem::path(base_dir) / p)
        .lexically_normal()
        .string();
  };
  json data = {{"format", job.data.format}};
  if (!job.data.name.empty()) data["name"] = job.data.name;
  if (!job.data.path.empty()) data["path"] = absolute(job.data.path);
  if (job.data.seq_len > 0) data["seq_len"] = job.data.seq_len;
  if (job.data.image_size > 0) data["image_size"] = job.data.image_size;
  if (job.data.samples > 0) data["samples"] = job.data.samples;
  if (!job.data.tokenizer.empty()) {
    data["tokenizer"] =
        job.data.tokenizer == "bytes" ? job.data.tokenizer : absolute(job.data.tokenizer);
  }
  json j = {{"name", job.name},
            {"model", job.model},
            {"optimizer", job.optimizer},
            {"lr", job.lr},
            {"weight_decay", job.weight_decay},
            {"momentum", job.momentum},
            {"warmup_steps", job.warmup_steps},
            {"grad_clip", job.grad_clip},
            {"grad_accum", job.grad_accum},
            {"batch_size", job.batch_size},
            {"eval_every", job.eval_every},
            {"seed", job.seed},
            {"gpus", job.gpus},
            {"techniques", job.techniques}};
  if (!job.data.format.empty()) j["data"] = std::move(data);
  if (!job.init.empty()) {
    j["init"] = {{"path", absolute(job.init.path)}, {"vocab", job.init.vocab}};
    if (job.init.classes > 0) j["init"]["classes"] = job.init.classes;
  }
  if (job.steps > 0) {
    j["steps"] = job.steps;
  } else {
    j["epochs"] = job.epochs;
  }
  return json{{"name", workload_name}, {"jobs", json::array({std::move(j)})}};
}

}  // namespace saturn
