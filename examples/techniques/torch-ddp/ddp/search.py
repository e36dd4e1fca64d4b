# The `search` command (docs/worker-protocol.md#commands) and the `measure` command it runs: each
# candidate setting (gradient accumulation, largest micro-batch first) is measured in fresh rank
# processes: warm-up steps, timed steps (step_s: the median, seconds), and unless --no-probes one
# evaluation and one checkpoint; the first setting that fits in memory is the `search_result`.
import json
import os
import shutil
import signal
import sys
import tempfile
import time

from .arguments import parse_devices, parse_params
from .jobfile import load_job
from .protocol import (EVAL_PROBE_SAMPLES, EXIT_FOR_KIND, EXIT_OK, EXIT_OOM, EXIT_STOPPED, STOP,
                       Failure, peak_rss_bytes, process_age_s)
from .ranks import Rank, launch_ranks
from .trainer import Trainer, import_torch


def candidates(job, world):
    """Gradient accumulation from the job's, doubling: the largest micro-batch first."""
    out, accum = [], max(1, job["grad_accum"])
    while accum <= job["batch_size"]:
        if job["batch_size"] % (accum * world) == 0:
            out.append({"grad_accum": accum, "micro_batch": job["batch_size"] // (accum * world)})
        accum *= 2
    return out


def run_measure(a, events):
    """One setting on this rank: warm-up steps, timed steps, then (probes) one evaluation and one
    checkpoint written under TMPDIR and removed. Prints a `measurement` event."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # nothing to save: die at once
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    devices = parse_devices(a.devices)
    params = parse_params(a.params)
    job = load_job(a.job, a.name)
    torch, np = import_torch()
    baseline = peak_rss_bytes()
    rank = Rank(torch, devices)
    events.rank = rank.rank
    trainer = Trainer(torch, np, rank, job, params, a.device_memory_bytes)
    trainer.wrap()
    warmup_s = sum(trainer.train_step()["step_s"] for _ in range(a.warmup_steps))
    ready_s = process_age_s()
    times = [trainer.train_step()["step_s"] for _ in range(a.measure_steps)]
    times.sort()
    n = len(times)
    step_s = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    eval_s = checkpoint_s = 0.0
    if not a.no_probes:
        e0 = time.perf_counter()
        trainer.evaluate(EVAL_PROBE_SAMPLES)
        eval_s = time.perf_counter() - e0
        probe = None
        if rank.rank == 0:
            probe = tempfile.mkdtemp(prefix="saturn-checkpoint-probe-",
                                     dir=os.environ.get("TMPDIR") or "/tmp")
        try:
            c0 = time.perf_counter()
            trainer.save(probe)
            checkpoint_s = time.perf_counter() - c0
        finally:
            if probe:
                shutil.rmtree(probe, ignore_errors=True)
    if trainer.cuda:
        peak = float(torch.cuda.max_memory_reserved(rank.device))
    else:
        peak = peak_rss_bytes()
        # The CPU has no allocator cap here: a setting whose tensors outgrew the slot is reported
        # as out of memory after the fact (what torch itself needed before, not counted).
        if a.device_memory_bytes > 0 and peak - baseline > a.device_memory_bytes:
            raise Failure("oom", f"peak {peak - baseline:.3g} bytes beyond PyTorch's "
                                 f"own, more than the device's {a.device_memory_bytes:.3g}")
    events.emit("measurement", step_s=step_s, peak_memory_bytes=peak,
                samples_per_s=job["batch_size"] / step_s,
                tokens_per_s=job["batch_size"] * job["data"]["seq_len"] / step_s,
                total_steps=trainer.total_steps,
                startup_s=ready_s - warmup_s + max(0.0, warmup_s - a.warmup_steps * step_s),
                eval_s=eval_s, checkpoint_s=checkpoint_s)
    rank.close()
    return EXIT_OK


def run_search(a, events, script):
    """Measures candidates() in turn, each in its own ranks (`script` measure ...), and
    prints a `search_result`: the first that fits, or infeasible with what was tried."""
    devices = parse_devices(a.devices)
    job = load_job(a.job, a.name)
    world = len(devices)
    tried = []
    for params in candidates(job, world):
        argv = [sys.executable, script, "measure", "--job", a.job, "--devices", a.devices,
                "--params", json.dumps(params), "--warmup-steps", str(a.warmup_steps),
                "--measure-steps", str(a.measure_steps),
                "--device-memory-bytes", repr(a.device_memory_bytes)]
        if a.name:
            argv += ["--name", a.name]
        if a.no_probes:
            argv.append("--no-probes")
        found = {"result": None, "kind": "", "message": ""}

        def collect(rank, line):
            try:
                event = json.loads(line)
            except ValueError:
                return
            if not isinstance(event, dict):
                return
            if event.get("event") == "measurement" and rank == 0:
                found["result"] = event
            if event.get("event") == "error" and not found["kind"]:
                found["kind"] = event.get("kind", "internal")
                found["message"] = event.get("message", "")
        code, failed = launch_ranks(argv, world, collect)
        if STOP["requested"]:
            return EXIT_STOPPED  # between settings: no result
        outcome = {"params": params}
        if code == 0 and found["result"]:
            measured = {k: v for k, v in found["result"].items() if k != "event"}
            outcome.update(feasible=True, **measured)
            tried.append(outcome)
            events.emit("search_result", feasible=True, params=params, tried=tried, **measured)
            return EXIT_OK
        if found["kind"] == "oom" or code == EXIT_OOM:
            outcome.update(feasible=False,
                           reason=found["message"] or f"out of memory (exit {code})")
            tried.append(outcome)
            continue
        kind = found["kind"] if found["kind"] in EXIT_FOR_KIND else "internal"
        raise Failure(kind, found["message"] or f"measure: rank {failed} exited with {code}")
    reason = ("out of memory at every setting tried" if tried else
              f"batch_size {job['batch_size']} does not split over {world} devices")
    events.emit("search_result", feasible=False, reason=reason, tried=tried)
    return EXIT_OK
