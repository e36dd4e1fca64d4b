// Byte and GPT-2 byte-level BPE tokenizers; see saturn/tokenizer.h.
#include "saturn/tokenizer.h"

#include <clocale>
#include <cwctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "formats/common.h"

namespace saturn {
namespace {

// ---- UTF-8 and character classes ---------------------------------------------------------------

struct CodePoint {
  char32_t cp;
  std::size_t begin, end;  // byte range in the text
  bool valid;              // false: a byte that is not valid UTF-8 (classified as "other")
};

std::vector<CodePoint> decode_utf8(std::string_view s) {
  std::vector<CodePoint> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c >> 6) == 2;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (!ok) {
      out.push_back({b, i, i + 1, false});
      ++i;
      continue;
    }
    out.push_back({cp, i, i + static_cast<std::size_t>(len), true});
    i += static_cast<std::size_t>(len);
  }
  return out;
}

locale_t utf8_locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}

bool is_space(const CodePoint& c) {
  if (!c.valid) return false;
  const char32_t cp = c.cp;
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Unicode numbers beyond ASCII that text commonly holds: other decimal digit sets, superscripts,
// vulgar fractions, number forms, circled numbers. (GPT-2 uses \p{N}.)
bool is_number(const CodePoint& c) {
  if (!c.valid) return false;
  const char32_t cp = c.cp;
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return cp == 0xB2 || cp == 0xB3 || cp == 0xB9 || (cp >= 0xBC && cp <= 0xBE) ||
         (cp >= 0x660 && cp <= 0x669) || (cp >= 0x6F0 && cp <= 0x6F9) ||
         (cp >= 0x966 && cp <= 0x96F) || (cp >= 0x2070 && cp <= 0x2079) ||
         (cp >= 0x2080 && cp <= 0x2089) || (cp >= 0x2150 && cp <= 0x2189) ||
         (cp >= 0x2460 && cp <= 0x249B) || (cp >= 0xFF10 && cp <= 0xFF19);
}

bool is_letter(const CodePoint& c) {
  if (!c.valid) return false;
  const char32_t cp = c.cp;
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  const locale_t loc = utf8_locale();
  return loc != static_cast<locale_t>(0) && iswalpha_l(static_cast<wint_t>(cp), loc) &&
         !is_number(c);
}

bool is_other(const CodePoint& c) {
  return !is_space(c) && !is_letter(c) && !is_number(c);
}

// ---- GPT-2's byte alphabet -------------------------------------------------------------------

// Byte b -> the UTF-8 of the printable character GPT-2 writes it as.
const std::vector<std::string>& byte_symbols() {
  static const std::vector<std::string> table = [] {
    std::vector<int> cps(256, -1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 256;
    for (int b = 0; b < 256; ++b) cps[b] = printable(b) ? b : next++;
    std::vector<std::string> out(256);
    for (int b = 0; b < 256; ++b) {
      const int cp = cps[b];
      std::string s;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {  // < 0x800 for every code point used here
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      out[b] = s;
    }
    return out;
  }();
  return table;
}

class ByteTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "bytes"; }
  int vocab_size() const override { return 256; }
  std::vector<std::int32_t> encode(std::string_view text) const override {
    std::vector<std::int32_t> ids;
    ids.reserve(text.size());
    for (char c : text) ids.push_back(static_cast<unsigned char>(c));
    return ids;
  }
  std::string decode(const std::vector<std::int32_t>& ids) const override {
    std::string out;
    for (std::int32_t id : ids) {
      if (id >= 0 && id < 256) out += static_cast<char>(id);
    }
    return out;
  }
};

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(std::string name, std::unordered_map<std::string, std::int32_t> vocab,
               std::map<std::pair<std::string, std::string>, int> ranks)
      : name_(std::move(name)), vocab_(std::move(vocab)), ranks_(std::move(ranks)) {
    std::int32_t largest = -1;
    for (const auto& [symbol, id] : vocab_) largest = std::max(largest, id);
    symbols_.assign(static_cast<std::size_t>(largest + 1), std::string());
    for (const auto& [symbol, id] : vocab_) symbols_[static_cast<std::size_t>(id)] = symbol;
    // Symbol (a UTF-8 string of GPT-2 alphabet characters) -> bytes, character by character.
    for (int b = 0; b < 256; ++b) alphabet_[byte_symbols()[b]] = static_cast<char>(b);
    if (const auto it = vocab_.find(std::string(kEndOfText)); it != vocab_.end()) {
      end_of_text_ = it->second;
    }
  }

  std::string name() const override { return name_; }
  int vocab_size() const override { return static_cast<int>(symbols_.size()); }

  // `<|endoftext|>` written in the text, when the vocabulary has it, is that one token (GPT-2's
  // document separator, 50256), as transformers' GPT2Tokenizer reads it; merges never make it.
  std::vector<std::int32_t> encode(std::string_view text) const override {
    std::vector<std::int32_t> ids;
    while (!text.empty()) {
      const std::size_t special = end_of_text_ < 0 ? std::string_view::npos : text.find(kEndOfText);
      for (const std::string& piece : gpt2_pretokenize(text.substr(0, special))) {
        const std::vector<std::int32_t>& word = encode_piece(piece);
        ids.insert(ids.end(), word.begin(), word.end());
      }
      if (special == std::string_view::npos) break;
      ids.push_back(end_of_text_);
      text.remove_prefix(special + kEndOfText.size());
    }
    return ids;
  }

  std::string decode(const std::vector<std::int32_t>& ids) const override {
    std::string out;
    for (std::int32_t id : ids) {
      if (id < 0 || id >= vocab_size()) continue;
      const std::string& symbol = symbols_[static_cast<std::size_t>(id)];
      for (const CodePoint& c : decode_utf8(symbol)) {
        const auto it = alphabet_.find(symbol.substr(c.begin, c.end - c.begin));
        if (it != alphabet_.end()) out += it->second;
      }
    }
    return out;
  }

 private:
  // Ids of one pre-token, memoised (sweeps over a corpus repeat the same words).
  const std::vector<std::int32_t>& encode_piece(const std::string& piece) const {
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      const auto it = cache_.find(piece);
      if (it != cache_.end()) return it->second;
    }
    std::vector<std::string> parts;
    for (char c : piece) parts.push_back(byte_symbols()[static_cast<unsigned char>(c)]);
    while (parts.size() > 1) {
      int best_rank = std::numeric_limits<int>::max();
      for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        const auto r = ranks_.find({parts[i], parts[i + 1]});
        if (r != ranks_.end()) best_rank = std::min(best_rank, r->second);
      }
      if (best_rank == std::numeric_limits<int>::max()) break;
      std::vector<std::string> merged;
      for (std::size_t i = 0; i < parts.size();) {
        if (i + 1 < parts.size()) {
          const auto r = ranks_.find({parts[i], parts[i + 1]});
          if (r != ranks_.end() && r->second == best_rank) {
            merged.push_back(parts[i] + parts[i + 1]);
            i += 2;
            continue;
          }
        }
        merged.push_back(parts[i]);
        ++i;
      }
      parts = std::move(merged);
    }
    std::vector<std::int32_t> ids;
    for (const std::string& p : parts) ids.push_back(vocab_.at(p));  // checked at load time
    std::lock_guard<std::mutex> lock(cache_mutex_);
    return cache_.emplace(piece, std::move(ids)).first->second;
  }

  static constexpr std::string_view kEndOfText = "<|endoftext|>";
  std::string name_;
  std::int32_t end_of_text_ = -1;  // its id, or -1: the vocabulary has none
  std::unordered_map<std::string, std::int32_t> vocab_;
  std::map<std::pair<std::string, std::string>, int> ranks_;
  std::vector<std::string> symbols_;                // id -> symbol
  std::unordered_map<std::string, char> alphabet_;  // GPT-2 character -> byte
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
};

