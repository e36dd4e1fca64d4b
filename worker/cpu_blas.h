// Which BLAS this process's CPU matrix products run on. Debian's libtorch calls the system's
// libblas.so.3 (update-alternatives): OpenBLAS when libopenblas0-* is installed, else netlib's
// reference implementation, about 11x slower for training (docs/benchmarks.md#cpu-blas).
#pragma once

#include <string>

namespace saturn::worker {

struct BlasLibrary {
  std::string path;  // the shared object that provides sgemm_ (symlinks resolved); empty: none
  std::string kind;  // "openblas", "mkl", "reference" (netlib) or "unknown"
};

// The BLAS loaded in this process (it does not load one).
BlasLibrary loaded_blas();

// Prints a one-line warning to stderr, once per process, when `loaded_blas()` is the reference
// BLAS: CPU training then runs an order of magnitude slower than it could.
void warn_if_reference_blas();

}  // namespace saturn::worker
