#!/usr/bin/env python3
"""memory_vs_estimate.py: measured peak GPU memory per technique against the estimator.

Reads worker rows measured on a GPU (the JSON that bench/worker/techniques.py --json rows are
collected into, e.g. calibration/measurements/h200-techniques-2026-11-30.json: impl, model,
batch, gpu_peak_gib), asks `saturn estimate --json --knobs` for the same technique, model, batch
and settings on one GPU of the given type, and prints measured against estimated peak memory.

The estimator's peak is what the CUDA caching allocator reserves (state + activations + buffers,
/ usable_memory_fraction, + framework overhead), the measured one the allocator's peak reserved
bytes. Worker settings map to estimator knobs as below; offload keeps GPT's embedding (and the
head tied to it) on the device, the estimator's one resident block.

  python3 bench/worker/memory_vs_estimate.py calibration/measurements/h200-techniques-2026-11-30.json \\
      --saturn build/bin/saturn --gpu h200
"""
import argparse, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from techniques import job_yaml  # noqa: E402

GIB = 2**30


def knobs_of(technique, params):
    checkpointing = bool(params.get("activation_checkpointing", False))
    if technique == "single":
        return {"activation_checkpointing": False}
    if technique == "fsdp":
        return {"activation_checkpointing": checkpointing,
                "cpu_offload": bool(params.get("cpu_offload", False))}
    if technique == "gpipe":
        return {"activation_checkpointing": checkpointing,
                "micro_batches": int(params.get("micro_batches", 1))}
    if technique == "offload":
        return {"activation_checkpointing": True, "resident_blocks": 1}
    return None


def estimate(saturn, tmp, gpu, technique, model, batch, knobs):
    job = os.path.join(tmp, "job.yaml")
    job_yaml(job, model, batch)  # the job the rows were measured on
    cluster = os.path.join(tmp, "cluster.yaml")
    with open(cluster, "w") as f:
        f.write(f"name: one\nnodes:\n  - name: n\n    gpus: 1\n    gpu: {gpu}\n")
    out = subprocess.run([saturn, "estimate", job, "--cluster", cluster, "--json", "--knobs",
                          json.dumps(knobs)], capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip()
    table = json.loads(out.stdout)
    for task in table["tasks"]:
        for config in task["configs"]:
            if config["technique"] == technique:
                return config["peak_memory_bytes"], None
    return None, "no feasible estimate"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("measurements")
    ap.add_argument("--saturn", default="build/bin/saturn")
    ap.add_argument("--gpu", default="h200")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with open(a.measurements) as f:
        rows = json.load(f)["rows"]
    tmp = tempfile.mkdtemp()
    print("| model | batch | technique | settings | measured GiB | estimated GiB | estimate / measured |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        impl = r.get("impl", "")
        if not impl.startswith("saturn-worker ") or "gpu_peak_gib" not in r:
            continue
        _, technique, params = impl.split(" ", 2)
        params = json.loads(params)
        knobs = knobs_of(technique, params)
        if knobs is None:
            continue
        peak, error = estimate(a.saturn, tmp, a.gpu, technique, r["model"], r["batch"], knobs)
        settings = ", ".join(f"{k}={v}" for k, v in params.items() if k != "grad_accum") or "-"
        if peak is None:
            print(f"| {r['model']} | {r['batch']} | {technique} | {settings} | "
                  f"{r['gpu_peak_gib']:.1f} | failed: {error[:100]} | |")
            continue
        ratio = peak / GIB / r["gpu_peak_gib"]
        print(f"| {r['model']} | {r['batch']} | {technique} | {settings} | {r['gpu_peak_gib']:.1f} | "
              f"{peak / GIB:.1f} | {ratio:.2f} |")
        if a.json:
            print(json.dumps({"model": r["model"], "batch": r["batch"], "technique": technique,
                              "params": params, "knobs": knobs, "measured_gib": r["gpu_peak_gib"],
                              "estimated_gib": peak / GIB}), file=sys.stderr)


if __name__ == "__main__":
    main()
