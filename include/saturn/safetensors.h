// safetensors: Hugging Face's file format for named tensors, used for checkpoints (readable by
// the `safetensors` Python package and by PyTorch users). Layout: an 8-byte little-endian header
// size N; N bytes of JSON {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin,
// end]}, ..., "__metadata__": {"<key>": "<string>"}} padded with spaces to a multiple of 8; then
// the tensors' bytes, contiguous, offsets relative to the end of the header. Little-endian,
// row-major. Pure C++ (no libtorch): the worker passes raw tensor memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "saturn/error.h"

namespace saturn {

// One tensor to write: its bytes are read from `data` while writing.
struct TensorView {
  std::string name;
  std::string dtype;  // "F32", "BF16", "F16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", ...
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
  std::size_t bytes = 0;  // must equal product(shape) x the dtype's size
};

// Bytes per element of a safetensors dtype; 0 for an unknown one.
std::size_t safetensors_dtype_size(const std::string& dtype);

// Writes `tensors` in order (names unique, "__metadata__" reserved) and `metadata` to `path`
// atomically (atomic_file.h). With `xxh128`, sets it to the file's digest (saturn/checksum.h),
// taken from the bytes as they are written.
Status write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                         const std::map<std::string, std::string>& metadata = {},
                         std::string* xxh128 = nullptr);

// A safetensors file mapped into memory (read-only). Tensors' bytes stay valid as long as the
// object lives.
class SafetensorsFile {
 public:
  struct Entry {
    std::string dtype;
    std::vector<std::int64_t> shape;
    const unsigned char* data = nullptr;
    std::size_t bytes = 0;
  };

  // Errors (missing file, truncated, bad JSON, unknown dtype, offsets outside the data or not
  // matching the shape, overlapping tensors) name the file and the tensor.
  static Result<SafetensorsFile> open(const std::string& path);

  const std::map<std::string, Entry>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const Entry* find(const std::string& name) const;

 private:
  std::shared_ptr<void> mapping_;  // the mapped file, unmapped when the last copy goes
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace saturn
