// Calibration files: the estimator's efficiency factors per GPU type, each with its source.
// Reader with file:line:field errors, and the built-in copy of calibration/default.yaml.
// Format: docs/estimator.md#calibration-file.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "estimator/default_calibration_yaml.h"
#include "formats/common.h"
#include "formats/yaml_fields.h"
#include "saturn/estimator.h"

namespace saturn {
namespace {

using formats::YamlChecker;

// One key of a GPU entry: its name, where it lives, and its allowed range.
struct FieldSpec {
  const char* key;
  CalibratedValue GpuCalibration::*member;
  double min;
  bool min_exclusive;
  double max;  // inclusive; HUGE_VAL: unbounded
};

const std::vector<FieldSpec>& gpu_fields() {
  static const std::vector<FieldSpec> fields = {
      {"transformer_mfu", &GpuCalibration::transformer_mfu, 0, true, 1},
      {"conv_mfu", &GpuCalibration::conv_mfu, 0, true, 1},
      {"transformer_block_overhead_s", &GpuCalibration::transformer_block_overhead_s, 0, false,
       HUGE_VAL},
      {"conv_block_overhead_s", &GpuCalibration::conv_block_overhead_s, 0, false, HUGE_VAL},
      {"hbm_efficiency", &GpuCalibration::hbm_efficiency, 0, true, 1},
      {"collective_efficiency", &GpuCalibration::collective_efficiency, 0, true, 1},
      {"host_link_efficiency", &GpuCalibration::host_link_efficiency, 0, true, 1},
      {"comm_overlap", &GpuCalibration::comm_overlap, 0, false, 1},
      {"cpu_adam_params_per_s", &GpuCalibration::cpu_adam_params_per_s, 0, true, HUGE_VAL},
      {"usable_memory_fraction", &GpuCalibration::usable_memory_fraction, 0, true, 1},
      {"framework_overhead_bytes", &GpuCalibration::framework_overhead_bytes, 0, false, HUGE_VAL},
      {"checkpoint_write_bytes_per_s", &GpuCalibration::checkpoint_write_bytes_per_s, 0, true,
       HUGE_VAL},
      {"checkpoint_read_bytes_per_s", &GpuCalibration::checkpoint_read_bytes_per_s, 0, true,
       HUGE_VAL},
      {"process_start_s", &GpuCalibration::process_start_s, 0, false, HUGE_VAL},
      {"warmup_s", &GpuCalibration::warmup_s, 0, false, HUGE_VAL},
      {"warmup_steps", &GpuCalibration::warmup_steps, 0, false, HUGE_VAL},
  };
  return fields;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `{value: <number>, source: <non-empty string>}`.
Result<CalibratedValue> read_value(const YamlChecker& c, const YAML::Node& node,
                                   const std::string& field, double min, bool min_exclusive,
                                   double max) {
  if (!node.IsMap()) {
    return c.error(node, field,
                   "expected {value: <number>, source: \"<where it comes from>\"}, got " +
                       formats::describe_yaml(node));
  }
  if (auto s = c.check_map(node, field, {"value", "source"}); !s) return s.error();
  if (!node["value"]) return c.error(node, field + ".value", "missing required key \"value\"");
  if (!node["source"]) {
    return c.error(node, field + ".source",
                   "missing required key \"source\" (say where the value comes from)");
  }
  auto value = c.get_number(node["value"], field + ".value", min, min_exclusive);
  if (!value) return value.error();
  if (*value > max) {
    return c.error(node["value"], field + ".value",
                   fmt::format("must be <= {}, got {}", max, node["value"].Scalar()));
  }
  auto source = c.get_string(node["source"], field + ".source", true);
  if (!source) return source.error();
  return CalibratedValue{*value, *source};
}

Result<GpuCalibration> read_gpu_entry(const YamlChecker& c, const YAML::Node& node,
                                      const std::string& field, const std::string& name,
                                      const GpuCalibration* defaults) {
  std::vector<std::string_view> allowed;
  for (const FieldSpec& f : gpu_fields()) allowed.push_back(f.key);
  if (auto s = c.check_map(node, field, allowed); !s) return s.error();
  GpuCalibration entry = defaults ? *defaults : GpuCalibration{};
  entry.gpu = name;
  for (const FieldSpec& f : gpu_fields()) {
    const YAML::Node value = node[f.key];
    if (!value) {
      if (defaults) continue;
      return c.error(node, field + "." + f.key,
                     std::string("missing required key \"") + f.key +
                         "\" (the default entry must give every key)");
    }
    auto v = read_value(c, value, field + "." + f.key, f.min, f.min_exclusive, f.max);
    if (!v) return v.error();
    entry.*f.member = std::move(*v);
  }
  return entry;
}

Result<Calibration> parse_impl(std::string_view text, std::string_view source) {
  auto doc = formats::parse_yaml_document(text, source);
  if (!doc) return doc.error();
  const YAML::Node root = *doc;
  const YamlChecker c(source);
  if (!root.IsDefined() || root.IsNull()) {
    return c.error_at_line(0, "", "empty calibration; expected text_bytes_per_token and gpus");
  }
  if (auto s = c.check_map(root, "", {"name", "text_bytes_per_token", "gpus"}); !s) {
    return s.error();
  }
  if (const YAML::Node name = root["name"]) {
    if (auto n = c.get_string(name, "name", true); !n) return n.error();
  }
  Calibration cal;
  cal.source = std::string(source);
  if (!root["text_bytes_per_token"]) {
    return c.error(root, "text_bytes_per_token", "missing required key \"text_bytes_per_token\"");
  }
  auto bpt = read_value(c, root["text_bytes_per_token"], "text_bytes_per_token", 0, true, HUGE_VAL);
  if (!bpt) return bpt.error();
  cal.text_bytes_per_token = *bpt;

  const YAML::Node gpus = root["gpus"];
  if (!gpus) return c.error(root, "gpus", "missing required key \"gpus\"");
  if (!gpus.IsMap()) {
    return c.error(gpus, "gpus",
                   "expected a map of GPU types, got " + formats::describe_yaml(gpus));
  }
  // check_map with every key allowed: catches duplicates and null values.
  std::vector<std::string> names;
  for (const auto& kv : gpus) names.push_back(formats::yaml_key(kv.first));
  std::vector<std::string_view> allowed(names.begin(), names.end());
  if (auto s = c.check_map(gpus, "gpus", allowed); !s) return s.error();

  const YAML::Node def = gpus["default"];
  if (!def) {
    return c.error(gpus, "gpus.default",
                   "missing required entry \"default\" (used for GPU types not listed)");
  }
  auto defaults = read_gpu_entry(c, def, "gpus.default", "default", nullptr);
  if (!defaults) return defaults.error();
  cal.defaults = *defaults;
  for (const auto& kv : gpus) {
    const std::string key = formats::yaml_key(kv.first);
    if (key == "default") continue;
    const std::string name = lower(key);
    for (const GpuCalibration& seen : cal.gpus) {
      if (seen.gpu == name) {
        return c.error(kv.first, "gpus." + key,
                       "GPU type \"" + key + "\" is listed twice (names are case-insensitive)");
      }
    }
    auto entry = read_gpu_entry(c, kv.second, "gpus." + key, name, &cal.defaults);
    if (!entry) return entry.error();
    cal.gpus.push_back(std::move(*entry));
  }
  return cal;
}

}  // namespace

const GpuCalibration& Calibration::for_gpu(std::string_view gpu_type) const {
  for (const GpuCalibration& g : gpus) {
    if (formats::iequals(g.gpu, gpu_type)) return g;
  }
  return defaults;
}

Result<Calibration> parse_calibration_yaml(std::string_view text, std::string_view source) {
  try {
    return parse_impl(text, source);
  } catch (const std::exception& e) {
    return Error{std::string(source), 0, "", std::string("cannot read calibration: ") + e.what()};
  }
}

Result<Calibration> load_calibration(const std::string& path) {
  auto text = formats::read_text_file(path, formats::kMaxYamlFileBytes);
  if (!text) return text.error();
  return parse_calibration_yaml(*text, path);
}

std::vector<std::pair<std::string, CalibratedValue>> calibration_entries(
    const Calibration& calibration) {
  std::vector<std::pair<std::string, CalibratedValue>> out;
  out.emplace_back("text_bytes_per_token", calibration.text_bytes_per_token);
  std::vector<const GpuCalibration*> entries = {&calibration.defaults};
  for (const GpuCalibration& g : calibration.gpus) entries.push_back(&g);
  for (const GpuCalibration* g : entries) {
    for (const FieldSpec& f : gpu_fields()) {
      out.emplace_back("gpus." + g->gpu + "." + f.key, (*g).*f.member);
    }
  }
  return out;
}

Calibration default_calibration() {
  static const Calibration cal = [] {
    Result<Calibration> parsed =
        parse_calibration_yaml(kDefaultCalibrationYaml, "built-in calibration/default.yaml");
    // The file is checked by the tests (Calibration.BuiltInDefaultsAreTheShippedFile); a broken
    // build is the only way here.
    if (!parsed.ok()) {
      fmt::print(stderr, "saturn: {}\n", parsed.error().to_string());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return cal;
}

}  // namespace saturn
