#!/usr/bin/env bash
# The checks that need a GPU (issues 5 and 7), for one device command of at most 10 minutes
# (run it with timeout_s 600). It builds the worker with its CUDA kernels, then runs the named
# steps in the order given (default: all, in priority order), each killed at its own cap or at
# the run's deadline (DEADLINE seconds after the start, default 590), so that later steps may get
# no time:
#   tests           the worker's CUDA tests, the host optimizer's threads and `measure`/`search`
#                   in a fresh CUDA process with the evaluation and checkpoint probes
#   loss            the fused cross-entropy against log_softmax + nll_loss (bench_cross_entropy)
#   offload         offload on the 4.24B GPT as an 80 GB H100 would run it (`search` under
#                   --device-memory-bytes: the most blocks kept on the GPU that fit) against
#                   PyTorch FSDP + CPUOffload (the 3x target), then with no block kept
#                   (OFFLOAD_ROWS picks rows, default "search reference streamed")
#   probe           `measure` with its probes on GPT-2 124M (a crash prints an `error` event
#                   naming the phase and a backtrace)
#   trace           where GPT-2 355M's step goes (measure --trace, trace_summary.py)
#   throughput      GPT-2 355M against the PyTorch eager loop (bench/worker/throughput.sh;
#                   SPECS picks models and batches, default "gpt2-medium:8")
#   host_optimizer  the host optimizer step on this host's cores (bench_host_optimizer)
#   overheads       the one-rank overheads with their peak memory (compare them with
#                   bench/worker/memory_vs_estimate.py)
# Writes logs under $OUT (default: a temporary directory).
#   bench/run/gpu_checks.sh                                   # from the repository root
#   DEADLINE=250 bench/run/gpu_checks.sh tests host_optimizer throughput
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$(mktemp -d)}
steps=${*:-tests loss offload probe trace throughput host_optimizer overheads}
deadline=${DEADLINE:-590}
t0=$(date +%s)
say() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
# At most $1 seconds, and no later than the deadline; at least 1 (`timeout 0` never times out).
cap() { local l=$(( deadline - ($(date +%s) - t0) )); l=$(( $1 < l ? $1 : l )); echo $(( l > 0 ? l : 1 )); }
# Every step runs under `timeout -s KILL`: `measure` ignores SIGTERM, and a killed wrapper
# (bash, python) must not leave a worker holding the GPU; timeout signals the whole group.
export PYTHONUNBUFFERED=1  # a killed python step keeps the rows it printed
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc; free -g | head -2
export PATH="$PATH:/usr/local/cuda/bin"  # nvcc, for the worker's CUDA kernels
command -v nvcc || echo "no nvcc: the worker is built without its CUDA kernels"
prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
# Checkpoint checksums use xxHash's header (Debian's libxxhash-dev). A machine without it builds
# with the copy the device call carries: before it, `mkdir -p .deps/include && cp
# /usr/include/xxhash.h .deps/include/` here, and name `.deps` in `carry`.
xxhash=()
[ -f /usr/include/xxhash.h ] || xxhash=(-DXXHASH_INCLUDE_DIR="$PWD/.deps/include")
timeout -s KILL 120 cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DSATURN_BUILD_BENCH=ON "${xxhash[@]}" > "$out/cmake.log" 2>&1
say "configure: $?"
if ! timeout -s KILL "$(cap 300)" cmake --build build-gpu --target saturn_worker worker_tests \
    bench_host_optimizer bench_cross_entropy > "$out/build.log" 2>&1; then
  say "build failed"; grep -B2 -A8 "error" "$out/build.log" | head -60; exit 1
