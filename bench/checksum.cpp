// bench_checksum: what checkpoint checksums cost, side by side in one run (docs/benchmarks.md
// #checkpoint-checksums). Writes a safetensors file of --bytes (fp32 tensors of 64 MiB, as a
// checkpoint's) with and without its XXH3-128 digest taken as the bytes are written, then reads
// it back plainly and through file_xxh128 (what a resume verifies), alternating, --repeats
// times; prints the medians and ratios. Writes go through AtomicFile (fsync), into --dir.
//
//   build/bin/bench_checksum [--bytes 1e9] [--repeats 5] [--dir /tmp]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "saturn/checksum.h"
#include "saturn/safetensors.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Reads `path` whole in 4 MiB pieces, as file_xxh128 does, and returns a byte of it (so that the
// read is not optimised away).
unsigned char plain_read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<unsigned char> buffer(std::size_t{4} << 20);
  unsigned char x = 0;
  for (ssize_t n; (n = ::read(fd, buffer.data(), buffer.size())) > 0;) x ^= buffer[0];
  ::close(fd);
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Checkpoint checksums: write and verify costs"};
  double bytes = 1e9;
  int repeats = 5;
  std::string dir = std::filesystem::temp_directory_path().string();
  app.add_option("--bytes", bytes, "File size, bytes")->capture_default_str();
  app.add_option("--repeats", repeats, "Repeats (medians)")->capture_default_str();
  app.add_option("--dir", dir, "Where to write")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  constexpr std::size_t kTensor = std::size_t{64} << 20;
  const auto tensors = static_cast<std::size_t>(std::max(1.0, bytes / kTensor));
  std::vector<float> data(kTensor / 4);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i % 1000) * 1e-3f;
  std::vector<saturn::TensorView> views;
  for (std::size_t t = 0; t < tensors; ++t) {
    views.push_back({fmt::format("w{}", t),
                     "F32",
                     {static_cast<std::int64_t>(data.size())},
                     data.data(),
                     kTensor});
  }
  const std::string path = (std::filesystem::path(dir) / "bench_checksum.safetensors").string();
  std::vector<double> write_plain, write_digest, read_plain, read_verify;
  std::string digest;
  unsigned char sink = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (!saturn::write_safetensors(path, views)) return 1;
    write_plain.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    if (!saturn::write_safetensors(path, views, {}, &digest)) return 1;
    write_digest.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    sink ^= plain_read(path);
    read_plain.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    auto verified = saturn::file_xxh128(path);
    read_verify.push_back(seconds_since(t0));
    if (!verified || *verified != digest) return 1;
  }
  std::filesystem::remove(path);
  const double gb = static_cast<double>(tensors * kTensor) / 1e9;
  fmt::print("file {:.2f} GB, {} repeats, medians (sink {})\n", gb, repeats, sink);
  fmt::print("write          {:.3f} s   with digest {:.3f} s   x{:.3f}\n", median(write_plain),
             median(write_digest), median(write_digest) / median(write_plain));
  fmt::print("read (cached)  {:.3f} s   verify      {:.3f} s   x{:.3f}   ({:.1f} GB/s verified)\n",
             median(read_plain), median(read_verify), median(read_verify) / median(read_plain),
             gb / median(read_verify));
  return 0;
}
