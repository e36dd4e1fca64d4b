# What every command of torch-ddp shares with the worker protocol (docs/worker-protocol.md): the
# exit codes, Failure (an `error` event and its kind's exit code), the Events writer (JSON lines on
# the original stdout, everything else on stderr), the stop flag set by SIGTERM / SIGINT, and the
# process's age and peak memory that events report (seconds, bytes).
import json
import math
import os
import resource
import signal
import sys
import time


TECHNIQUE = "torch-ddp"
EXIT_OK, EXIT_CONFIG, EXIT_DATA, EXIT_OOM, EXIT_INTERNAL, EXIT_STOPPED = 0, 2, 3, 4, 5, 10
EXIT_FOR_KIND = {"config": EXIT_CONFIG, "data": EXIT_DATA, "oom": EXIT_OOM,
                 "internal": EXIT_INTERNAL}
EVAL_PROBE_SAMPLES = 64  # what `eval_s` is measured over (the protocol's)


class Failure(Exception):
    """Ends the run with an `error` event of `kind` and that kind's exit code."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def log(message):
    print(f"{TECHNIQUE}: {message}", file=sys.stderr, flush=True)


# ---- Events ------------------------------------------------------------------------------------

class Events:
    """JSON lines on the original stdout; anything else printed goes to stderr. Rank 0 prints
    every event, other ranks only `error`. A closed pipe (the orchestrator is gone) is noted once
    and later events are dropped: the run still checkpoints on the SIGTERM that follows."""

    def __init__(self):
        self.fd = os.dup(1)       # not inherited by the processes we start
        os.dup2(2, 1)             # stray prints (ours, a library's) go to stderr
        sys.stdout = sys.stderr
        self.rank = int(os.environ.get("RANK", "0") or 0)
        self.closed = False

    def write_line(self, line):
        if self.closed:
            return
        data = (line.rstrip("\n") + "\n").encode()
        try:
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
        except (BrokenPipeError, OSError):
            self.closed = True
            log("stdout is closed (the orchestrator is gone); events from here on are not sent")

    def emit(self, name, **fields):
        if self.rank != 0 and name != "error":
            return
        self.write_line(json.dumps(_finite({"event": name, **fields}), allow_nan=False))

    def error(self, kind, message):
        self.emit("error", kind=kind, message=message, rank=self.rank)
        return EXIT_FOR_KIND[kind]


def _finite(value):
    """JSON has no NaN or infinity: such numbers are written as null (as saturn-worker's are)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item"):  # a NumPy or torch scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---- Signals -----------------------------------------------------------------------------------

STOP = {"requested": False}


def _on_stop_signal(signum, frame):
    STOP["requested"] = True


def catch_stop_signals():
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGINT, _on_stop_signal)


# ---- Process start and memory ------------------------------------------------------------------

def process_age_s():
    """Seconds since this process started (/proc: its start time against the uptime)."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time() - _STARTED


_STARTED = time.time()


def peak_rss_bytes():
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024.0


def is_out_of_memory(e):
    text = str(e)
    return (isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError"
            or "out of memory" in text or "can't allocate memory" in text)
