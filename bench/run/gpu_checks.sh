#!/usr/bin/env bash
# Issue 7's checks that need a GPU, in priority order, for one device command (about 9 minutes
# on an H200): build the worker, its CUDA tests, the `measure` probe (which crashed on CUDA on
# 2026-11-30; a crash now prints an `error` event naming the phase and a backtrace), offload
# against PyTorch FSDP + CPUOffload on the 4.24B GPT (the 3x target), the host optimizer step
# on this host, then the one-rank overheads with their peak memory (compare them with
# bench/worker/memory_vs_estimate.py). Writes logs under $OUT (default: a temporary directory).
#   bench/run/gpu_checks.sh            # from the repository root, on the GPU machine
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$(mktemp -d)}
t0=$(date +%s)
say() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
left() { echo $(( $1 - ($(date +%s) - t0) )); }  # seconds until $1 s after the start
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc; free -g | head -2
prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DSATURN_BUILD_BENCH=ON > "$out/cmake.log" 2>&1; say "configure: $?"
if ! cmake --build build-gpu --target saturn_worker worker_tests bench_host_optimizer \
    > "$out/build.log" 2>&1; then
  say "build failed"; grep -B2 -A8 "error" "$out/build.log" | head -60; exit 1
fi
say built
timeout 120 build-gpu/bin/worker_tests --gtest_filter='*OnCuda*:FlatOptimizer*:Training.CudaGraph*:Offload*:Fsdp.OneRank*:Gpipe.OneStage*' \
  > "$out/tests.log" 2>&1; say "tests: $?"
grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure" "$out/tests.log" | head -30
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
  timeout 120 build-gpu/bin/saturn-worker measure --job "$job" --technique single \
    --devices cuda:0 --warmup-steps 2 --measure-steps 3 --params "$params" \
    > "$out/probe.out" 2> "$out/probe.err"
  say "measure with probes $params: exit $?"; cat "$out/probe.out"; tail -25 "$out/probe.err"
done
timeout "$(left 420)" python3 bench/worker/techniques.py offload \
  --worker build-gpu/bin/saturn-worker --json --timeout 160 > "$out/offload.md" 2> "$out/offload.err"
say "offload: $?"; cat "$out/offload.md"; tail -5 "$out/offload.err"
timeout "$(left 470)" build-gpu/bin/bench_host_optimizer --params 1073741824 --repeats 3 --json \
  > "$out/host_optimizer.jsonl" 2>&1; say "host optimizer: $?"; cat "$out/host_optimizer.jsonl"
timeout "$(left 560)" python3 bench/worker/techniques.py overheads \
  --worker build-gpu/bin/saturn-worker --json --timeout 40 > "$out/overheads.md" 2> "$out/overheads.err"
say "overheads: $?"; cat "$out/overheads.md"; tail -5 "$out/overheads.err"
