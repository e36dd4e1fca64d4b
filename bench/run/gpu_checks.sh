#!/usr/bin/env bash
# The checks that need a GPU (issues 5 and 7), in priority order, for one device command of at
# most 10 minutes (run it with timeout_s 600; each step is killed at its deadline, so later steps
# may get no time): build the worker with its CUDA kernels, run its CUDA tests, time the fused
# cross-entropy against log_softmax + nll_loss, then offload on the 4.24B GPT as an 80 GB H100
# would run it (`search` under --device-memory-bytes: the most blocks kept on the GPU that fit)
# against PyTorch FSDP + CPUOffload (the 3x target), then offload with no block kept, then the
# `measure` probe (which crashed on CUDA on 2026-11-30; a crash now prints an `error` event
# naming the phase and a backtrace). With time left (EXTRA=1, for a second command): where
# GPT-2 355M's step goes, its throughput against the PyTorch eager loop, the host optimizer step
# and the one-rank overheads with their peak memory (compare them with
# bench/worker/memory_vs_estimate.py). Writes logs under $OUT (default: a temporary directory).
#   bench/run/gpu_checks.sh            # from the repository root, on the GPU machine
#   EXTRA=1 bench/run/gpu_checks.sh    # the second half only, on a machine that built it
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$(mktemp -d)}
t0=$(date +%s)
say() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
# Seconds until $1 s after the start, at least 1 (`timeout 0` would not time out at all).
left() { local l=$(( $1 - ($(date +%s) - t0) )); echo $(( l > 0 ? l : 1 )); }
# At most $1 seconds, and no later than $2 s after the start.
cap() { local l; l=$(left "$2"); echo $(( $1 < l ? $1 : l )); }
# Every step runs under `timeout -s KILL`: `measure` ignores SIGTERM, and a killed wrapper
# (bash, python) must not leave a worker holding the GPU; timeout signals the whole group.
export PYTHONUNBUFFERED=1  # a killed python step keeps the rows it printed
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc; free -g | head -2
export PATH="$PATH:/usr/local/cuda/bin"  # nvcc, for the worker's CUDA kernels
command -v nvcc || echo "no nvcc: the worker is built without its CUDA kernels"
prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
timeout -s KILL 120 cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DSATURN_BUILD_BENCH=ON > "$out/cmake.log" 2>&1; say "configure: $?"
if ! timeout -s KILL "$(left 300)" cmake --build build-gpu --target saturn_worker worker_tests \
    bench_host_optimizer bench_cross_entropy > "$out/build.log" 2>&1; then
  say "build failed"; grep -B2 -A8 "error" "$out/build.log" | head -60; exit 1
fi
grep -E "saturn-worker:|Added CUDA NVCC flags" "$out/cmake.log"
ldd build-gpu/bin/saturn-worker | grep -E "cudart|not found"
say built
# H100 SXM's 81,559 MiB: offload's search as it would run where the model does not fit.
H100_BYTES=85520809984
if [ -z "${EXTRA:-}" ]; then
  timeout -s KILL "$(cap 75 330)" build-gpu/bin/worker_tests --gtest_filter='Models.CrossEntropy*:*OnCuda*:FlatOptimizer*:Training.CudaGraph*:Offload*:Fsdp.OneRank*:Gpipe.OneStage*' \
    > "$out/tests.log" 2>&1; say "tests: $?"
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|mean_cross_entropy on" "$out/tests.log" | head -30
  timeout -s KILL "$(cap 25 345)" build-gpu/bin/bench_cross_entropy --repeats 20 --json \
    >> "$out/cross_entropy.jsonl" 2>&1; say "cross-entropy: $?"
  cat "$out/cross_entropy.jsonl"
  timeout -s KILL "$(left 550)" python3 bench/worker/techniques.py offload \
    --worker build-gpu/bin/saturn-worker --json --timeout 140 --reference-warmup 1 \
    --device-memory-bytes "$H100_BYTES" --rows search reference streamed \
    > "$out/offload.md" 2> "$out/offload.err"
  say "offload: $?"; cat "$out/offload.md"; tail -8 "$out/offload.err"
  job="$out/probe.yaml"
  cat > "$job" <<YAML
jobs:
  - name: probe
    model: gpt2
    data: {format: synthetic-text, seq_len: 1024, samples: 10000}
    lr: 1e-4
    grad_clip: 1.0
    batch_size: 16
    steps: 100
    gpus: 1
    techniques: single
YAML
  timeout -s KILL "$(left 588)" build-gpu/bin/saturn-worker measure --job "$job" --technique single \
    --devices cuda:0 --warmup-steps 2 --measure-steps 3 --params '{"grad_accum": 1}' \
    > "$out/probe.out" 2> "$out/probe.err"
  say "measure with probes: exit $?"; cat "$out/probe.out"; tail -25 "$out/probe.err"
  exit 0
fi
cat > "$out/medium.yaml" <<YAML
jobs:
  - name: medium
    model: gpt2-medium
    data: {format: synthetic-text, seq_len: 1024, samples: 100000}
    lr: 1e-4
    weight_decay: 0.1
    grad_clip: 1.0
    batch_size: 8
    steps: 1000
    gpus: 1
    techniques: single
YAML
timeout -s KILL "$(cap 60 360)" build-gpu/bin/saturn-worker measure --job "$out/medium.yaml" --technique single \
  --devices cuda:0 --warmup-steps 3 --measure-steps 3 --no-probes --params '{"grad_accum": 1}' \
  --trace "$out/medium-trace.json" > "$out/trace.out" 2>&1; say "trace: $?"
timeout -s KILL 30 python3 bench/worker/trace_summary.py "$out/medium-trace.json" --steps 3 \
  | tee "$out/trace.md"
gzip -f "$out/medium-trace.json" 2>/dev/null
SPECS="gpt2-medium:8" timeout -s KILL "$(left 460)" bench/worker/throughput.sh build-gpu \
  > "$out/throughput.md" 2> "$out/throughput.err"; say "throughput: $?"
cat "$out/throughput.md"; tail -5 "$out/throughput.err"
timeout -s KILL "$(left 500)" build-gpu/bin/bench_host_optimizer --params 1073741824 --repeats 3 --json \
  > "$out/host_optimizer.jsonl" 2>&1; say "host optimizer: $?"; cat "$out/host_optimizer.jsonl"
timeout -s KILL "$(left 590)" python3 bench/worker/techniques.py overheads \
  --worker build-gpu/bin/saturn-worker --json --timeout 40 > "$out/overheads.md" 2> "$out/overheads.err"
say "overheads: $?"; cat "$out/overheads.md"; tail -5 "$out/overheads.err"
