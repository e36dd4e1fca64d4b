// Technique manifests and the library directory; see saturn/library.h.
#include "saturn/library.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "formats/common.h"
#include "formats/yaml_fields.h"
#include "saturn/atomic_file.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

const std::set<std::string, std::less<>> kPlaceholders = {"job",
                                                          "devices",
                                                          "gpus",
                                                          "params",
                                                          "steps",
                                                          "checkpoint",
                                                          "checkpoint_every",
                                                          "device_memory_bytes",
                                                          "dir",
                                                          "worker"};

bool valid_technique_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  return std::all_of(name.begin(), name.end(), ok) && name[0] != '.' && name[0] != '-' &&
         name[0] != '_';
}

// The placeholder names in `arg` ("{job}" -> "job"); an unterminated brace is reported as such.
Result<std::vector<std::string>> placeholders_in(std::string_view arg) {
  std::vector<std::string> names;
  for (std::size_t open = arg.find('{'); open != std::string_view::npos;
       open = arg.find('{', open + 1)) {
    const std::size_t close = arg.find('}', open);
    if (close == std::string_view::npos) return Error{"", 0, "", "a '{' without its '}'"};
    names.emplace_back(arg.substr(open + 1, close - open - 1));
    open = close;
  }
  return names;
}

Result<std::vector<std::string>> read_command(const formats::YamlChecker& check,
                                              const YAML::Node& node, const std::string& field) {
  if (!node.IsSequence() || node.size() == 0) {
    return check.error(node, field,
                       fmt::format("expected a non-empty list of arguments, got {}",
                                   formats::describe_yaml(node)));
  }
  std::vector<std::string> args;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", field, i);
    auto arg = check.get_string(node[i], at, i == 0);
    if (!arg) return arg.error();
    auto names = placeholders_in(*arg);
    if (!names) return check.error(node[i], at, names.error().message);
    for (const std::string& n : *names) {
      if (!kPlaceholders.count(n)) {
        return check.error(node[i], at,
                           fmt::format("unknown placeholder {{{}}} (known: {{job}}, {{devices}}, "
                                       "{{gpus}}, {{params}}, {{steps}}, {{checkpoint}}, "
                                       "{{checkpoint_every}}, {{device_memory_bytes}}, {{dir}}, "
                                       "{{worker}})",
                                       n));
      }
    }
    args.push_back(std::move(*arg));
  }
  return args;
}

}  // namespace

Result<TechniqueManifest> parse_technique_manifest(std::string_view text, std::string_view source,
                                                   std::string_view dir) {
  auto doc = formats::parse_yaml_document(text, source);
  if (!doc) return doc.error();
  const formats::YamlChecker check(source);
  const YAML::Node& root = *doc;
  if (!root.IsMap()) {
    return check.error(root, "", "a technique manifest must be a map (name, search, execute)");
  }
  if (auto s = check.check_map(root, "",
                               {"name", "description", "max_gpus", "search", "execute", "dir"});
      !s) {
    return s.error();
  }
  for (const char* key : {"name", "search", "execute"}) {
    if (!root[key]) return check.error(root, key, "missing (required)");
  }
  TechniqueManifest m;
  m.source = std::string(source);
  auto name = check.get_string(root["name"], "name", true);
  if (!name) return name.error();
  if (!valid_technique_name(*name)) {
    return check.error(root["name"], "name",
                       fmt::format("\"{}\" is not a technique name: lower-case letters, digits, "
                                   "'.', '_' and '-', starting with a letter or digit",
                                   *name));
  }
  m.name = *name;
  if (root["description"]) {
    auto d = check.get_string(root["description"], "description", false);
    if (!d) return d.error();
    m.description = *d;
  }
  if (root["max_gpus"]) {
    auto g = check.get_int(root["max_gpus"], "max_gpus", 1, 1 << 20);
    if (!g) return g.error();
    m.max_gpus = static_cast<int>(*g);
  }
  auto search = read_command(check, root["search"], "search");
  if (!search) return search.error();
  m.search = std::move(*search);
  auto execute = read_command(check, root["execute"], "execute");
  if (!execute) return execute.error();
  m.execute = std::move(*execute);
  m.dir = std::string(dir);
  if (root["dir"]) {
    auto d = check.get_string(root["dir"], "dir", true);
    if (!d) return d.error();
    m.dir = *d;
  }
  return m;
}

Result<TechniqueManifest> load_technique_manifest(const std::string& path) {
  auto text = formats::read_text_file(path, formats::kMaxYamlFileBytes);
  if (!text) return text.error();
  std::error_code ec;
  const fs::path dir = fs::absolute(fs::path(path), ec).parent_path();
  return parse_technique_manifest(*text, path, dir.string());
}

