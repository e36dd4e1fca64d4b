# torch-ddp's entry point behind torch_ddp.py: sets up the event stream, parses the command line,
# runs the command and turns every failure into one `error` event and its exit code (config 2,
# data 3, oom 4, internal 5; docs/worker-protocol.md#exit-codes). Also the `info` command.
import signal

from .arguments import parse_args
from .execute import run_execute
from .protocol import EXIT_OK, TECHNIQUE, Events, Failure, catch_stop_signals, is_out_of_memory
from .search import run_measure, run_search
from .trainer import import_torch


def run_info(events):
    torch, _ = import_torch()
    import torch.nn.functional as F
    dist = torch.distributed
    sdpa = hasattr(F, "scaled_dot_product_attention")
    events.emit("info", techniques=[TECHNIQUE], torch=torch.__version__,
                features={"scaled_dot_product_attention": sdpa, "fused_adamw": False,
                          "cuda_graphs": False, "fused_cross_entropy": False},
                cuda_devices=torch.cuda.device_count() if torch.cuda.is_available() else 0,
                distributed={"gloo": dist.is_available() and dist.is_gloo_available(),
                             "nccl": dist.is_available() and dist.is_nccl_available()},
                protocol=1)
    return EXIT_OK


def main(argv, script):
    """Runs the command line `argv` (without the program name) and returns the exit code.
    `script`: torch_ddp.py's absolute path, which the processes it starts run."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    events = Events()
    try:
        a = parse_args(argv)
        if a.command in ("execute", "search"):
            catch_stop_signals()
        if a.command == "execute":
            return run_execute(a, events, script)
        if a.command == "search":
            return run_search(a, events, script)
        if a.command == "measure":
            return run_measure(a, events)
        return run_info(events)
    except Failure as e:
        return events.error(e.kind, e.message)
    except Exception as e:  # noqa: BLE001: every failure is an event and an exit code
        import traceback
        traceback.print_exc()
        if is_out_of_memory(e):
            return events.error("oom", str(e).splitlines()[0] if str(e) else "out of memory")
        return events.error("internal", f"{type(e).__name__}: {e}".splitlines()[0])
