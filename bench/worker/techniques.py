#!/usr/bin/env python3
"""techniques.py: saturn-worker's large-model techniques on one GPU (issue 7's GPU figures).

  offload   `offload` training of a model too large for the GPU with fp32 Adam states
            (default gpt2-4b, the 4.24B GPT of NOTES.md), side by side in the same run with
            PyTorch FSDP + CPUOffload(offload_params=True) on the same model and batch
            (reference_fsdp_offload.py): `offload` as its search sets it up (the most blocks
            kept on the GPU that fit, `device_blocks`), then with every block streamed.
            --device-memory-bytes caps the worker's GPU memory (the H100's 80 GB on an H200,
            say: `saturn-worker --device-memory-bytes`); --rows picks rows and their order.
  overheads `single`, `fsdp` (one rank) and `gpipe` (one stage), each with and without
            activation checkpointing, `fsdp` with its shards in host memory (cpu_offload), and
            `offload` (one and two blocks in flight) on a model that fits (default
            gpt2-medium, 8 x 1024): step time against `single` and peak GPU memory.

Each worker row is one `saturn-worker measure` process (bf16, synthetic tokens, AdamW,
clipping 1.0; median of the timed steps; no evaluation or checkpoint probe); its host peak
resident set comes from wait4(). Prints a Markdown table and, with --json, one JSON line per
row.

  python3 bench/worker/techniques.py offload --worker build-gpu/bin/saturn-worker
  python3 bench/worker/techniques.py offload --device-memory-bytes 85520809984 \
      --rows search reference streamed           # as on an 80 GB H100
  python3 bench/worker/techniques.py overheads --worker build-gpu/bin/saturn-worker
"""
import argparse, json, os, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
GIB = 2**30


def job_yaml(path, model, batch):
    with open(path, "w") as f:
        f.write(f"""jobs:
  - name: {model}
    model: {model}
    data: {{format: synthetic-text, seq_len: 1024, samples: 100000}}
    lr: 1e-4
    weight_decay: 0.1
    grad_clip: 1.0
    batch_size: {batch}
    steps: 1000
    gpus: 1
    techniques: [single, fsdp, gpipe, offload]
""")


def run(cmd, timeout, env=None):
    """Runs cmd (in `env`, default ours); returns (stdout, exit code, the child's peak resident
    set in bytes, wall s)."""
    t0 = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        _, status, usage = os.wait4(p.pid, 0)
        timer.cancel()
        p.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        sys.stderr.write(f"{' '.join(cmd)}: exit {code}\n{stderr[-3000:]}\n")
    return stdout, code, usage.ru_maxrss * 1024, time.time() - t0


def events(stdout):
    """The worker's JSON-line events in `stdout`, other lines skipped."""
    for line in stdout.splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def measure(worker, job, technique, params, warmup, steps, timeout, extra=()):
    cmd = [worker, "measure", "--job", job, "--technique", technique, "--devices", "cuda:0",
           "--warmup-steps", str(warmup), "--measure-steps", str(steps), "--no-probes",
           "--params", json.dumps(params), *extra]
    out, rc, rss, wall = run(cmd, timeout)
    row = {"impl": f"saturn-worker {technique} {json.dumps(params)}", "wall_s": wall,
           "host_peak_rss_gib": rss / GIB}
    for event in events(out):
        if event.get("event") == "measurement":
            row.update(step_s=event["step_s"], tokens_per_s=event["tokens_per_s"],
                       gpu_peak_gib=event["peak_memory_bytes"] / GIB)
        elif event.get("event") == "error":
            row["error"] = f"{event.get('kind')}: {event.get('message')}"
    if "step_s" not in row and "error" not in row:
        row["error"] = f"exit {rc}"
    return row


def search(worker, job, technique, warmup, steps, timeout, extra=()):
    """`saturn-worker search` (no evaluation or checkpoint probes): the setting it picks, measured,
    and what it tried."""
    cmd = [worker, "search", "--job", job, "--technique", technique, "--devices", "cuda:0",
           "--warmup-steps", str(warmup), "--measure-steps", str(steps), "--no-probes", *extra]
    out, rc, rss, wall = run(cmd, timeout)
    row = {"impl": f"saturn-worker {technique} (search)", "wall_s": wall,
           "host_peak_rss_gib": rss / GIB}
    for event in events(out):
        if event.get("event") == "search_result" and event.get("feasible"):
            row.update(impl=f"saturn-worker {technique} {json.dumps(event['params'])} (search)",
                       step_s=event["step_s"], tokens_per_s=event["tokens_per_s"],
                       gpu_peak_gib=event["peak_memory_bytes"] / GIB,
                       tried=len(event.get("tried", [])))
        elif event.get("event") == "search_result":
            row["error"] = event.get("reason", "infeasible")
        elif event.get("event") == "error":
            row["error"] = f"{event.get('kind')}: {event.get('message')}"
    if "step_s" not in row and "error" not in row:
        row["error"] = f"exit {rc}"
    return row