fi
grep -E "saturn-worker:|Added CUDA NVCC flags|OpenMP" "$out/cmake.log"
ldd build-gpu/bin/saturn-worker | grep -E "cudart|gomp|not found"
say built
gpt_job() {  # gpt_job FILE MODEL BATCH: a one-job workload on synthetic text
  cat > "$1" <<YAML
jobs:
  - name: $2
    model: $2
    data: {format: synthetic-text, seq_len: 1024, samples: 100000}
    lr: 1e-4
    weight_decay: 0.1
    grad_clip: 1.0
    batch_size: $3
    steps: 1000
    gpus: 1
    techniques: single
YAML
}
# H100 SXM's 81,559 MiB: offload's search as it would run where the model does not fit.
H100_BYTES=85520809984
for step in $steps; do
  if (( $(date +%s) - t0 >= deadline - 5 )); then say "$step: skipped (deadline)"; continue; fi
  case $step in
  tests)
    timeout -s KILL "$(cap 90)" build-gpu/bin/worker_tests \
      --gtest_filter='Models.*:*OnCuda*:FlatOptimizer*:Training.CudaGraph*:Offload*:Fsdp.OneRank*:Gpipe.OneStage*' \
      > "$out/tests.log" 2>&1; say "tests: $?"
    grep -E "^\[  (FAILED|PASSED|SKIPPED) |mean_cross_entropy on" "$out/tests.log" | head -30
    grep -A8 "Failure" "$out/tests.log" | head -40
    ;;
  loss)
    timeout -s KILL "$(cap 25)" build-gpu/bin/bench_cross_entropy --repeats 20 --json \
      >> "$out/cross_entropy.jsonl" 2>&1; say "cross-entropy: $?"
    cat "$out/cross_entropy.jsonl"
    ;;
  offload)
    timeout -s KILL "$(cap 450)" python3 bench/worker/techniques.py offload \
      --worker build-gpu/bin/saturn-worker --json --timeout 140 --reference-warmup 1 \
      --device-memory-bytes "$H100_BYTES" --rows ${OFFLOAD_ROWS:-search reference streamed} \
      > "$out/offload.md" 2> "$out/offload.err"
    say "offload: $?"; cat "$out/offload.md"; tail -8 "$out/offload.err"
    ;;
  probe)
    gpt_job "$out/probe.yaml" gpt2 16
    timeout -s KILL "$(cap 45)" build-gpu/bin/saturn-worker measure --job "$out/probe.yaml" \
      --technique single --devices cuda:0 --warmup-steps 2 --measure-steps 3 \
      --params '{"grad_accum": 1}' > "$out/probe.out" 2> "$out/probe.err"
    say "measure with probes: exit $?"; cat "$out/probe.out"; tail -25 "$out/probe.err"
    ;;
  trace)
    gpt_job "$out/medium.yaml" gpt2-medium 8
    timeout -s KILL "$(cap 60)" build-gpu/bin/saturn-worker measure --job "$out/medium.yaml" \
      --technique single --devices cuda:0 --warmup-steps 3 --measure-steps 3 --no-probes \
      --params '{"grad_accum": 1}' --trace "$out/medium-trace.json" > "$out/trace.out" 2>&1
    say "trace: $?"
    timeout -s KILL "$(cap 30)" python3 bench/worker/trace_summary.py "$out/medium-trace.json" --steps 3 \
      | tee "$out/trace.md"
    gzip -f "$out/medium-trace.json" 2>/dev/null
    ;;
  throughput)
    SPECS="${SPECS:-gpt2-medium:8}" timeout -s KILL "$(cap 320)" bench/worker/throughput.sh build-gpu \
      > "$out/throughput.md" 2> "$out/throughput.err"; say "throughput: $?"
    cat "$out/throughput.md"; tail -5 "$out/throughput.err"
    ;;
  host_optimizer)
    timeout -s KILL "$(cap 60)" build-gpu/bin/bench_host_optimizer --params 268435456 \
      --repeats 3 --json > "$out/host_optimizer.jsonl" 2>&1; say "host optimizer: $?"
    cat "$out/host_optimizer.jsonl"
    ;;
  overheads)
    timeout -s KILL "$(cap 120)" python3 bench/worker/techniques.py overheads \
      --worker build-gpu/bin/saturn-worker --json --timeout 40 \
      > "$out/overheads.md" 2> "$out/overheads.err"
    say "overheads: $?"; cat "$out/overheads.md"; tail -5 "$out/overheads.err"
    ;;
  *) echo "gpu_checks.sh: unknown step '$step'" >&2; exit 2 ;;
  esac
done
