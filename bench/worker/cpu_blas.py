#!/usr/bin/env python3
"""cpu_blas.py: saturn-worker's CPU training step under each BLAS that Debian's libtorch can load.

Debian's libtorch calls whatever `libblas.so.3` the system's alternatives point at: netlib's
reference BLAS (Debian's default, `libblas3`) or OpenBLAS (`libopenblas0-openmp`, which
scripts/install-deps.sh installs). Nearly all of a CPU step is matrix products, so this decides
CPU training speed (the demo, the tests, CPU device slots). Each row is one
`saturn-worker measure --technique single --devices cpu --no-probes` process, with
LD_LIBRARY_PATH pointing at one BLAS's directory; the BLAS rows are interleaved, --repeats
times, and the table gives each one's median step time. Several --worker binaries (two builds
side by side) make one row per worker and BLAS, interleaved the same way; --blas keeps the BLAS
rows whose name holds it.

  python3 bench/worker/cpu_blas.py --worker build/bin/saturn-worker --model gpt2 --batch 4 \\
      --seq 64 --repeats 3
  python3 bench/worker/cpu_blas.py --worker A/saturn-worker --worker B/saturn-worker \\
      --blas OpenBLAS --model gpt2-tiny --batch 16 --seq 128 --repeats 5
"""
import argparse, json, os, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from techniques import events, run  # noqa: E402

LIB = "/usr/lib/x86_64-linux-gnu"
BLAS = {  # name: directories put first on LD_LIBRARY_PATH (BLAS, and LAPACK built on it)
    "netlib reference BLAS": [f"{LIB}/blas", f"{LIB}/lapack"],
    "OpenBLAS (OpenMP)": [f"{LIB}/openblas-openmp"],
}


def measure(worker, job, dirs, warmup, steps, timeout):
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(dirs))
    cmd = [worker, "measure", "--job", job, "--technique", "single", "--devices", "cpu",
           "--warmup-steps", str(warmup), "--measure-steps", str(steps), "--no-probes",
           "--params", json.dumps({"grad_accum": 1})]
    out, _, _, _ = run(cmd, timeout, env)
    for event in events(out):
        if event.get("event") == "measurement":
            return event["step_s"], event["tokens_per_s"]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="append", help="saturn-worker binary (repeatable); "
                    "default build/bin/saturn-worker")
    ap.add_argument("--blas", default="", help="only the BLAS whose name holds this")
    ap.add_argument("--model", default="gpt2")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    workers = a.worker or ["build/bin/saturn-worker"]
    blas = {name: dirs for name, dirs in BLAS.items()
            if os.path.exists(os.path.join(dirs[0], "libblas.so.3")) and a.blas in name}
    rows = [(w, name) for w in workers for name in blas]
    with tempfile.TemporaryDirectory() as tmp:
        job = os.path.join(tmp, "job.json")
        with open(job, "w") as f:
            json.dump({"jobs": [{
                "name": a.model, "model": a.model,
                "data": {"format": "synthetic-text", "seq_len": a.seq, "samples": 10000},
                "lr": 1e-4, "weight_decay": 0.1, "grad_clip": 1.0, "batch_size": a.batch,
                "steps": 100, "gpus": 1, "techniques": ["single"]}]}, f)
        steps = {row: [] for row in rows}
        for _ in range(a.repeats):
            for worker, name in rows:
                r = measure(worker, job, blas[name], a.warmup, a.steps, a.timeout)
                if r:
                    steps[(worker, name)].append(r[0])
    tokens = a.batch * a.seq
    print(f"{a.model}, batch {a.batch} x {a.seq} tokens, `single` on the CPU "
          f"({os.cpu_count()} cores); median of {a.repeats} runs' median step")
    print("| worker | BLAS | step s | tokens/s | runs |")
    print("|---|---|---|---|---|")
    for (worker, name), s in steps.items():
        if not s:
            print(f"| {worker} | {name} | failed | | 0 |")
            continue
        m = statistics.median(s)
        print(f"| {worker} | {name} | {m:.3f} | {tokens / m:.0f} | {len(s)} |")


if __name__ == "__main__":
    main()
