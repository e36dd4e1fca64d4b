# The `execute` command (docs/worker-protocol.md#commands): with several devices and no RANK it
# launches one rank per device and relays their events; as a rank it resumes from the newest
# intact checkpoint, trains until the end or --steps, and prints started / step / eval /
# checkpoint / done, or checkpoints and prints `stopped` (exit 10) on SIGTERM or SIGINT.
import json
import math
import os
import sys
import time

from .arguments import parse_devices, parse_params
from .jobfile import load_job
from .protocol import EXIT_OK, EXIT_STOPPED, STOP, TECHNIQUE, Failure, log, peak_rss_bytes
from .ranks import Rank, launch_ranks
from .trainer import Trainer, import_torch


def run_execute(a, events, script):
    """Trains the job (`script`: torch_ddp.py's absolute path, which the ranks run).
    Returns the exit code: EXIT_OK at the end or the --steps limit, EXIT_STOPPED on a
    stop signal (after a checkpoint), a launched rank's failing code."""
    devices = parse_devices(a.devices)
    params = parse_params(a.params)
    job = load_job(a.job, a.name)  # a bad job is one error, before any rank starts
    if len(devices) > 1 and "RANK" not in os.environ:
        # The launcher: one rank process per device, rank 0's events relayed, others' errors.
        def relay(rank, line):
            if rank == 0:
                events.write_line(line)
                return
            try:
                event = json.loads(line)
            except ValueError:
                return
            if isinstance(event, dict) and event.get("event") == "error":
                events.write_line(json.dumps({**event, "rank": rank}))
        code, _ = launch_ranks([sys.executable, script] + sys.argv[1:], len(devices), relay)
        return code
    torch, np = import_torch()
    rank = Rank(torch, devices)
    events.rank = rank.rank
    trainer = Trainer(torch, np, rank, job, params, a.device_memory_bytes)
    resumed = trainer.restore(a.checkpoint) if a.checkpoint else None
    trainer.wrap()
    if resumed:
        for path, reason in resumed[3]:
            events.emit("checkpoint_rejected", path=path, reason=reason, resumed_from=resumed[0])
    if rank.rank == 0 and resumed:
        unverified = "" if resumed[2] else " (unverified: no checksums checked)"
        log(f"resumed from {resumed[0]} at step {resumed[1]}{unverified}")
    elif rank.rank == 0:
        why = "no checkpoint yet" if a.checkpoint else "no checkpoint directory"
        log(f"training {job['name']} from step 0 ({why})")
    until = min(trainer.total_steps, trainer.step + a.steps) if a.steps > 0 else trainer.total_steps
    started = {"job": job["name"], "technique": TECHNIQUE, "world_size": rank.world,
               "devices": devices, "grad_accum": trainer.accum, "micro_batch": trainer.micro,
               "cuda_graph": False, "step": trainer.step, "total_steps": trainer.total_steps,
               "until_step": until, "resumed": resumed is not None, "pid": os.getpid(),
               "setup_host_peak_bytes": peak_rss_bytes()}
    if resumed:
        started["checkpoint"] = {"path": resumed[0], "step": resumed[1], "verified": resumed[2]}
    events.emit("started", **started)
    t0 = time.perf_counter()

    def checkpoint():
        if not a.checkpoint:
            return
        c0 = time.perf_counter()
        path = trainer.save(a.checkpoint)
        events.emit("checkpoint", step=trainer.step, path=path, seconds=time.perf_counter() - c0)

    loss = None  # no step run (resumed at the end): null
    while trainer.step < until:
        # Every rank stops at the same step: any rank's signal stops them all.
        if rank.all_reduce([1.0 if STOP["requested"] else 0.0], op="max")[0] > 0:
            checkpoint()
            events.emit("stopped", step=trainer.step)
            return EXIT_STOPPED
        s = trainer.train_step()
        loss = s["loss"]
        if not math.isfinite(loss):
            raise Failure("config",
                          f"lr: the loss is {loss} at step {s['step']}: training diverged")
        if a.log_every > 0 and (s["step"] % a.log_every == 0 or s["step"] in (1, until)):
            events.emit("step", **s)
        if job["eval_every"] > 0 and s["step"] % job["eval_every"] == 0 and s["step"] != until:
            events.emit("eval", step=s["step"], loss=trainer.evaluate(a.eval_samples))
        if a.checkpoint_every > 0 and s["step"] % a.checkpoint_every == 0 and s["step"] != until:
            checkpoint()
    evaluation = trainer.evaluate(a.eval_samples)
    events.emit("eval", step=trainer.step, loss=evaluation)
    checkpoint()
    events.emit("done", step=trainer.step, total_steps=trainer.total_steps, loss=loss,
                eval_loss=evaluation, seconds=time.perf_counter() - t0)
    rank.close()
    return EXIT_OK
