// make_policy() and policy_names(): the one place that knows every policy by name.
#include <fmt/format.h>

#include "saturn/policy.h"

namespace saturn {
namespace sim {
std::unique_ptr<Policy> make_saturn_policy();
std::unique_ptr<Policy> make_current_practice_policy();
std::unique_ptr<Policy> make_longest_first_policy();
std::unique_ptr<Policy> make_random_policy(std::uint64_t seed);
std::unique_ptr<Policy> make_optimus_policy();
std::unique_ptr<Policy> make_optimus_dynamic_policy();
}  // namespace sim

const std::vector<std::string>& policy_names() {
  static const std::vector<std::string> names = {"current-practice", "longest-first",   "random",
                                                 "optimus",          "optimus-dynamic", "saturn"};
  return names;
}

Result<std::unique_ptr<Policy>> make_policy(std::string_view name, std::uint64_t seed) {
  if (name == "saturn") return sim::make_saturn_policy();
  if (name == "current-practice") return sim::make_current_practice_policy();
  if (name == "longest-first") return sim::make_longest_first_policy();
  if (name == "random") return sim::make_random_policy(seed);
  if (name == "optimus") return sim::make_optimus_policy();
  if (name == "optimus-dynamic") return sim::make_optimus_dynamic_policy();
  return Error{"", 0, "policy",
               fmt::format("unknown policy '{}' (expected {} or all)", name,
                           fmt::join(policy_names(), ", "))};
}

}  // namespace saturn
