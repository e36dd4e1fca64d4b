// Tokenizers: text to token ids and back. Two kinds, both byte-level (any UTF-8, or any bytes,
// round-trips exactly):
//   bytes — one token per byte, ids 0..255.
//   GPT-2 byte-level BPE — the Hugging Face files (vocab.json: symbol -> id; merges.txt: ranked
//     symbol pairs). Text is split with GPT-2's pattern (contractions, letters, digits, other
//     runs, whitespace), each piece's bytes are mapped to GPT-2's printable byte alphabet and the
//     pair with the lowest rank is merged until none is left; the symbols' ids are the tokens.
// Pure C++ (no libtorch): the worker feeds the ids to its models.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "saturn/error.h"

namespace saturn {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  // Ids are in [0, vocab_size()).
  virtual int vocab_size() const = 0;
  virtual std::vector<std::int32_t> encode(std::string_view text) const = 0;
  // The bytes the ids stand for; ids out of range are skipped.
  virtual std::string decode(const std::vector<std::int32_t>& ids) const = 0;
};

std::unique_ptr<Tokenizer> make_byte_tokenizer();

// Reads `dir`/vocab.json and `dir`/merges.txt. Errors name the file, the line where known and
// what is wrong (unreadable, not JSON, a merge whose symbols or result are not in the
// vocabulary, a missing byte symbol).
Result<std::unique_ptr<Tokenizer>> load_bpe_tokenizer(const std::string& dir);

// The tokenizer a workload's `data.tokenizer` names: "" or "bytes", or a BPE directory
// (relative paths are taken from `base_dir`).
Result<std::unique_ptr<Tokenizer>> make_tokenizer(const std::string& spec,
                                                  const std::string& base_dir);

// GPT-2's pre-tokenisation of `text` into pieces (exposed for tests); pieces concatenate to
// `text`. Letters and numbers beyond ASCII are classified with the C.UTF-8 locale's tables.
std::vector<std::string> gpt2_pretokenize(std::string_view text);

}  // namespace saturn
