#!/usr/bin/env bash
# The end-to-end benchmark on a GPU machine: `saturn run` on a small GPT-2 sweep (124M and 355M ×
# two learning rates, byte-level WikiText-2) on this machine's GPUs, from an empty run directory
# and technique library. Prints what docs/benchmarks.md#quickstart records for the GPU: profiling
# time as a share of the run, planned vs actual makespan, and each job's planned vs actual
# runtime (the Trial Runner's estimate error).
#   bench/run/gpu_sweep.sh DATA_FILE [GPU_TYPE] [STEPS]
# DATA_FILE: WikiText-2 text (e.g. ../shared/data/wikitext-2/valid.txt). Needs build/bin/saturn (or
# SATURN) and build/bin/saturn-worker (or SATURN_WORKER) built with CUDA.
set -euo pipefail
data=$(realpath "$1")
gpu_type=${2:-h100-80gb}
steps=${3:-1000}
root=$(cd "$(dirname "$0")/../.." && pwd)
saturn=${SATURN:-$root/build/bin/saturn}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
cat > "$out/sweep.yaml" <<YAML
name: gpt2-wikitext-sweep
jobs:
  - name: gpt
    model: [gpt2, gpt2-medium]
    data: {name: wikitext-2, path: $data, format: text, seq_len: 1024}
    optimizer: adamw
    lr: [3.0e-4, 6.0e-4]
    weight_decay: 0.1
    warmup_steps: 50
    grad_clip: 1.0
    batch_size: 8
    steps: $steps
    eval_every: 250
    gpus: [1]
    techniques: [single]
YAML
start=$(date +%s.%N)
SATURN_LIBRARY_PATH="$out/library" "$saturn" run "$out/sweep.yaml" \
  --dir "$out/run" --gpu-type "$gpu_type" --interval 60 2>&1 | tee "$out/run.log"
end=$(date +%s.%N)
echo
echo "wall-clock: $(python3 -c "print(round($end - $start, 1))") s"
grep -E "^profiled:|makespan" "$out/run.log"
"$saturn" status "$out/run" --json > "$out/status.json"
echo "run directory: $out/run (report.html, saturn.db)"
