# torch-ddp's command line: the commands (execute, search, measure, info) and their options, and
# the checks of --devices and --params. A bad command line is a `config` Failure, not argparse's
# exit 2 with a usage message.
import argparse
import json
import re

from .protocol import TECHNIQUE, Failure


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Failure("config", f"{self.prog}: {message}")


def parse_args(argv):
    p = Parser(prog="torch_ddp.py", description="A Saturn technique: PyTorch DDP (worker protocol)")
    sub = p.add_subparsers(dest="command", required=True)

    def job_options(c):
        c.add_argument("--job", required=True, help="workload file holding the job (JSON or YAML)")
        c.add_argument("--name", default="", help="the job's name when the file holds several")
        c.add_argument("--technique", default=TECHNIQUE, help=f"accepted for symmetry: {TECHNIQUE}")
        c.add_argument("--devices", default="cpu",
                       help="one per rank: cpu, cpu:0,cpu:1, cuda:0,cuda:1")
        c.add_argument("--device-memory-bytes", type=float, default=0.0,
                       help="memory each device may use (0: all of it)")
        c.add_argument("--host-memory-bytes", type=float, default=0.0,
                       help="accepted for the protocol; not enforced")

    e = sub.add_parser("execute", help="train the job")
    job_options(e)
    e.add_argument("--params", default="{}", help="settings from search, JSON")
    e.add_argument("--steps", type=int, default=0,
                   help="optimizer steps to run now (0: to the end)")
    e.add_argument("--checkpoint", default="", help="checkpoint directory (resumed from)")
    e.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints")
    e.add_argument("--log-every", type=int, default=1, help="steps between step events")
    e.add_argument("--eval-samples", type=int, default=64, help="held-out samples per evaluation")
    for name in ("search", "measure"):
        c = sub.add_parser(name, help="measure the settings" if name == "search" else "one setting")
        job_options(c)
        c.add_argument("--warmup-steps", type=int, default=2)
        c.add_argument("--measure-steps", type=int, default=3)
        c.add_argument("--no-probes", action="store_true",
                       help="time only the steps, not an evaluation and a checkpoint")
        if name == "measure":
            c.add_argument("--params", required=True)
    sub.add_parser("info", help="what this technique and its PyTorch offer")
    a = p.parse_args(argv)
    if a.command != "info" and a.technique != TECHNIQUE:
        raise Failure("config", f"technique: this program is {TECHNIQUE}, not \"{a.technique}\"")
    if a.command in ("search", "measure") and (a.warmup_steps < 0 or a.measure_steps < 1):
        raise Failure("config", "--warmup-steps must be >= 0 and --measure-steps >= 1")
    return a


def parse_devices(text):
    """['cpu', 'cpu:1', 'cuda:0', 'cuda'] (syntax only; CUDA is checked where torch is loaded)."""
    items = [d.strip() for d in text.split(",")] if text.strip() else []
    if not items:
        raise Failure("config", "devices: no devices given")
    for d in items:
        if not re.fullmatch(r"(cpu|cuda)(:\d+)?", d):
            raise Failure("config", f"devices: \"{d}\" is not a device (cpu, cpu:N, cuda:N)")
    if len({d.split(":")[0] for d in items}) > 1:
        raise Failure("config", f"devices: {text}: all CPU or all CUDA")
    return items


def parse_params(text, allowed=("grad_accum", "micro_batch")):
    try:
        params = json.loads(text)
    except ValueError as e:
        raise Failure("config", f"params: not JSON ({e}): {text}")
    if not isinstance(params, dict):
        raise Failure("config", f"params: expected a JSON object, got {text}")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise Failure("config", f"params: {TECHNIQUE} has no setting {', '.join(unknown)} "
                                f"(it takes {', '.join(allowed)})")
    accum = params.get("grad_accum", 0)
    if not isinstance(accum, int) or isinstance(accum, bool) or accum < 0:
        raise Failure("config", f"params.grad_accum: expected an integer >= 1, got {accum!r}")
    return params
