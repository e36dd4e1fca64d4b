// A single-pass JSON scanner that reports positions: the line of the value at a path, and keys
// that occur twice in one object. See json_locate.h.
#include "formats/json_locate.h"

#include <map>

namespace saturn::json_locate {
namespace {

constexpr int kMaxDepth = 512;

// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Walks the document once. In "locate" mode it stops at the value whose path equals `target`;
// in "duplicates" mode at the first repeated key. Any malformed input ends the walk.
class Scanner {
 public:
  Scanner(std::string_view text, const Path* target) : text_(text), target_(target) {}

  void run() {
    skip_ws();
    value(0);
  }

  int found_line = 0;
  std::optional<DuplicateKey> duplicate;

 private:
  bool done() const { return stop_ || pos_ >= text_.size(); }

  void skip_ws() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        return;
      }
      ++pos_;
    }
  }

  // Reads a string starting at '"'; decodes it into `out` when `out` is non-null.
  bool string(std::string* out) {
    if (pos_ >= text_.size() || text_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c == '\n') ++line_;  // invalid JSON, but keep the count honest
      if (c != '\\') {
        if (out) *out += c;
        continue;
      }
      if (pos_ >= text_.size()) return false;
      const char e = text_[pos_++];
      if (e == 'u') {
        unsigned cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 1 < text_.size() && text_[pos_] == '\\' &&
            text_[pos_ + 1] == 'u') {
          pos_ += 2;
          unsigned low = 0;
          if (!hex4(low)) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (out) append_utf8(*out, cp);
        continue;
      }
      if (!out) continue;
      switch (e) {
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'n':
          *out += '\n';
          break;
        case 'r':
          *out += '\r';
          break;
        case 't':
          *out += '\t';
          break;
        default:
          *out += e;
          break;  // '"', '\\', '/'
      }
    }
    return false;
  }

  bool hex4(unsigned& cp) {
    if (pos_ + 4 > text_.size()) return false;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(text_[pos_++]);
      if (h < 0) return false;
      cp = cp * 16 + static_cast<unsigned>(h);
    }
    return true;
  }

  // Called at the first character of every value.
  void visit() {
    if (target_ && path_ == *target_) {
      found_line = line_;
      stop_ = true;
    }
  }

  void value(int depth) {
    if (done()) return;
    visit();
    if (stop_) return;
    if (depth > kMaxDepth) {
      stop_ = true;
      return;
    }
    const char c = text_[pos_];
    if (c == '{') {
      object(depth);
    } else if (c == '[') {
      array(depth);
    } else if (c == '"') {
      if (!string(nullptr)) stop_ = true;
    } else {
      // Number or literal: runs to the next delimiter.
      const std::size_t start = pos_;
      while (pos_ < text_.size()) {
        const char d = text_[pos_];
        if (d == ',' || d == '}' || d == ']' || d == ' ' || d == '\n' || d == '\t' || d == '\r') {
          break;
        }
        ++pos_;
      }
      if (pos_ == start) stop_ = true;
    }
  }

  void object(int depth) {
    ++pos_;                           // '{'
    std::map<std::string, int> seen;  // key -> line of its first occurrence
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return;
    }
    while (!done()) {
      skip_ws();
      const int key_line = line_;
      std::string key;
      if (!string(&key)) {
        stop_ = true;
        return;
      }
      const auto [it, inserted] = seen.emplace(key, key_line);
      if (!inserted && !target_ && !duplicate) {
        Path where = path_;
        where.push_back(key);
        std::string field;
        for (std::size_t i = 0; i < path_.size(); ++i) {
          if (is_index_[i]) {
            field += "[" + path_[i] + "]";
          } else {
            field += (field.empty() ? "" : ".") + path_[i];
          }
        }
        field += (field.empty() ? "" : ".") + key;
        duplicate = DuplicateKey{std::move(where), std::move(field), key_line, it->second};
        stop_ = true;
        return;
      }
      skip_ws();
      if (pos_ >= text_.size() || text_[pos_] != ':') {
        stop_ = true;
        return;
      }
      ++pos_;
      skip_ws();
      // A repeated key's value is never the one a path names (nlohmann keeps one of them).
      path_.push_back(inserted ? std::move(key) : std::string("\x01"));
      is_index_.push_back(false);
      value(depth + 1);
      path_.pop_back();
      is_index_.pop_back();
      if (stop_) return;
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return;
      }
      stop_ = true;
    }
  }

  void array(int depth) {
    ++pos_;  // '['
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return;
    }
    for (std::size_t index = 0; !done(); ++index) {
      skip_ws();
      path_.push_back(std::to_string(index));
      is_index_.push_back(true);
      value(depth + 1);
      path_.pop_back();
      is_index_.pop_back();
      if (stop_) return;
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return;
      }
      stop_ = true;
    }
  }

  std::string_view text_;
  const Path* target_;
  std::size_t pos_ = 0;
  int line_ = 1;
  bool stop_ = false;
  Path path_;
  std::vector<bool> is_index_;  // parallel to path_: the segment is an array index
};

}  // namespace

int line_at_offset(std::string_view text, std::size_t offset) {
  if (offset > text.size()) offset = text.size();
  int line = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') ++line;
  }
  return line;
}

Path split_path(std::string_view path) {
  Path out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  std::string current;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      out.push_back(std::move(current));
      current.clear();
    } else if (path[i] == '~' && i + 1 < path.size() &&
               (path[i + 1] == '0' || path[i + 1] == '1')) {
      current += path[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      current += path[i];
    }
  }
  return out;
}

int line_of(std::string_view text, const Path& path) {
  Scanner scanner(text, &path);
  scanner.run();
  return scanner.found_line;
}

int line_of(std::string_view text, std::string_view path) {
  return line_of(text, split_path(path));
}

std::optional<DuplicateKey> find_duplicate_key(std::string_view text) {
  Scanner scanner(text, nullptr);
  scanner.run();
  return scanner.duplicate;
}

}  // namespace saturn::json_locate
