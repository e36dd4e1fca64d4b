// Plan JSON: writing the planner's output and reading it back (for reports, re-planning and
// tests). Format reference: docs/formats.md#plan.
//
// A non-finite gap (no positive lower bound) is written as null and read back as +infinity;
// every other number must be finite.
#include <climits>
#include <cmath>
#include <exception>
#include <limits>

#include "formats/common.h"
#include "formats/json_fields.h"
#include "saturn/plan.h"

namespace saturn {

double Plan::mean_completion_s() const {
  if (assignments.empty()) return 0;
  double sum = 0;
  for (const Assignment& a : assignments) sum += a.end_s;
  return sum / static_cast<double>(assignments.size());
}

nlohmann::json to_json(const Plan& plan) {
  using nlohmann::json;
  json assignments = json::array();
  for (const Assignment& a : plan.assignments) {
    assignments.push_back({{"task", a.task},
                           {"technique", a.technique},
                           {"config", a.config},
                           {"node", a.node},
                           {"gpus", a.gpus},
                           {"start_s", a.start_s},
                           {"end_s", a.end_s}});
  }
  json solver = {
      {"name", plan.solver.name}, {"status", plan.solver.status}, {"solve_s", plan.solver.solve_s}};
  if (!plan.solver.warning.empty()) solver["warning"] = plan.solver.warning;
  return {{"makespan_s", plan.makespan_s},
          {"lower_bound_s", plan.lower_bound_s},
          {"gap", std::isfinite(plan.gap) ? json(plan.gap) : json(nullptr)},
          {"solver", std::move(solver)},
          {"assignments", std::move(assignments)}};
}

namespace {

using formats::JsonChecker;
using formats::JsonPath;
using nlohmann::json;

Status read_required(const JsonChecker& check, const json& value, const JsonPath& at,
                     std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (auto s = check.require(value, at, key); !s) return s;
  }
  return Status::Ok();
}

Result<Assignment> read_assignment(const JsonChecker& check, const json& value,
                                   const JsonPath& at) {
  if (auto s = check.check_object(
          value, at, {"task", "technique", "config", "node", "gpus", "start_s", "end_s"});
      !s) {
    return s.error();
  }
  if (auto s = read_required(check, value, at,
                             {"task", "technique", "config", "node", "gpus", "start_s", "end_s"});
      !s) {
    return s.error();
  }
  Assignment a;
  auto task = check.get_string(value["task"], at / "task", true);
  if (!task) return task.error();
  a.task = *task;
  auto technique = check.get_string(value["technique"], at / "technique", true);
  if (!technique) return technique.error();
  a.technique = *technique;
  auto config = check.get_int(value["config"], at / "config", 0, INT_MAX);
  if (!config) return config.error();
  a.config = static_cast<int>(*config);
  auto node = check.get_string(value["node"], at / "node", true);
  if (!node) return node.error();
  a.node = *node;
  const json& gpus = value["gpus"];
  if (auto s = check.check_array(gpus, at / "gpus", true); !s) return s.error();
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    auto gpu = check.get_int(gpus[i], at / "gpus" / i, 0, formats::kMaxGpusPerNode - 1);
    if (!gpu) return gpu.error();
    if (!a.gpus.empty() && *gpu <= a.gpus.back()) {
      return check.error(at / "gpus" / i, "GPU indices must be ascending and distinct");
    }
    a.gpus.push_back(static_cast<int>(*gpu));
  }
  auto start = check.get_number(value["start_s"], at / "start_s", 0, false);
  if (!start) return start.error();
  a.start_s = *start;
  auto end = check.get_number(value["end_s"], at / "end_s", 0, false);
  if (!end) return end.error();
  if (*end < a.start_s) {
    return check.error(at / "end_s", "ends (" + formats::format_number(*end) +
                                         ") before it starts (" +
                                         formats::format_number(a.start_s) + ")");
  }
  a.end_s = *end;
  return a;
}

Result<Plan> read_plan(const JsonChecker& check, const json& doc) {
  const JsonPath root;
  const auto keys = {"makespan_s", "lower_bound_s", "gap", "solver", "assignments"};
  if (auto s = check.check_object(doc, root,
                                  {"makespan_s", "lower_bound_s", "gap", "solver", "assignments"});
      !s) {
    return s.error();
  }
  if (auto s = read_required(check, doc, root, keys); !s) return s.error();
  Plan plan;
  auto makespan = check.get_number(doc["makespan_s"], root / "makespan_s", 0, false);
  if (!makespan) return makespan.error();
  plan.makespan_s = *makespan;
  auto bound = check.get_number(doc["lower_bound_s"], root / "lower_bound_s", 0, false);
  if (!bound) return bound.error();
  plan.lower_bound_s = *bound;
  if (doc["gap"].is_null()) {
    plan.gap = std::numeric_limits<double>::infinity();
  } else {
    auto gap = check.get_number(doc["gap"], root / "gap", -HUGE_VAL, true);
    if (!gap) return gap.error();
    plan.gap = *gap;
  }

  const json& solver = doc["solver"];
  const JsonPath at = root / "solver";
  if (auto s = check.check_object(solver, at, {"name", "status", "solve_s", "warning"}); !s) {
    return s.error();
  }
  if (auto s = read_required(check, solver, at, {"name", "status", "solve_s"}); !s) {
    return s.error();
  }
  auto name = check.get_string(solver["name"], at / "name", false);
  if (!name) return name.error();
  plan.solver.name = *name;
  auto status = check.get_string(solver["status"], at / "status", false);
  if (!status) return status.error();
  plan.solver.status = *status;
  auto solve_s = check.get_number(solver["solve_s"], at / "solve_s", 0, false);
  if (!solve_s) return solve_s.error();
  plan.solver.solve_s = *solve_s;
  if (solver.contains("warning")) {
    auto warning = check.get_string(solver["warning"], at / "warning", false);
    if (!warning) return warning.error();
    plan.solver.warning = *warning;
  }

  const json& assignments = doc["assignments"];
  if (auto s = check.check_array(assignments, root / "assignments", false); !s) return s.error();
  for (std::size_t i = 0; i < assignments.size(); ++i) {
    auto a = read_assignment(check, assignments[i], root / "assignments" / i);
    if (!a) return a.error();
    plan.assignments.push_back(std::move(*a));
  }
  return plan;
}

}  // namespace

Result<Plan> parse_plan_json(std::string_view text, std::string_view source) {
  try {
    auto doc = formats::parse_json_document(text, source);
    if (!doc) return doc.error();
    const JsonChecker check(text, source);
    return read_plan(check, *doc);
  } catch (const std::exception& e) {
    return Error{std::string(source), 0, "", std::string("cannot read plan: ") + e.what()};
  }
}

Result<Plan> load_plan_json(const std::string& path) {
  auto text = formats::read_text_file(path);
  if (!text) return text.error();
  return parse_plan_json(*text, path);
}

}  // namespace saturn
