# The processes of a run with several devices. launch_ranks: the parent, which starts one process
# per device (torchrun's variables, a file store in a private directory), relays what they print
# and stops them together. Rank: inside each process, its rank, its device and the process group
# (Gloo on CPUs, NCCL on GPUs) that DistributedDataParallel reduces over.
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time

from .protocol import EXIT_STOPPED, STOP, Failure


# ---- Launching ranks ---------------------------------------------------------------------------

def _die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def launch_ranks(argv, world, on_line, stop_grace_s=60.0, fail_grace_s=10.0):
    """Starts `world` processes of `argv` as ranks 0..world-1 on this machine (torchrun's
    variables, a file store in a private directory, Gloo on the loopback), hands each line they
    print to on_line(rank, line), passes a stop request on, and stops them all when one fails.
    Returns (exit code: the first failing rank's, else 0; that rank or -1)."""
    parent = os.environ.get("TMPDIR") or "/tmp"
    try:
        rendezvous = tempfile.mkdtemp(prefix="saturn-ranks-", dir=parent)  # mode 0700
    except OSError as e:
        raise Failure("internal",
                      f"cannot create the ranks' rendezvous directory under {parent}: {e}")
    procs, buffers = [], []
    selector = selectors.DefaultSelector()
    try:
        for r in range(world):
            env = dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world),
                       LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                       SATURN_RENDEZVOUS_DIR=rendezvous)
            env.setdefault("GLOO_SOCKET_IFNAME", "lo")
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                                 preexec_fn=_die_with_parent)
            os.set_blocking(p.stdout.fileno(), False)
            selector.register(p.stdout, selectors.EVENT_READ, r)
            procs.append(p)
            buffers.append(b"")
        code, failed, kill_at, signalled = 0, -1, None, False
        running = set(range(world))
        open_pipes = world

        def terminate(grace):
            nonlocal kill_at, signalled
            if signalled:
                return
            signalled = True
            for i in running:
                procs[i].send_signal(signal.SIGTERM)
            kill_at = time.monotonic() + grace

        while running or open_pipes:
            for key, _ in selector.select(timeout=0.1):
                r = key.data
                try:
                    chunk = os.read(key.fileobj.fileno(), 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
                    if buffers[r]:
                        on_line(r, buffers[r].decode(errors="replace"))
                    continue
                buffers[r] += chunk
                *lines, buffers[r] = buffers[r].split(b"\n")
                for line in lines:
                    on_line(r, line.decode(errors="replace"))
            for r in sorted(running):
                rc = procs[r].poll()
                if rc is None:
                    continue
                running.discard(r)
                rc = 128 - rc if rc < 0 else rc
                if rc != 0 and failed < 0:
                    code, failed = rc, r
                    if rc != EXIT_STOPPED:
                        terminate(fail_grace_s)
            if STOP["requested"]:
                terminate(stop_grace_s)
            if kill_at is not None and time.monotonic() > kill_at:
                for r in running:
                    procs[r].kill()
        return code, failed
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        selector.close()
        shutil.rmtree(rendezvous, ignore_errors=True)


# ---- One rank ----------------------------------------------------------------------------------

# Objects that own Gloo/NCCL state (the process group, DistributedDataParallel's reducer), held
# until the process leaves with os._exit (torch_ddp.py) and never destroyed. torch 1.13 deadlocks
# destroying them: ~ProcessGroupGloo joins its worker thread while the main thread holds the GIL,
# and that thread, freeing a tensor with a Python object, waits for the GIL (seen as a measure
# rank that printed its measurement and never exited). Whether the last reference drops at a
# function's return, in an exception's traceback or in destroy_process_group, it must not drop.
_HELD_UNTIL_EXIT = []


def hold_until_exit(obj):
    """Keeps `obj` alive until the process ends (see _HELD_UNTIL_EXIT); returns it."""
    _HELD_UNTIL_EXIT.append(obj)
    return obj


class Rank:
    """This process's rank, device and process group."""

    def __init__(self, torch, devices):
        self.torch = torch
        self.rank = int(os.environ.get("RANK", "0") or 0)
        self.world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        self.local_rank = int(os.environ.get("LOCAL_RANK", str(self.rank)) or 0)
        local_world = (int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0)
                       or min(self.world, len(devices)))
        if len(devices) == 1 and self.world > 1 and devices[0] in ("cpu", "cuda"):
            # torchrun with `--devices cpu` (every rank on the CPU) or `--devices cuda`
            name = "cpu" if devices[0] == "cpu" else f"cuda:{self.local_rank}"
        elif self.local_rank >= len(devices):
            raise Failure("config", f"devices: rank {self.rank} (local rank {self.local_rank}) has "
                                    f"no device: {len(devices)} given")
        else:
            name = devices[self.local_rank]
        if name.startswith("cuda"):
            if not torch.cuda.is_available():
                raise Failure("config", f"devices: {name}: no CUDA device is available")
            index = int(name.split(":")[1]) if ":" in name else 0
            if index >= torch.cuda.device_count():
                raise Failure("config", f"devices: {name}: there are {torch.cuda.device_count()} "
                                        "CUDA devices")
            self.device = torch.device("cuda", index)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        torch.set_num_threads(max(1, cores // max(1, local_world)))
        self.group = False
        if self.world > 1:
            import datetime
            import torch.distributed as dist
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            rendezvous = os.environ.get("SATURN_RENDEZVOUS_DIR")
            init = f"file://{rendezvous}/store" if rendezvous else "env://"
            dist.init_process_group(backend, init_method=init, rank=self.rank,
                                    world_size=self.world, timeout=datetime.timedelta(minutes=30))
            self.dist = dist
            self.group = True
            hold_until_exit(dist.distributed_c10d._get_default_group())

    def all_reduce(self, values, op="sum"):
        """values: list of floats, reduced over ranks (sum or max)."""
        if not self.group:
            return list(values)
        t = self.torch.tensor(values, dtype=self.torch.float64, device=self.device)
        ops = self.dist.ReduceOp
        self.dist.all_reduce(t, op=ops.SUM if op == "sum" else ops.MAX)
        return t.tolist()

    def broadcast(self, values):
        if not self.group:
            return list(values)
        t = self.torch.tensor(values, dtype=self.torch.float64, device=self.device)
        self.dist.broadcast(t, 0)
        return t.tolist()

    def barrier(self):
        if self.group:
            self.all_reduce([0.0])

    def close(self):
        """Waits until every rank is here (their collectives are over), so that each may leave
        with os._exit. The group itself is never destroyed (_HELD_UNTIL_EXIT)."""
        self.barrier()
