// Technique manifests and the library directory: valid manifests load, bad ones are errors with
// file, line and field; registrations persist; built-ins cannot be shadowed or removed.
#include "saturn/library.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace saturn {
namespace {

namespace fs = std::filesystem;

fs::path fresh(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("saturn_library_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

constexpr const char* kManifest =
    "name: torch-fsdp\n"
    "description: PyTorch FSDP via torchrun\n"
    "max_gpus: 8\n"
    "search: [python3, \"{dir}/fsdp.py\", search, --job, \"{job}\", --devices, \"{devices}\"]\n"
    "execute: [torchrun, \"--nproc-per-node={gpus}\", \"{dir}/fsdp.py\", --params, \"{params}\"]\n";

TEST(TechniqueManifest, ParsesAndExpandsPlaceholders) {
  auto m = parse_technique_manifest(kManifest, "m.yaml", "/opt/fsdp");
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->name, "torch-fsdp");
  EXPECT_EQ(m->max_gpus, 8);
  const auto argv = expand_command(
      m->execute, {{"dir", m->dir}, {"gpus", "4"}, {"params", "{\"grad_accum\": 2}"}});
  EXPECT_EQ(argv, (std::vector<std::string>{"torchrun", "--nproc-per-node=4", "/opt/fsdp/fsdp.py",
                                            "--params", "{\"grad_accum\": 2}"}));
}

TEST(TechniqueManifest, BadManifestsNameFileLineAndField) {
  struct Case {
    std::string text, expect;
  };
  const std::vector<Case> cases = {
      {"name: x\nsearch: [a]\n", "m.yaml:1: execute: missing"},
      {"name: Bad Name\nsearch: [a]\nexecute: [b]\n", "m.yaml:1: name: \"Bad Name\" is not"},
      {"name: x\nsearch: [a, \"{jobb}\"]\nexecute: [b]\n",
       "m.yaml:2: search[1]: unknown placeholder {jobb}"},
      {"name: x\nsearch: []\nexecute: [b]\n", "m.yaml:2: search: expected a non-empty list"},
      {"name: x\nsearch: [a]\nexecute: [b]\nexec: [c]\n", "m.yaml:4: exec"},
      {"name: x\nsearch: [a\n", "m.yaml:"},
  };
  for (const Case& c : cases) {
    auto m = parse_technique_manifest(c.text, "m.yaml", ".");
    ASSERT_FALSE(m.ok()) << c.text;
    EXPECT_NE(m.error().to_string().find(c.expect), std::string::npos)
        << m.error().to_string() << "\nexpected: " << c.expect;
  }
}

TEST(Library, AddListRemovePersistAcrossOpens) {
  const fs::path dir = fresh("persist");
  const fs::path src = dir / "src";
  fs::create_directories(src);
  std::ofstream(src / "fsdp.yaml") << kManifest;
  const std::string lib_dir = (dir / "lib").string();
  {
    auto lib = Library::open(lib_dir, {"single", "ddp"});
    ASSERT_TRUE(lib.ok());
    EXPECT_EQ(lib->techniques().size(), 2u);
    auto added = lib->add((src / "fsdp.yaml").string());
    ASSERT_TRUE(added.ok()) << added.error().to_string();
  }
  auto lib = Library::open(lib_dir, {"single", "ddp", "fsdp", "offload"});
  ASSERT_TRUE(lib.ok()) << lib.error().to_string();
  const TechniqueManifest* t = lib->find("torch-fsdp");
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->builtin);
  EXPECT_EQ(fs::path(t->dir), fs::absolute(src));  // {dir} still finds the scripts
  EXPECT_TRUE(lib->find("ddp")->builtin);
  EXPECT_EQ(lib->find("single")->max_gpus, 1);
  EXPECT_EQ(lib->find("offload")->max_gpus, 1);  // one device; fsdp and ddp take any number
  EXPECT_EQ(lib->find("fsdp")->max_gpus, lib->find("ddp")->max_gpus);
  EXPECT_FALSE(lib->remove("ddp").ok());
  ASSERT_TRUE(lib->remove("torch-fsdp").ok());
  auto reopened = Library::open(lib_dir, {"single", "ddp"});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->find("torch-fsdp"), nullptr);
}

TEST(Library, BuiltinNamesCannotBeTakenAndBadFilesAreNamed) {
  const fs::path dir = fresh("clash");
  std::ofstream(dir / "ddp.yaml") << "name: ddp\nsearch: [a]\nexecute: [b]\n";
  auto lib = Library::open(dir.string(), {"ddp"});
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.error().to_string().find("ddp.yaml"), std::string::npos);
  auto empty = Library::open((dir / "none").string(), {"ddp"});
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->add((dir / "ddp.yaml").string()).ok());
  std::ofstream(dir / "broken.yaml") << "name: [\n";
  fs::remove(dir / "ddp.yaml");
  auto broken = Library::open(dir.string(), {});
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().to_string().find("broken.yaml"), std::string::npos);
}

TEST(Library, BuiltinsRunSaturnWorker) {
  const TechniqueManifest ddp = builtin_technique("ddp");
  const auto argv = expand_command(ddp.search, {{"worker", "/w"},
                                                {"job", "/j.json"},
                                                {"devices", "cpu:0,cpu:1"},
                                                {"device_memory_bytes", "0"}});
  EXPECT_EQ(argv,
            (std::vector<std::string>{"/w", "search", "--job", "/j.json", "--technique", "ddp",
                                      "--devices", "cpu:0,cpu:1", "--device-memory-bytes", "0"}));
}

}  // namespace
}  // namespace saturn
