#!/usr/bin/env bash
# Installs every Debian package Saturn needs to build and test. Idempotent: packages already
# present are skipped, and apt is only touched when something is missing.
#   scripts/install-deps.sh            # build + test dependencies
#   SATURN_NO_TORCH=1 scripts/...      # skip libtorch (saturn-worker is then not built)
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build ccache pkg-config make git clang-format
  coinor-libcbc-dev coinor-libclp-dev coinor-libcgl-dev coinor-libosi-dev coinor-libcoinutils-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libsqlite3-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev libxxhash-dev
)
# saturn-worker: Debian's libtorch (1.13, CPU) and the Gloo headers its c10d process groups use;
# OpenBLAS for its matrix products (libtorch calls the system's libblas.so.3, which is otherwise
# netlib's reference BLAS: 11x slower CPU training, docs/benchmarks.md#cpu-blas).
# The PyTorch technique of examples/techniques/torch-ddp and its end-to-end test: the same torch
# for /usr/bin/python3 (with NumPy and PyYAML), and xxhash for its checkpoints' checksums.
if [ "${SATURN_NO_TORCH:-0}" != "1" ]; then
  packages+=(libtorch-dev libgloo-dev libopenblas0-openmp python3-torch python3-xxhash)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
