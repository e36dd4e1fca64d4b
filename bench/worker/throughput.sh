#!/usr/bin/env bash
# bench/worker/throughput.sh: saturn-worker's training throughput (tokens/s, MFU) on one GPU for
# GPT-2 124M, 355M and 774M in bf16, side by side in the same run with the PyTorch eager loop of
# reference_gpt2.py (same architecture, shapes and batch). Needs a CUDA machine, PyTorch, and
# saturn-worker built against that PyTorch (docs/worker.md#gpu-build). Prints a Markdown table.
#
#   bench/worker/throughput.sh [BUILD_DIR] [--compile]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build-gpu}"
compile="${2:-}"
worker="$build/bin/saturn-worker"
tmp="$(mktemp -d)"
peak=989.4e12
echo "| model | batch x seq | implementation | step s | tokens/s | MFU |"
echo "|---|---|---|---|---|---|"
for spec in "gpt2 16" "gpt2-medium 8" "gpt2-large 8"; do
  set -- $spec
  model=$1 batch=$2
  cat > "$tmp/$model.yaml" <<YAML
jobs:
  - name: $model
    model: $model
    data: {format: synthetic-text, seq_len: 1024, samples: 100000}
    lr: 1e-4
    weight_decay: 0.1
    grad_clip: 1.0
    batch_size: $batch
    steps: 1000
    gpus: 1
    techniques: single
YAML
  cpp=$("$worker" search --job "$tmp/$model.yaml" --technique single --devices cuda:0 \
        --warmup-steps 3 --measure-steps 10 | grep '"search_result"')
  py=$(python3 "$here/reference_gpt2.py" --model "$model" --batch "$batch" --steps 10)
  python3 - "$model" "$batch" "$cpp" "$py" "$peak" <<'PY'
import json, sys
model, batch, cpp, py, peak = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4]), float(sys.argv[5])
shapes = {"gpt2": (12, 768), "gpt2-medium": (24, 1024), "gpt2-large": (36, 1280)}
layers, d = shapes[model]
flops_per_token = 6 * py["params"] + 12 * layers * d * 1024
if not cpp.get("feasible"):
    print(f"| {model} | {batch} x 1024 | saturn-worker | infeasible | - | - |")
else:
    tps = cpp["tokens_per_s"]
    print(f"| {model} | {batch} x 1024 | saturn-worker (C++) | {cpp['step_s']:.4f} | {tps:,.0f} | {100 * tps * flops_per_token / peak:.1f}% |")
print(f"| {model} | {batch} x 1024 | {py['impl']} | {py['step_s']:.4f} | {py['tokens_per_s']:,.0f} | {100 * py['mfu']:.1f}% |")
PY
  if [ "$compile" = "--compile" ]; then
    python3 "$here/reference_gpt2.py" --model "$model" --batch "$batch" --steps 10 --compile
  fi
done
rm -rf "$tmp"