Error file_error(const std::string& path, int line, const std::string& message) {
  return Error{path, line, "", message};
}

}  // namespace

std::vector<std::string> gpt2_pretokenize(std::string_view text) {
  const std::vector<CodePoint> cps = decode_utf8(text);
  const std::size_t n = cps.size();
  std::vector<std::string> pieces;
  auto emit = [&](std::size_t from, std::size_t to) {  // code point range [from, to)
    pieces.emplace_back(text.substr(cps[from].begin, cps[to - 1].end - cps[from].begin));
  };
  auto run = [&](std::size_t from, bool (*in_class)(const CodePoint&)) {
    while (from < n && in_class(cps[from])) ++from;
    return from;
  };
  std::size_t i = 0;
  while (i < n) {
    // Contractions: 's 't 're 've 'm 'll 'd (ASCII apostrophe, case-sensitive).
    if (cps[i].valid && cps[i].cp == '\'' && i + 1 < n) {
      auto at = [&](std::size_t k, char c) {
        return k < n && cps[k].valid && cps[k].cp == char32_t(c);
      };
      std::size_t len = 0;
      if (at(i + 1, 's') || at(i + 1, 't') || at(i + 1, 'm') || at(i + 1, 'd')) {
        len = 2;
      } else if ((at(i + 1, 'r') && at(i + 2, 'e')) || (at(i + 1, 'v') && at(i + 2, 'e')) ||
                 (at(i + 1, 'l') && at(i + 2, 'l'))) {
        len = 3;
      }
      if (len > 0) {
        emit(i, i + len);
        i += len;
        continue;
      }
    }
    // An optional space, then a run of letters, of numbers, or of other characters.
    const std::size_t start = i;
    std::size_t j = i;
    if (cps[j].valid && cps[j].cp == ' ' && j + 1 < n && !is_space(cps[j + 1])) ++j;
    if (!is_space(cps[j])) {
      const std::size_t end = is_letter(cps[j])   ? run(j, is_letter)
                              : is_number(cps[j]) ? run(j, is_number)
                                                  : run(j, is_other);
      emit(start, end);
      i = end;
      continue;
    }
    // Whitespace: the run, leaving its last character to the next piece when that one follows.
    const std::size_t end = run(i, is_space);
    const std::size_t cut = (end < n && end - i >= 2) ? end - 1 : end;
    emit(i, cut);
    i = cut;
  }
  return pieces;
}

