#!/usr/bin/env python3
"""Where a training step's time goes, from a Chrome trace of `saturn-worker measure --trace`.

Sums the GPU time of every kernel, copy and memset in the trace by kind (matrix products,
attention, LayerNorm, GELU, the loss, the optimizer, copies, other elementwise...), divided by
the number of steps traced, and lists the kernels that took longest. A trace with no GPU events
(a CPU run) is summed by ATen operator instead; operators nest, so those times overlap.

    bench/worker/trace_summary.py TRACE.json --steps N [--top 15] [--json]
"""
import argparse
import collections
import json
import re
import sys

# First match wins: order from the most specific pattern to the most general.
KINDS = [
    ("loss (saturn cross-entropy)", r"saturn::worker::kernels|cross_entropy"),
    ("attention", r"flash|fmha|attention|sdpa|efficient_attention"),
    ("matrix products", r"gemm|nvjet|cutlass|xmma|cublas|sm\d\d_|s\d{4}gemm"),
    ("loss (softmax, nll)", r"softmax|nll_loss"),
    ("layer norm", r"layer_?norm|gammabeta"),
    ("gelu", r"gelu"),
    ("optimizer", r"adam|multi_tensor|foreach"),
    ("embedding, gather, scatter", r"embedding|index|gather|scatter"),
    ("copies, casts, concatenation", r"memcpy|memset|copy|cat_?array|catarray|\bcat\b"),
    ("reductions (sums, norms)", r"reduce"),
    ("other elementwise", r"elementwise|vectorized|unrolled"),
]
GPU_CATEGORIES = {"kernel", "gpu_memcpy", "gpu_memset", "Kernel", "Memcpy", "Memset"}


def kind_of(name):
    lowered = name.lower()
    for kind, pattern in KINDS:
        if re.search(pattern, lowered):
            return kind
    return "other"


def summarize(trace, steps, top):
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    gpu = [e for e in events if e.get("ph") == "X" and e.get("cat") in GPU_CATEGORIES]
    source = "gpu" if gpu else "cpu_op"
    if not gpu:
        gpu = [e for e in events if e.get("ph") == "X" and e.get("cat") == "cpu_op"]
    by_kind = collections.Counter()
    by_name = collections.Counter()
    for e in gpu:
        us = float(e.get("dur", 0))
        by_kind[kind_of(e["name"])] += us
        by_name[e["name"]] += us
    total = sum(by_kind.values())
    per_step = lambda us: us / 1e3 / steps  # noqa: E731  ms per step
    return {
        "source": source,
        "steps": steps,
        "events": len(gpu),
        "total_ms_per_step": per_step(total),
        "kinds": [{"kind": k, "ms_per_step": per_step(v), "share": v / total if total else 0}
                  for k, v in by_kind.most_common()],
        "top": [{"name": n, "ms_per_step": per_step(v)} for n, v in by_name.most_common(top)],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--steps", type=int, required=True, help="steps the trace holds")
    ap.add_argument("--top", type=int, default=15, help="longest kernels to list")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    if args.steps < 1:
        sys.exit("trace_summary: --steps must be at least 1")
    try:
        with open(args.trace) as f:
            trace = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"trace_summary: cannot read {args.trace}: {e}")
    s = summarize(trace, args.steps, args.top)
    if args.json:
        print(json.dumps(s))
        return
    what = "GPU time" if s["source"] == "gpu" else "CPU operator time (nested, overlapping)"
    print(f"{what}: {s['total_ms_per_step']:.2f} ms per step over {s['steps']} steps, "
          f"{s['events']} events\n")
    print("| kind | ms per step | share |\n|---|---|---|")
    for k in s["kinds"]:
        print(f"| {k['kind']} | {k['ms_per_step']:.2f} | {100 * k['share']:.1f}% |")
    print("\n| longest | ms per step |\n|---|---|")
    for t in s["top"]:
        name = t["name"] if len(t["name"]) <= 100 else t["name"][:97] + "..."
        print(f"| `{name}` | {t['ms_per_step']:.3f} |")


if __name__ == "__main__":
    main()
