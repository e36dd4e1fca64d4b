// Finds where things are in raw JSON text, for error messages. nlohmann::json keeps no source
// positions, so after a document has parsed, the readers ask this scanner for the line of the
// value an error is about. Self-contained: it tracks strings and escapes, objects, arrays, keys
// and indices, and never throws; malformed text just yields "not found".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saturn::json_locate {

// 1-based line of the byte at 0-based `offset`; offsets past the end give the last line.
int line_at_offset(std::string_view text, std::size_t offset);

// A path from the root: object keys and array indices (as decimal text), e.g.
// {"tasks", "2", "configs", "0", "runtime_s"}. Empty: the root value.
using Path = std::vector<std::string>;

// Splits "tasks/2/configs/0/runtime_s" (a leading '/' is allowed; "~1" and "~0" stand for '/'
// and '~' inside keys, as in JSON Pointer).
Path split_path(std::string_view path);

// 1-based line where the value at `path` starts, or 0 when the text holds no such value.
// Keys are compared after decoding escapes. When a key occurs twice, the first one counts.
int line_of(std::string_view text, const Path& path);
int line_of(std::string_view text, std::string_view path);

struct DuplicateKey {
  Path path;           // path of the second occurrence, its key last
  std::string field;   // the same as a field name: "tasks[1].configs[0].gpus"
  int line = 0;        // 1-based line of the second occurrence's key
  int first_line = 0;  // 1-based line of the first occurrence's key
};

// The first key, in document order, that occurs twice in the same object; nullopt when none.
// Nesting deeper than 512 levels is not scanned.
std::optional<DuplicateKey> find_duplicate_key(std::string_view text);

}  // namespace saturn::json_locate