std::unique_ptr<Tokenizer> make_byte_tokenizer() {
  return std::make_unique<ByteTokenizer>();
}

Result<std::unique_ptr<Tokenizer>> load_bpe_tokenizer(const std::string& dir) {
  const std::string vocab_path = (std::filesystem::path(dir) / "vocab.json").string();
  const std::string merges_path = (std::filesystem::path(dir) / "merges.txt").string();
  auto vocab_text = formats::read_text_file(vocab_path);
  if (!vocab_text) return vocab_text.error();
  std::unordered_map<std::string, std::int32_t> vocab;
  try {
    const nlohmann::json j = nlohmann::json::parse(*vocab_text);
    if (!j.is_object()) return file_error(vocab_path, 0, "expected a JSON object of symbol: id");
    for (const auto& [symbol, id] : j.items()) {
      if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > (1 << 30)) {
        return file_error(vocab_path, 0,
                          fmt::format("symbol \"{}\": expected a non-negative integer id", symbol));
      }
      vocab[symbol] = id.get<std::int32_t>();
    }
  } catch (const nlohmann::json::parse_error& e) {
    return file_error(vocab_path, 0, std::string("not valid JSON: ") + e.what());
  }
  for (int b = 0; b < 256; ++b) {
    if (!vocab.count(byte_symbols()[b])) {
      return file_error(vocab_path, 0,
                        fmt::format("byte {} (symbol \"{}\") is missing: a byte-level BPE "
                                    "vocabulary has every byte",
                                    b, byte_symbols()[b]));
    }
  }
  auto merges_text = formats::read_text_file(merges_path);
  if (!merges_text) return merges_text.error();
  std::map<std::pair<std::string, std::string>, int> ranks;
  std::istringstream lines(*merges_text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    const std::size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos) {
      return file_error(merges_path, number, "expected two symbols separated by one space");
    }
    std::string a = line.substr(0, space), b = line.substr(space + 1);
    if (!vocab.count(a + b)) {
      return file_error(merges_path, number,
                        fmt::format("the merge of \"{}\" and \"{}\" is not in vocab.json", a, b));
    }
    ranks.emplace(std::make_pair(std::move(a), std::move(b)), static_cast<int>(ranks.size()));
  }
  return std::unique_ptr<Tokenizer>(
      std::make_unique<BpeTokenizer>("bpe:" + dir, std::move(vocab), std::move(ranks)));
}

Result<std::unique_ptr<Tokenizer>> make_tokenizer(const std::string& spec,
                                                  const std::string& base_dir) {
  if (spec.empty() || spec == "bytes") return make_byte_tokenizer();
  const std::filesystem::path p(spec);
  return load_bpe_tokenizer(p.is_absolute() ? spec
                                            : (std::filesystem::path(base_dir) / p).string());
}

}  // namespace saturn
