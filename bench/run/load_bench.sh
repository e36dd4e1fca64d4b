#!/usr/bin/env bash
# Pretrained-weight loading (docs/benchmarks.md#fine-tuning): writes a synthetic Hugging Face
# GPT-2 directory (gpt2-xl's shape, 1.56B parameters, BF16 by default) and loads it RUNS times,
# each in a fresh process, printing each run's JSON line and the medians.
#   bench/run/load_bench.sh [DIR] [RUNS] [-- write options, e.g. --dtype F32]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-${TMPDIR:-/tmp}/saturn-load-bench}
runs=${2:-5}
shift $(( $# > 2 ? 2 : $# )) || true
[ "${1:-}" = "--" ] && shift
bench=build/bin/bench_pretrained_load
[ -x "$bench" ] || cmake --build --preset default --target bench_pretrained_load
rm -rf "$dir"
/usr/bin/time -f "write: %e s" "$bench" write "$dir" "$@"
for i in $(seq "$runs"); do
  "$bench" load "$dir"
  "$bench" load "$dir" --build-only
done | tee "$dir.results"
python3 - "$dir.results" <<'PY'
import json, statistics, sys
everything = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in everything if not r["build_only"]]
built = [r for r in everything if r["build_only"]]
med = lambda k, rs=rows: statistics.median(r[k] for r in rs)
gib = 1024 ** 3
print(f"build alone (seeded init, no file): {med('seconds', built):.2f} s, peak RSS {med('peak_rss_bytes', built)/gib:.2f} GiB")
print(f"runs {len(rows)}: load {med('seconds'):.2f} s (median), peak RSS {med('peak_rss_bytes')/gib:.2f} GiB, "
      f"file {rows[0]['file_bytes']/gib:.2f} GiB, fp32 model {rows[0]['fp32_model_bytes']/gib:.2f} GiB, "
      f"peak / model {med('peak_rss_bytes')/rows[0]['fp32_model_bytes']:.3f}, "
      f"peak / (model + file) {med('peak_rss_bytes')/(rows[0]['fp32_model_bytes']+rows[0]['file_bytes']):.3f}")
PY
