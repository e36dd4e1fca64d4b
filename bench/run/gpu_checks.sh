#!/usr/bin/env bash
# The checks that need a GPU (issues 5 and 7), in priority order, for one device command of at
# most 10 minutes (run it with timeout_s 600; each step is killed at its deadline, so later steps
# may get no time): build the worker with its CUDA kernels, run its CUDA tests, time the fused
# cross-entropy against log_softmax + nll_loss, trace where GPT-2 355M's step goes, offload
# (as its search sets it up, with the blocks it keeps on the GPU, then with none kept) against
# PyTorch FSDP + CPUOffload on the 4.24B GPT (the 3x target), GPT-2 355M throughput
# against the PyTorch eager loop, the `measure` probe (which crashed on CUDA on 2026-11-30; a
# crash now prints an `error` event naming the phase and a backtrace), the host optimizer step
# on this host, then the one-rank overheads with their peak memory (compare them with
# bench/worker/memory_vs_estimate.py). Writes logs under $OUT (default: a temporary directory).
#   bench/run/gpu_checks.sh            # from the repository root, on the GPU machine
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
if ! timeout -s KILL 330 cmake --build build-gpu --target saturn_worker worker_tests \
    bench_host_optimizer bench_cross_entropy > "$out/build.log" 2>&1; then
  say "build failed"; grep -B2 -A8 "error" "$out/build.log" | head -60; exit 1
fi
grep -E "saturn-worker:|Added CUDA NVCC flags" "$out/cmake.log"
ldd build-gpu/bin/saturn-worker | grep -E "cudart|not found"
say built
timeout -s KILL "$(cap 120 300)" build-gpu/bin/worker_tests --gtest_filter='Models.CrossEntropy*:*OnCuda*:FlatOptimizer*:Training.CudaGraph*:Offload*:Fsdp.OneRank*:Gpipe.OneStage*' \
  > "$out/tests.log" 2>&1; say "tests: $?"
grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|mean_cross_entropy on" "$out/tests.log" | head -30
for dtype in "" --fp32; do
  timeout -s KILL "$(cap 60 320)" build-gpu/bin/bench_cross_entropy --repeats 20 $dtype --json \
    >> "$out/cross_entropy.jsonl" 2>&1; say "cross-entropy $dtype: $?"
done
cat "$out/cross_entropy.jsonl"
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
timeout -s KILL "$(left 480)" python3 bench/worker/techniques.py offload \
  --worker build-gpu/bin/saturn-worker --json --timeout 160 > "$out/offload.md" 2> "$out/offload.err"
say "offload: $?"; cat "$out/offload.md"; tail -5 "$out/offload.err"
SPECS="gpt2-medium:8" timeout -s KILL "$(left 560)" bench/worker/throughput.sh build-gpu \
  > "$out/throughput.md" 2> "$out/throughput.err"; say "throughput: $?"
cat "$out/throughput.md"; tail -5 "$out/throughput.err"
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
for params in '{"grad_accum": 1}' '{"grad_accum": 1, "cuda_graph": true}'; do
  timeout -s KILL "$(cap 45 575)" build-gpu/bin/saturn-worker measure --job "$job" --technique single \
    --devices cuda:0 --warmup-steps 2 --measure-steps 3 --params "$params" \
    > "$out/probe.out" 2> "$out/probe.err"
  say "measure with probes $params: exit $?"; cat "$out/probe.out"; tail -25 "$out/probe.err"
done
timeout -s KILL "$(left 585)" build-gpu/bin/bench_host_optimizer --params 1073741824 --repeats 3 --json \
  > "$out/host_optimizer.jsonl" 2>&1; say "host optimizer: $?"; cat "$out/host_optimizer.jsonl"
timeout -s KILL "$(left 595)" python3 bench/worker/techniques.py overheads \
  --worker build-gpu/bin/saturn-worker --json --timeout 40 > "$out/overheads.md" 2> "$out/overheads.err"
say "overheads: $?"; cat "$out/overheads.md"; tail -5 "$out/overheads.err"
