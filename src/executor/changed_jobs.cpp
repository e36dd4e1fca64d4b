// A workload edited between runs of one run directory; see saturn/executor.h's
// reset_changed_jobs.
#include <ctime>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "saturn/executor.h"
#include "saturn/run_events.h"
#include "saturn/run_layout.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// "lr 0.001 -> 0.0003; data.seq_len 32 -> 64": the leaves of two JSON objects that differ.
void differences(const json& before, const json& after, const std::string& prefix,
                 std::string* out) {
  std::map<std::string, std::pair<json, json>> keys;
  for (const auto& [k, v] : before.items()) keys[k].first = v;
  for (const auto& [k, v] : after.items()) keys[k].second = v;
  for (const auto& [k, pair] : keys) {
    const auto& [a, b] = pair;
    if (a == b) continue;
    if (a.is_object() && b.is_object()) {
      differences(a, b, prefix + k + ".", out);
      continue;
    }
    *out += fmt::format("{}{}{} {} -> {}", out->empty() ? "" : "; ", prefix, k,
                        a.is_null() ? "(none)" : a.dump(), b.is_null() ? "(none)" : b.dump());
  }
}

}  // namespace

Result<std::vector<ChangedJob>> reset_changed_jobs(const Workload& workload, RunStore& store,
                                                   const std::string& run_dir, double now_s) {
  auto known = store.jobs();
  if (!known) return known.error();
  std::map<std::string, JobRecord> by_name;
  for (JobRecord& r : *known) by_name[r.name] = std::move(r);
  std::vector<ChangedJob> changed;
  for (const JobSpec& job : workload.jobs) {
    const json spec = job_spec(job, workload.base_dir);
    auto it = by_name.find(job.name);
    if (it == by_name.end() || it->second.spec.is_null()) {
      // New, or recorded by a Saturn that kept no spec: this is what it trains from now on.
      JobRecord rec = it == by_name.end() ? JobRecord{} : it->second;
      rec.name = job.name;
      rec.spec = spec;
      if (auto s = store.put_job(rec); !s) return s.error();
      continue;
    }
    if (it->second.spec == spec) continue;
    ChangedJob c;
    c.name = job.name;
    differences(it->second.spec, spec, "", &c.changes);
    auto dir = RunDir(run_dir).checkpoint_dir(job.name);
    if (!dir) return dir.error();
    std::error_code ec;
    if (fs::exists(*dir, ec)) {
      auto aside =
          RunDir(run_dir).superseded_dir(job.name, static_cast<long long>(std::time(nullptr)));
      if (!aside) return aside.error();
      c.set_aside = *aside;
      fs::create_directories(fs::path(c.set_aside).parent_path(), ec);
      if (!ec) fs::rename(*dir, c.set_aside, ec);
      if (ec) {
        return Error{*dir, 0, "",
                     fmt::format("job {} changed, and its checkpoints cannot be set aside: {}",
                                 job.name, ec.message()),
                     ErrorKind::kWrite};
      }
    }
    JobRecord fresh;
    fresh.name = job.name;
    fresh.spec = spec;
    if (auto s = store.put_job(fresh); !s) return s.error();
    if (auto s =
            store.add_event(job.name, 0, run_event::SpecChanged{c.changes, c.set_aside}.to_json());
        !s) {
      return s.error();
    }
    changed.push_back(std::move(c));
  }
  return changed;
}

}  // namespace saturn
