// loaded_blas(): the library behind sgemm_, found with dladdr; see cpu_blas.h.
#include "cpu_blas.h"

#include <dlfcn.h>

#include <climits>
#include <cstdlib>

#include <atomic>
#include <cstdio>

namespace saturn::worker {

BlasLibrary loaded_blas() {
  BlasLibrary blas;
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (sgemm == nullptr || dladdr(sgemm, &info) == 0 || info.dli_fname == nullptr) {
    blas.kind = "unknown";
    return blas;
  }
  // The file behind the name it was loaded by (libblas.so.3 is an alternatives symlink).
  char resolved[PATH_MAX];
  blas.path = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
  // Each implementation's own entry points, looked up in the library that provides sgemm_.
  void* handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  auto has = [handle](const char* symbol) { return handle && dlsym(handle, symbol) != nullptr; };
  if (has("openblas_get_config")) {
    blas.kind = "openblas";
  } else if (has("mkl_get_version") || has("MKL_Get_Version")) {
    blas.kind = "mkl";
  } else if (blas.path.find("/blas/libblas.so") != std::string::npos) {
    blas.kind = "reference";  // Debian's alternative for netlib's libblas3
  } else {
    blas.kind = "unknown";
  }
  if (handle) dlclose(handle);
  return blas;
}

void warn_if_reference_blas() {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  const BlasLibrary blas = loaded_blas();
  if (blas.kind != "reference") return;
  std::fprintf(stderr,
               "saturn-worker: CPU matrix products run on netlib's reference BLAS (%s), about "
               "11x slower than OpenBLAS; install libopenblas0-openmp "
               "(scripts/install-deps.sh does)\n",
               blas.path.c_str());
}

}  // namespace saturn::worker
