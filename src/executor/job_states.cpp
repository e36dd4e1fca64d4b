// The job states `saturn run` records before executing; see saturn/executor.h.
#include <map>

#include "saturn/executor.h"
#include "saturn/run_events.h"

namespace saturn {
namespace {

// The stored records by name.
Result<std::map<std::string, JobRecord>> records(RunStore& store) {
  auto known = store.jobs();
  if (!known) return known.error();
  std::map<std::string, JobRecord> by_name;
  for (JobRecord& k : *known) by_name[k.name] = std::move(k);
  return by_name;
}

}  // namespace

Status mark_profiling(const Workload& workload, RunStore& store) {
  auto by_name = records(store);
  if (!by_name) return by_name.error();
  for (const JobSpec& job : workload.jobs) {
    JobRecord rec;
    rec.name = job.name;
    if (auto k = by_name->find(job.name); k != by_name->end()) rec = k->second;
    if (rec.state == JobStatus::kDone) continue;
    rec.state = JobStatus::kProfiling;
    if (auto s = store.put_job(rec); !s) return s;
  }
  return Status::Ok();
}

Result<InfeasibleCount> mark_infeasible(RunStore& store,
                                        const std::vector<InfeasibleJob>& infeasible,
                                        double now_s) {
  auto by_name = records(store);
  if (!by_name) return by_name.error();
  InfeasibleCount count;
  for (const InfeasibleJob& bad : infeasible) {
    JobRecord rec;
    rec.name = bad.job;
    if (auto k = by_name->find(bad.job); k != by_name->end()) rec = k->second;
    if (rec.state == JobStatus::kDone) {
      ++count.done;
      continue;
    }
    rec.state = JobStatus::kFailed;
    rec.error = "infeasible: " + bad.reason;
    if (auto s = store.put_job(rec); !s) return s.error();
    if (auto s = store.add_event(bad.job, now_s, run_event::Infeasible{bad.reason}.to_json()); !s) {
      return s.error();
    }
    ++count.failed;
  }
  return count;
}

}  // namespace saturn