def table(rows):
    """Markdown rows; tokens/s against PyTorch's row where there is one, else the first row."""
    measured = [r for r in rows if "step_s" in r]
    first = next((r for r in measured if r["impl"].startswith("pytorch")),
                 measured[0] if measured else None)
    print(f"| implementation | step s | tokens/s | vs {first['impl'] if first else '-'} "
          "| GPU peak GiB | host peak RSS GiB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "step_s" not in r:
            print(f"| {r['impl']} | failed: {r.get('error', '?')[:120]} | | | | |")
            continue
        ratio = r["tokens_per_s"] / first["tokens_per_s"] if first else 0
        print(f"| {r['impl']} | {r['step_s']:.3f} | {r['tokens_per_s']:.0f} | {ratio:.2f}x | "
              f"{r.get('gpu_peak_gib', 0):.1f} | {r.get('host_peak_rss_gib', 0):.1f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["offload", "overheads"])
    ap.add_argument("--worker", default="build-gpu/bin/saturn-worker")
    ap.add_argument("--model")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=400, help="seconds per row")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--rows", nargs="+", choices=["reference", "search", "streamed"],
                    default=["reference", "search", "streamed"],
                    help="offload: the rows to run, in this order")
    ap.add_argument("--reference-warmup", type=int, help="untimed PyTorch steps (default --warmup)")
    ap.add_argument("--device-memory-bytes", type=int,
                    help="the worker's GPU memory cap (saturn-worker --device-memory-bytes)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()

    class Rows(list):
        """Rows, each printed as a JSON line (with --json) as soon as it is measured, so that a
        run killed at its deadline keeps the rows it finished."""

        def append(self, row):
            super().append(row)
            if a.json:
                print(json.dumps(dict(row, model=model, batch=batch)), flush=True)

    rows = Rows()
    if a.mode == "offload":
        model, batch = a.model or "gpt2-4b", a.batch or 4
        job = os.path.join(tmp, "job.yaml")
        job_yaml(job, model, batch)
        extra = (["--device-memory-bytes", str(a.device_memory_bytes)]
                 if a.device_memory_bytes else [])
        for name in a.rows:
            if name == "reference" and not a.skip_reference:
                warmup = a.warmup if a.reference_warmup is None else a.reference_warmup
                cmd = [sys.executable, os.path.join(HERE, "reference_fsdp_offload.py"),
                       "--model", model, "--batch", str(batch), "--warmup", str(warmup),
                       "--steps", str(a.steps)]
                out, rc, rss, wall = run(cmd, a.timeout)
                row = {"impl": "pytorch FSDP + CPUOffload", "wall_s": wall,
                       "host_peak_rss_gib": rss / GIB}
                try:
                    row.update(json.loads(out.strip().splitlines()[-1]))
                except (ValueError, IndexError):
                    row["error"] = f"exit {rc}"
                rows.append(row)
            elif name == "search":
                rows.append(search(a.worker, job, "offload", a.warmup, a.steps, 2 * a.timeout,
                                   extra))
            elif name == "streamed":
                rows.append(measure(a.worker, job, "offload",
                                    {"grad_accum": 1, "blocks_in_flight": 2, "device_blocks": 0},
                                    a.warmup, a.steps, a.timeout, extra))
    else:
        model, batch = a.model or "gpt2-medium", a.batch or 8
        job = os.path.join(tmp, "job.yaml")
        job_yaml(job, model, batch)
        for technique, params in [("single", {"grad_accum": 1}),
                                  ("fsdp", {"grad_accum": 1, "activation_checkpointing": False}),
                                  ("fsdp", {"grad_accum": 1, "activation_checkpointing": True}),
                                  ("fsdp", {"grad_accum": 1, "activation_checkpointing": True,
                                            "cpu_offload": True}),
                                  ("gpipe", {"micro_batches": 1}),
                                  ("gpipe", {"micro_batches": 1, "activation_checkpointing": True}),
                                  ("offload", {"grad_accum": 1, "blocks_in_flight": 1}),
                                  ("offload", {"grad_accum": 1, "blocks_in_flight": 2})]:
            rows.append(measure(a.worker, job, technique, params, a.warmup, a.steps, a.timeout))
    print(f"{a.mode}: {model}, batch {batch} x 1024, bf16, AdamW, one GPU")
    table(rows)


if __name__ == "__main__":
    main()
