// safetensors writer and reader; see saturn/safetensors.h.
#include "saturn/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "saturn/atomic_file.h"
#include "saturn/checksum.h"

namespace saturn {
namespace {

Error file_error(const std::string& path, const std::string& field, const std::string& message) {
  return Error{path, 0, field, message};
}

std::size_t element_count(const std::vector<std::int64_t>& shape) {
  std::size_t n = 1;
  for (std::int64_t d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

}  // namespace

std::size_t safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

Status write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                         const std::map<std::string, std::string>& metadata, std::string* xxh128) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const TensorView& t : tensors) {
    const std::size_t size = safetensors_dtype_size(t.dtype);
    if (size == 0) return file_error(path, t.name, fmt::format("unknown dtype \"{}\"", t.dtype));
    if (t.name.empty() || t.name == "__metadata__" || header.contains(t.name)) {
      return file_error(path, t.name, "tensor names must be unique and not \"__metadata__\"");
    }
    for (std::int64_t d : t.shape) {
      if (d < 0) return file_error(path, t.name, "negative dimension");
    }
    if (element_count(t.shape) * size != t.bytes) {
      return file_error(path, t.name,
                        fmt::format("{} bytes do not match shape and dtype {}", t.bytes, t.dtype));
    }
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  unsigned char size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<unsigned char>(json.size() >> (8 * i));
  auto file = AtomicFile::create(path);
  if (!file) return file.error();
  Xxh128 digest;
  auto write = [&](const void* data, std::size_t bytes) {
    if (xxh128) digest.update(data, bytes);
    return file->write(data, bytes);
  };
  if (Status s = write(size_bytes, 8); !s) return s;
  if (Status s = write(json.data(), json.size()); !s) return s;
  for (const TensorView& t : tensors) {
    if (Status s = write(t.data, t.bytes); !s) return s;
  }
  if (Status s = file->commit(); !s) return s;
  if (xxh128) *xxh128 = digest.hex();
  return Status::Ok();
}

const SafetensorsFile::Entry* SafetensorsFile::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return file_error(path, "",
                      fmt::format("cannot open: {}", std::generic_category().message(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return file_error(path, "",
                      fmt::format("cannot stat: {}", std::generic_category().message(err)));
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return file_error(path, "", fmt::format("{} bytes: too short for a safetensors file", size));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    return file_error(path, "",
                      fmt::format("cannot map: {}", std::generic_category().message(errno)));
  }
  SafetensorsFile f;
  f.mapping_ = std::shared_ptr<void>(map, [size](void* p) { ::munmap(p, size); });
  const auto* bytes = static_cast<const unsigned char*>(map);
  std::uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  if (header_size > size - 8) {
    return file_error(
        path, "",
        fmt::format("header of {} bytes does not fit in a file of {}", header_size, size));
  }
  const std::size_t data_start = 8 + static_cast<std::size_t>(header_size);
  const std::size_t data_size = size - data_start;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + data_start);
  } catch (const nlohmann::json::parse_error& e) {
    return file_error(path, "", std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) return file_error(path, "", "header is not a JSON object");
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return file_error(path, name, "expected an object of strings");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) return file_error(path, name + "." + k, "expected a string");
        f.metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    try {
      Entry e;
      e.dtype = value.at("dtype").get<std::string>();
      e.shape = value.at("shape").get<std::vector<std::int64_t>>();
      const auto offsets = value.at("data_offsets").get<std::vector<std::size_t>>();
      const std::size_t element = safetensors_dtype_size(e.dtype);
      if (element == 0) return file_error(path, name, fmt::format("unknown dtype \"{}\"", e.dtype));
      for (std::int64_t d : e.shape) {
        if (d < 0) return file_error(path, name, "negative dimension");
      }
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size) {
        return file_error(path, name, "data_offsets outside the data");
      }
      e.bytes = offsets[1] - offsets[0];
      if (e.bytes != element_count(e.shape) * element) {
        return file_error(path, name, "data_offsets do not match the shape and dtype");
      }
      e.data = bytes + data_start + offsets[0];
      ranges.emplace_back(offsets[0], offsets[1]);
      f.tensors_.emplace(name, std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      return file_error(path, name, std::string("malformed entry: ") + ex.what());
    }
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) return file_error(path, "", "tensors overlap");
  }
  return f;
}

}  // namespace saturn
