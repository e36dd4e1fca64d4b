// The built-in techniques by name; see technique.h. Each technique lives in its own file.
#include "techniques/technique.h"

namespace saturn::worker {

const Technique& single_technique();  // data_parallel.cpp
const Technique& ddp_technique();     // data_parallel.cpp
const Technique& offload_technique(); // offload.cpp
const Technique& fsdp_technique();    // fsdp.cpp
const Technique& gpipe_technique();   // gpipe.cpp

namespace {
const std::vector<const Technique*>& all() {
  static const std::vector<const Technique*> list = {&single_technique(), &ddp_technique(),
                                                     &fsdp_technique(), &gpipe_technique(),
                                                     &offload_technique()};
  return list;
}
}  // namespace

const Technique* find_technique(const std::string& name) {
  for (const Technique* t : all()) {
    if (t->name() == name) return t;
  }
  return nullptr;
}

std::vector<std::string> technique_names() {
  std::vector<std::string> names;
  for (const Technique* t : all()) names.push_back(t->name());
  return names;
}

}  // namespace saturn::worker
