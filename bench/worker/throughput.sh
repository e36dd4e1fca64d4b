#!/usr/bin/env bash
# bench/worker/throughput.sh: saturn-worker's training throughput (tokens/s, MFU) on one GPU for
# GPT-2 124M, 355M and 774M in bf16, side by side in the same run with the PyTorch eager loop of
# reference_gpt2.py (same architecture, shapes and batch). Worker rows per shape: eager steps,
# the same with the loss as ATen operations instead of the fused kernels (SATURN_FUSED_LOSS=0;
# only when the worker has them), and whole steps replayed as a CUDA graph (params
# {"cuda_graph": true}). Needs a CUDA machine, PyTorch, and saturn-worker built against that
# PyTorch (docs/worker.md#gpu-build).
# Prints a Markdown table.
#
#   bench/worker/throughput.sh [BUILD_DIR] [--compile]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build-gpu}"
compile="${2:-}"
worker="$build/bin/saturn-worker"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
peak=989.4e12
echo "| model | batch x seq | implementation | step s | tokens/s | MFU | peak GiB |"
echo "|---|---|---|---|---|---|---|"
specs=${SPECS:-"gpt2:16 gpt2-medium:8 gpt2-medium:16 gpt2-large:8"}
for spec in $specs; do
  spec=${spec/:/ }
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
  measure() {
    local out
    out=$("$worker" measure --job "$tmp/$model.yaml" --technique single --devices cuda:0 \
      --warmup-steps 3 --measure-steps 10 --params "$1" 2>>"$tmp/stderr" || true)
    if grep -q '"measurement"' <<<"$out"; then
      grep '"measurement"' <<<"$out"
    else
      echo "$model $1: $out" >>"$tmp/stderr"
      echo '{"error": true}'
    fi
  }
  eager=$(measure '{"grad_accum": 1}')
  # The same without the fused cross-entropy kernels (ATen operations), when the worker has them.
  unfused='{"error": true, "absent": true}'
  if "$worker" info | grep -q '"fused_cross_entropy":true'; then
    unfused=$(SATURN_FUSED_LOSS=0 measure '{"grad_accum": 1}')
  fi
  graph=$(measure '{"grad_accum": 1, "cuda_graph": true}')
  reference() {
    python3 "$here/reference_gpt2.py" --model "$model" --batch "$batch" --steps 10 $compile "$@" \
      2>>"$tmp/stderr" || echo "{\"impl\": \"pytorch $*\", \"error\": true}"
  }
  py=$(reference)
  pypad=$(reference --pad-vocab)
  python3 - "$model" "$batch" "$eager" "$graph" "$py" "$pypad" "$peak" "$unfused" <<'PY'
import json, sys
model, batch = sys.argv[1], int(sys.argv[2])
eager, graph, py, pypad = (json.loads(a) for a in sys.argv[3:7])
peak = float(sys.argv[7])
unfused = json.loads(sys.argv[8])
shapes = {"gpt2": (12, 768), "gpt2-medium": (24, 1024), "gpt2-large": (36, 1280)}
layers, d = shapes[model]
params = {"gpt2": 124439808, "gpt2-medium": 354823168, "gpt2-large": 774030080}[model]
flops_per_token = 6 * params + 12 * layers * d * 1024
def row(name, m):
    if m.get("error"):
        print(f"| {model} | {batch} x 1024 | {name} | failed (see below) | - | - | - |")
        return
    tps = m["tokens_per_s"]
    print(f"| {model} | {batch} x 1024 | {name} | {m['step_s']:.4f} | {tps:,.0f} | "
          f"{100 * tps * flops_per_token / peak:.1f}% | {m['peak_memory_bytes'] / 2**30:.1f} |")
row("saturn-worker (C++)", eager)
if not unfused.get("absent"):
    row("saturn-worker (C++), loss as ATen ops (SATURN_FUSED_LOSS=0)", unfused)
row("saturn-worker (C++), CUDA graph", graph)
for p in (py, pypad):
    if p.get("error"):
        print(f"| {model} | {batch} x 1024 | {p['impl']} | failed (see below) | - | - | - |")
        continue
    print(f"| {model} | {batch} x 1024 | {p['impl']} | {p['step_s']:.4f} | {p['tokens_per_s']:,.0f} | "
          f"{100 * p['mfu']:.1f}% | {p.get('peak_gib', 0):.1f} |")
PY
done
if [ -s "$tmp/stderr" ]; then echo; echo "errors:"; grep -v Warning "$tmp/stderr" | tail -20; fi