TechniqueManifest builtin_technique(const std::string& name) {
  TechniqueManifest m;
  m.name = name;
  m.builtin = true;
  m.source = "saturn-worker";
  m.description =
      name == "single"    ? "one device (saturn-worker)"
      : name == "ddp"     ? "data parallelism, one process per device (saturn-worker)"
      : name == "fsdp"    ? "fully sharded data parallelism, one process per device (saturn-worker)"
      : name == "gpipe"   ? "pipeline parallelism, one stage per device, fill-drain micro-batches "
                            "(saturn-worker)"
      : name == "offload" ? "parameters and optimizer in host memory, blocks streamed to one "
                            "device (saturn-worker)"
                          : "saturn-worker built-in";
  if (name == "single" || name == "offload") m.max_gpus = 1;
  const std::vector<std::string> common = {
      "--job",     "{job}",     "--technique",           name,
      "--devices", "{devices}", "--device-memory-bytes", "{device_memory_bytes}"};
  m.search = {"{worker}", "search"};
  m.search.insert(m.search.end(), common.begin(), common.end());
  m.execute = {"{worker}", "execute"};
  m.execute.insert(m.execute.end(), common.begin(), common.end());
  for (const char* extra : {"--params", "{params}", "--steps", "{steps}", "--checkpoint",
                            "{checkpoint}", "--checkpoint-every", "{checkpoint_every}"}) {
    m.execute.emplace_back(extra);
  }
  return m;
}

std::vector<std::string> expand_command(const std::vector<std::string>& command,
                                        const std::map<std::string, std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& arg : command) {
    std::string text;
    std::size_t pos = 0;
    for (std::size_t open; (open = arg.find('{', pos)) != std::string::npos;) {
      const std::size_t close = arg.find('}', open);
      if (close == std::string::npos) break;
      text += arg.substr(pos, open - pos);
      const auto it = values.find(arg.substr(open + 1, close - open - 1));
      text += it != values.end() ? it->second : arg.substr(open, close - open + 1);
      pos = close + 1;
    }
    text += arg.substr(pos);
    out.push_back(std::move(text));
  }
  return out;
}

std::string Library::default_dir() {
  if (const char* p = std::getenv("SATURN_LIBRARY_PATH"); p && *p) return p;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    return (fs::path(x) / "saturn" / "library").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".local" / "share" / "saturn" / "library")
      .string();
}

Result<Library> Library::open(const std::string& dir, const std::vector<std::string>& builtins) {
  Library lib;
  lib.dir_ = dir;
  for (const std::string& b : builtins) lib.techniques_.push_back(builtin_technique(b));
  std::error_code ec;
  if (!fs::exists(dir, ec)) return lib;
  if (!fs::is_directory(dir, ec)) {
    return Error{dir, 0, "", "the technique library path is not a directory"};
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  if (ec) return Error{dir, 0, "", fmt::format("cannot list the library: {}", ec.message())};
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    auto m = load_technique_manifest(f.string());
    if (!m) return m.error();
    if (lib.find(m->name)) {
      return Error{f.string(), 0, "name",
                   fmt::format("technique \"{}\" is already defined (a built-in or another "
                               "manifest)",
                               m->name)};
    }
    lib.techniques_.push_back(std::move(*m));
  }
  return lib;
}

const TechniqueManifest* Library::find(std::string_view name) const {
  for (const TechniqueManifest& t : techniques_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<TechniqueManifest> Library::add(const std::string& path) {
  auto m = load_technique_manifest(path);
  if (!m) return m.error();
  if (const TechniqueManifest* existing = find(m->name); existing && existing->builtin) {
    return Error{path, 0, "name",
                 fmt::format("\"{}\" is a built-in technique; pick another name", m->name)};
  }
  auto text = formats::read_text_file(path, formats::kMaxYamlFileBytes);
  if (!text) return text.error();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return Error{dir_, 0, "", fmt::format("cannot create the library directory: {}", ec.message())};
  }
  // The stored copy remembers where the original lives, so {dir} still finds its scripts.
  YAML::Node doc = YAML::Load(*text);
  doc["dir"] = m->dir;
  YAML::Emitter out;
  out << doc;
  const std::string stored = (fs::path(dir_) / (m->name + ".yaml")).string();
  const std::string header =
      fmt::format("# Registered by `saturn library add {}`.\n", fs::absolute(path, ec).string());
  if (auto s = write_file_atomically(stored, header + out.c_str() + "\n"); !s) return s.error();
  techniques_.erase(std::remove_if(techniques_.begin(), techniques_.end(),
                                   [&](const TechniqueManifest& t) { return t.name == m->name; }),
                    techniques_.end());
  m->source = stored;
  techniques_.push_back(*m);
  return m;
}

Status Library::remove(const std::string& name) {
  const TechniqueManifest* t = find(name);
  if (!t) return Error{"", 0, "", fmt::format("no technique \"{}\" in {}", name, dir_)};
  if (t->builtin) {
    return Error{"", 0, "", fmt::format("\"{}\" is built into saturn-worker", name)};
  }
  std::error_code ec;
  if (!fs::remove(t->source, ec) || ec) {
    return Error{t->source, 0, "", fmt::format("cannot remove: {}", ec ? ec.message() : "gone")};
  }
  const std::string n = name;
  techniques_.erase(std::remove_if(techniques_.begin(), techniques_.end(),
                                   [&](const TechniqueManifest& x) { return x.name == n; }),
                    techniques_.end());
  return Status::Ok();
}

}  // namespace saturn
