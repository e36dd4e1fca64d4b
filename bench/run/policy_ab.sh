#!/bin/bash
# Real A/B of scheduling policies on this machine: the same workload run for real under each
# policy, interleaved (the order alternates every repetition), from one profile (a run directory
# profiled once and copied, so every run plans from the same table), beside what
# `saturn simulate` predicts from that table. Prints one line per run and a summary (medians).
#
#   bench/run/policy_ab.sh [WORKLOAD] [REPETITIONS] [POLICIES...]
#   defaults: examples/quickstart.yaml, 5, saturn current-practice
#
# The makespan of a run is its training span: the last job's end minus the first job's start
# (run clock, from `saturn status --json`), so process start-up of the orchestrator and the
# cached profiling are left out. Needs build/bin/saturn (and saturn-worker beside it).
set -euo pipefail
cd "$(dirname "$0")/../.."
workload=${1:-examples/quickstart.yaml}
reps=${2:-5}
shift $(( $# >= 2 ? 2 : $# )) || true
policies=("$@")
[ ${#policies[@]} -gt 0 ] || policies=(saturn current-practice)
saturn=$PWD/build/bin/saturn
work=$(mktemp -d /tmp/saturn-ab.XXXXXX)
mkdir -p "$work/emptylib"
echo "# workload $workload, $reps repetitions, policies ${policies[*]}, work dir $work"
echo "# machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
"$saturn" profile "$workload" --dir "$work/template" --library "$work/emptylib" --json \
  > "$work/profile.json" 2> "$work/profile.log"
"$saturn" simulate --profiles "$work/profile.json" --policy all --json > "$work/simulated.json" \
  2> /dev/null
span() {  # training span of a run directory, seconds
  "$saturn" status "$1" --json | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
print("%.2f" % (max(j["finished_s"] for j in jobs) - min(j["started_s"] for j in jobs)))'
}
for ((r = 1; r <= reps; r++)); do
  order=("${policies[@]}")
  if ((r % 2 == 0)); then  # alternate the order: neither policy always runs first
    order=(); for ((i = ${#policies[@]} - 1; i >= 0; i--)); do order+=("${policies[i]}"); done
  fi
  for p in "${order[@]}"; do
    dir="$work/run-$p-$r"
    cp -a "$work/template" "$dir"
    "$saturn" run "$workload" --dir "$dir" --library "$work/emptylib" --policy "$p" \
      > "$dir.out" 2>&1
    echo "run $r $p $(span "$dir")"
  done
done | tee "$work/runs.txt"
python3 - "$work" "${policies[@]}" <<'PY'
import json, statistics, sys
work, policies = sys.argv[1], sys.argv[2:]
runs = {}
for line in open(f"{work}/runs.txt"):
    _, _, policy, span = line.split()
    runs.setdefault(policy, []).append(float(span))
sim = json.load(open(f"{work}/simulated.json"))["policies"]
base = policies[-1]
print(f"\n{'policy':<18} {'runs (s)':<40} {'median':>7} {'simulated':>9}")
for p in policies:
    print(f"{p:<18} {' '.join('%.1f' % s for s in runs[p]):<40} {statistics.median(runs[p]):7.1f}"
          f" {sim[p]['makespan_s']:9.1f}")
for p in policies[:-1]:
    real = statistics.median(runs[p]) / statistics.median(runs[base])
    simulated = sim[p]["makespan_s"] / sim[base]["makespan_s"]
    print(f"{p} / {base}: real {real:.3f}, simulated {simulated:.3f}")
PY
