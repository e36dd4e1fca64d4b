#!/usr/bin/env python3
"""setup_memory.py: host memory of FSDP and GPipe ranks, and of offloading with blocks kept on
the device: setting up, and with --checkpoint writing a checkpoint and resuming from it.

Each run is one `saturn-worker execute --steps 1` of a GPT on W CPU ranks (synthetic tokens,
64 tokens per sample, one sample per rank, AdamW); `offload` runs on one rank, once for each
count of blocks kept on the device in --device-blocks (on the CPU the "device" is host memory
too, so the kept blocks' buffers count in the figures). Figures, each the median over --repeats:

  set-up       rank 0's peak resident set when training begins (the `started` event's
               setup_host_peak_bytes: building the model and the rank's buffers)
  run          the largest resident set of any process over the whole run (wait4() on the
               launcher: the largest rank, one training step included; with --checkpoint, a
               checkpoint written at the end)
  resume       (--checkpoint) a second run from that checkpoint: rank 0's set-up peak, which
               now includes reading its part of the checkpoint

With --baseline, a second worker binary (e.g. one built from an earlier commit) runs the same
rows interleaved with the first, so the two are compared in one run.

  python3 bench/worker/setup_memory.py --worker build/bin/saturn-worker \\
      --baseline /tmp/base/build/bin/saturn-worker --model gpt2 --ranks 2 4 --repeats 3
  python3 bench/worker/setup_memory.py --worker build/bin/saturn-worker \\
      --baseline /tmp/base/build/bin/saturn-worker --model gpt2 --techniques offload \\
      --device-blocks 0 6 12 --repeats 3
"""
import argparse, json, os, shutil, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from techniques import events, run  # noqa: E402

GIB = 2**30
SHAPES = {"gpt2": (12, 768), "gpt2-medium": (24, 1024), "gpt2-large": (36, 1280),
          "gpt2-xl": (48, 1600)}  # layers, width
SEQ = 64


def gpt_params(model):
    """Parameters of the worker's GPT at SEQ positions (token and position embeddings, blocks,
    final LayerNorm; the head is tied)."""
    if model not in SHAPES:
        return None
    layers, d = SHAPES[model]
    return 50257 * d + SEQ * d + layers * (12 * d * d + 13 * d) + 2 * d


def kept_params(model, kept):
    """Parameters of the last `kept` blocks of the worker's GPT (the final LayerNorm's block, then
    transformer blocks from the last)."""
    if model not in SHAPES or kept <= 0:
        return 0
    layers, d = SHAPES[model]
    return 2 * d + min(kept - 1, layers) * (12 * d * d + 13 * d)


def job_json(path, model, batch):
    with open(path, "w") as f:
        json.dump({"jobs": [{
            "name": model, "model": model,
            "data": {"format": "synthetic-text", "seq_len": SEQ, "samples": 10000},
            "lr": 1e-4, "weight_decay": 0.1, "grad_clip": 1.0, "batch_size": batch,
            "steps": 100, "gpus": 1, "techniques": ["single", "fsdp", "gpipe"]}]}, f)


def execute(worker, job, technique, ranks, params, timeout, checkpoint=None):
    """One run: (rank 0's set-up peak, the largest process's peak), bytes; None on failure."""
    devices = ",".join(f"cpu:{r}" for r in range(ranks)) if ranks > 1 else "cpu"
    cmd = [worker, "execute", "--job", job, "--technique", technique, "--devices", devices,
           "--params", json.dumps(params), "--steps", "1", "--eval-samples", "0",
           "--log-every", "1"]
    if checkpoint:
        cmd += ["--checkpoint", checkpoint]
    out, rc, rss, wall = run(cmd, timeout)
    if rc != 0:
        return None, None
    started = [e for e in events(out) if e.get("event") == "started"]
    return (started[0].get("setup_host_peak_bytes") if started else None), rss


def sample(worker, job, technique, ranks, params, timeout, with_checkpoint):
    """The figures of one repeat, by name."""
    if not with_checkpoint:
        setup, peak = execute(worker, job, technique, ranks, params, timeout)
        return {"setup": setup, "run": peak}
    directory = tempfile.mkdtemp()
    try:
        setup, peak = execute(worker, job, technique, ranks, params, timeout, directory)
        resume, _ = execute(worker, job, technique, ranks, params, timeout, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {"setup": setup, "run": peak, "resume": resume}


def median_gib(values):
    return statistics.median(values) / GIB if values else None


def cell(value):
    return f" {value:.2f} |" if value else " failed |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", default="build/bin/saturn-worker")
    ap.add_argument("--baseline", help="a second saturn-worker, run side by side")
    ap.add_argument("--model", default="gpt2-medium")
    ap.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--techniques", nargs="+", default=["fsdp", "gpipe"])
    ap.add_argument("--device-blocks", type=int, nargs="+", default=[0],
                    help="offload: counts of blocks kept on the device, one row each")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--checkpoint", action="store_true",
                    help="write a checkpoint at the end of each run, then resume from it")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    workers = [("this", a.worker)] + ([("baseline", a.baseline)] if a.baseline else [])
    figures = ["setup", "run"] + (["resume"] if a.checkpoint else [])
    tmp = tempfile.mkdtemp()
    rows = []
    params = gpt_params(a.model)
    # (technique, ranks, settings): offloading trains one rank.
    cases = [(t, r, {}) for r in a.ranks for t in a.techniques if t != "offload"]
    if "offload" in a.techniques:
        cases += [("offload", 1, {"device_blocks": k}) for k in a.device_blocks]
    for technique, ranks, settings in cases:
        job = os.path.join(tmp, f"job{ranks}.json")
        job_json(job, a.model, ranks)
        samples = {(name, f): [] for name, _ in workers for f in figures}
        for _ in range(a.repeats):
            for name, worker in workers:  # interleaved: the same machine state for both
                got = sample(worker, job, technique, ranks, settings, a.timeout, a.checkpoint)
                for f in figures:
                    if got.get(f) is not None:
                        samples[(name, f)].append(got[f])
        row = {"model": a.model, "technique": technique, "ranks": ranks, "settings": settings,
               "checkpoint": a.checkpoint}
        if "device_blocks" in settings:
            row["kept_params"] = kept_params(a.model, settings["device_blocks"])
        for (name, f), values in samples.items():
            row[f"{name}_{f}_gib"] = median_gib(values)
            row[f"{name}_{f}_runs"] = len(values)
        rows.append(row)
    if params:
        print(f"{a.model}: {params / 1e6:.1f}M parameters, fp32 weights {params * 4 / GIB:.2f} GiB")
    head = "| technique | ranks | settings |"
    for f in figures:
        head += f" {f} peak GiB |"
        if a.baseline:
            head += " baseline's | this / baseline |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for r in rows:
        line = f"| {r['technique']} | {r['ranks']} | {json.dumps(r['settings'])} |"
        for f in figures:
            this = r[f"this_{f}_gib"]
            line += cell(this)
            if a.baseline:
                base = r[f"baseline_{f}_gib"]
                line += cell(base)
                line += f" {this / base:.2f} |" if this and base else " - |"
        print(line)
    kept = [r for r in rows if r.get("kept_params")]
    for r in kept:
        # A kept parameter's host copy (fp32 master and gradient on the CPU; fp32 master, bf16
        # compute copy and gradient on a GPU): 8 bytes, which the worker no longer holds.
        print(f"device_blocks {r['settings']['device_blocks']}: {r['kept_params'] / 1e6:.1f}M "
              f"parameters kept, 8 bytes each = {8 * r['kept_params'] / GIB:.2f} GiB")
    if a.json:
        for r in rows:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
