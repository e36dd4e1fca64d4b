#!/usr/bin/env python3
# Chaos benchmark: fault tolerance of `saturn run`, measured (issue 24). Not a CI test.
#
# It trains the quickstart (examples/quickstart.yaml: 4 tiny GPT-2 jobs of 100 steps on 2 CPU
# device slots) while a seeded schedule SIGKILLs things, many times, and measures what the run
# survived and what it cost:
#
#   baseline      uninterrupted runs (two: the second shows whether a repeat is bit-identical)
#   workers       SIGKILL running `saturn-worker execute` processes at random times — a job's
#                 whole rank group (the launcher's process group) or one process of it (the
#                 launcher or one rank) — while the orchestrator stays up and relaunches them
#   orchestrator  SIGKILL the `saturn run` process itself at random times, wait for its workers
#                 (they checkpoint on the parent-death SIGTERM and exit, releasing the run
#                 directory's lock), start the same command again; until it exits 0
#
# Profiling is kept out of the measurement: `saturn profile` runs once into a template run
# directory that every run copies (as bench/run/policy_ab.sh does), so every run plans from the
# same profile table. Every run passes `--library` an empty directory (built-in techniques
# only), `--checkpoint-interval` (default 1 s, so a kill loses little) and `--max-retries 100`
# (the default, 2 relaunches per job per invocation, would fail jobs under many kills).
#
# Measured per run and per mode: kills delivered and survived (the killed job, or the run, still
# completed), jobs done, launches, steps redone (from the run's event store, saturn.db: for each
# interrupted launch of a job, the highest step it reported minus the step the next launch
# that started training resumed from) against the checkpoint interval in steps of the launch
# that was killed (its --checkpoint-every), wall time against the uninterrupted runs, and each job's final weights
# (checkpoints/NAME/LATEST -> model.safetensors) against the first uninterrupted run's: the
# maximum absolute difference, and whether the job ran in the same configuration throughout
# (technique, device count, micro-batch, accumulation) as in the baseline: where it did not,
# the float reduction order differs and small differences are expected.
#
# Usage (Python 3 standard library only; Linux, reads /proc):
#
#   python3 bench/chaos/chaos.py [--modes baseline,workers,orchestrator] [--seed 1]
#       [--worker-runs 2] [--orchestrator-runs 2] [--kills-per-run 12]
#       [--orchestrator-kills-per-run 8] [--checkpoint-interval 1] [--policy saturn]
#       [--quiet-timeout 60] [--bin build/bin] [--workload examples/quickstart.yaml]
#       [--work DIR] [--json OUT]
#
# e.g. (figures in docs/benchmarks.md#chaos; ~2-3 min of runs on 2 cores, plus waits):
#   python3 bench/chaos/chaos.py --bin /tmp/chaos-bin --seed 1
#   python3 bench/chaos/chaos.py --bin /tmp/chaos-bin --seed 11 --policy current-practice \
#       --worker-runs 1 --orchestrator-runs 1
#
# --policy current-practice puts every job on ddp x2 (a launcher and two ranks), so worker
# kills also hit single ranks and launchers; saturn's plan for the quickstart is one process
# per job. Before each run the script waits (up to --quiet-timeout s) for other processes to use
# under --quiet-load cores, and reports the load they put on the machine during each run
# ("other load"): wall times are comparable only where it is near 0.
#
# --bin is a directory holding `saturn` and `saturn-worker` (saturn runs the saturn-worker
# beside itself; SATURN_WORKER is removed from the environment). Run seed s of a mode uses
# seed s + run index. Everything is kept under --work (default: a new /tmp/saturn-chaos.*)
# for inspection: run directories, each run's `saturn run` output (NAME.out), results.json
# (every run's kills, launches and per-job figures).
# Exit status: 0 when every job of every run completed, 1 otherwise.
import argparse
import array
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time

# ---------------------------------------------------------------------------- /proc helpers


def proc_stat(pid):
    """(ppid, pgid, state) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[2]), rest[0]


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_env(pid, name):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(name.encode() + b"="):
                    return item.split(b"=", 1)[1].decode(errors="replace")
    except OSError:
        pass
    return None


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[2] not in ("Z", "X")


def descendants(root):
    """Live descendants of `root` (pids), from one scan of /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st is None or st[2] in ("Z", "X"):
            continue
        children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def option(argv, name):
    for i, a in enumerate(argv[:-1]):
        if a == name:
            return argv[i + 1]
    return None


def running_workers(orchestrator):
    """{job: {"launcher": pid, "pgid": pgid, "ranks": [pids]}} of `saturn-worker execute`
    processes under the orchestrator: a launcher is its child, ranks are the launcher's."""
    jobs = {}
    procs = descendants(orchestrator)
    info = {}
    for pid in procs:
        argv = proc_cmdline(pid)
        st = proc_stat(pid)
        if st is None or len(argv) < 2 or not argv[0].endswith("saturn-worker"):
            continue
        if argv[1] != "execute":
            continue
        info[pid] = (st, argv)
    for pid, (st, argv) in info.items():
        ck = option(argv, "--checkpoint")
        if ck is None:
            continue
        job = os.path.basename(ck.rstrip("/"))
        if st[0] == orchestrator:
            jobs.setdefault(job, {"launcher": None, "pgid": None, "ranks": []})
            jobs[job]["launcher"] = pid
            jobs[job]["pgid"] = st[1]
    for pid, (st, argv) in info.items():
        if st[0] in info and info[st[0]][0][0] == orchestrator:
            job = os.path.basename(option(argv, "--checkpoint").rstrip("/"))
            if job in jobs:
                jobs[job]["ranks"].append(pid)
    return {j: v for j, v in jobs.items() if v["launcher"] is not None}


def machine_busy_s():
    """CPU-seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """Other processes' load during a run: the machine's busy CPU-seconds minus those of this
    script's (waited-for) children, in cores. Workers orphaned by a kill are reaped by init, so
    their last moments (a checkpoint, exiting) count as others': a slight overestimate."""

    def __init__(self):
        self.busy, self.mine, self.t = machine_busy_s(), children_cpu_s(), time.monotonic()

    def others(self):
        wall = time.monotonic() - self.t
        other = (machine_busy_s() - self.busy) - (children_cpu_s() - self.mine)
        return max(0.0, other) / wall if wall > 0 else 0.0


# ---------------------------------------------------------------------------- safetensors


DTYPES = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "U8": "B", "I8": "b", "I16": "h",
          "BOOL": "B"}


def read_safetensors(path):
    """{name: (shape, array)} of a safetensors file (F32 and the integer types; F16/BF16 as
    raw bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = data[base + b:base + e]
        code = DTYPES.get(t["dtype"])
        if code is None:
            out[name] = (tuple(t["shape"]), raw)
            continue
        a = array.array(code)
        a.frombytes(raw)
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = (tuple(t["shape"]), a)
    return out


def final_model(run_dir, job):
    ck = os.path.join(run_dir, "checkpoints", job)
    try:
        with open(os.path.join(ck, "LATEST")) as f:
            latest = f.read().strip()
    except OSError:
        return None, None
    path = os.path.join(ck, os.path.basename(latest), "model.safetensors")
    if not os.path.exists(path):
        return None, None
    return path, read_safetensors(path)


def compare_models(a, b):
    """(max abs difference, tensors that differ, tensors, note) between two models."""
    if set(a) != set(b):
        return float("inf"), None, len(a), "different tensor names"
    worst, differ = 0.0, 0
    for name in sorted(a):
        sa, xa = a[name]
        sb, xb = b[name]
        if sa != sb:
            return float("inf"), None, len(a), f"{name}: shape {sa} vs {sb}"
        if xa == xb:
            continue
        differ += 1
        if isinstance(xa, bytes):
            return float("inf"), differ, len(a), f"{name}: raw bytes differ"
        d = max(abs(p - q) for p, q in zip(xa, xb))
        worst = max(worst, d)
        if d == 0:  # e.g. -0.0 against 0.0 (== says equal), or NaNs
            differ -= 1
    return worst, differ, len(a), ""


# ---------------------------------------------------------------------------- the run store


def read_events(run_dir):
    con = sqlite3.connect(f"file:{os.path.join(run_dir, 'saturn.db')}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT seq, job, time_s, kind, event FROM events ORDER BY seq").fetchall()
    finally:
        con.close()
    by_job = {}
    for seq, job, t, kind, event in rows:
        try:
            e = json.loads(event)
        except ValueError:
            e = {}
        by_job.setdefault(job, []).append((seq, t, kind, e))
    return by_job


def launches_of(events):
    """Each launch of a job: its configuration, the step it started at, the highest step it
    reported, how it ended."""
    out = []
    for _, t, kind, e in events:
        if kind == "launch":
            argv = e.get("argv", [])
            params = {}
            try:
                params = json.loads(option(argv, "--params") or "{}")
            except ValueError:
                pass
            every = option(argv, "--checkpoint-every")
            out.append({"t": t, "technique": e.get("technique"), "gpus": len(e.get("gpus", [])),
                        "micro_batch": params.get("micro_batch"),
                        "grad_accum": params.get("grad_accum"),
                        "launch_checkpoint_step": e.get("checkpoint_step", 0),
                        "checkpoint_every": int(every) if every else None,
                        "started": None, "last": None, "exit": None, "done": False,
                        "stopped": False, "switch": False, "checkpoints": []})
        elif not out:
            continue
        elif kind == "started":
            out[-1]["started"] = e.get("step", 0)
            out[-1]["last"] = max(out[-1]["last"] or 0, e.get("step", 0))
        elif kind == "step":
            out[-1]["last"] = max(out[-1]["last"] or 0, e.get("step", 0))
        elif kind == "checkpoint":
            out[-1]["checkpoints"].append(e.get("step"))
        elif kind == "done":
            out[-1]["done"] = True
        elif kind == "stopped":
            out[-1]["stopped"] = True
        elif kind == "switch":
            out[-1]["switch"] = True
        elif kind == "exit":
            out[-1]["exit"] = e.get("code")
    return out


def config_key(launch):
    return (launch["technique"], launch["gpus"], launch["micro_batch"], launch["grad_accum"])


def config_text(key):
    t, g, mb, ga = key
    return f"{t} x{g} (micro-batch {mb}, accum {ga})"


def redone_steps(launches):
    """One entry per interrupted launch (every launch but a job's last, unless it ended done
    with exit 0): the steps it reported beyond the step the next launch that started training
    resumed from (`redone`), its checkpoint interval in steps, its exit code (None: its
    orchestrator was killed before it could record one), `before_start` (it was killed before
    it reported `started`: it lost its start-up, no steps) and `unseen` (steps the next launch
    found in the checkpoint beyond what this one reported: done after nobody read its events)."""
    out = []
    for k, l in enumerate(launches):
        if l["done"] and l["exit"] in (0, None) and k == len(launches) - 1:
            continue
        if k == len(launches) - 1:
            continue  # the last launch: the job ended there (done or failed), nothing resumed
        nxt = next((m for m in launches[k + 1:] if m["started"] is not None), None)
        entry = {"checkpoint_every": l["checkpoint_every"], "exit": l["exit"],
                 "before_start": l["started"] is None, "reached": l["last"],
                 "resumed": nxt["started"] if nxt else None, "redone": 0, "unseen": 0,
                 "done_before": l["done"]}
        if l["last"] is not None and nxt is not None:
            entry["redone"] = max(0, l["last"] - nxt["started"])
            entry["unseen"] = max(0, nxt["started"] - l["last"])
        out.append(entry)
    return out


def status(saturn, run_dir):
    p = subprocess.run([saturn, "status", run_dir, "--json"], capture_output=True, text=True)
    try:
        return json.loads(p.stdout)["jobs"]
    except (ValueError, KeyError):
        return []


# ---------------------------------------------------------------------------- running


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.saturn = os.path.join(self.bin, "saturn")
        self.workload = os.path.abspath(args.workload)
        self.work = args.work or tempfile.mkdtemp(prefix="saturn-chaos.")
        os.makedirs(self.work, exist_ok=True)
        self.library = os.path.join(self.work, "emptylib")
        os.makedirs(self.library, exist_ok=True)
        self.template = os.path.join(self.work, "template")
        self.env = dict(os.environ)
        self.env.pop("SATURN_WORKER", None)
        self.env.pop("SATURN_LIBRARY_PATH", None)

    def run_cmd(self, run_dir):
        return [self.saturn, "run", self.workload, "--dir", run_dir, "--library", self.library,
                "--checkpoint-interval", str(self.args.checkpoint_interval),
                "--max-retries", "100", "--policy", self.args.policy]

    def profile(self):
        t0 = time.monotonic()
        with open(os.path.join(self.work, "profile.log"), "w") as log:
            p = subprocess.run([self.saturn, "profile", self.workload, "--dir", self.template,
                                "--library", self.library], stdout=log, stderr=subprocess.STDOUT,
                               env=self.env)
        if p.returncode != 0:
            sys.exit(f"saturn profile exited {p.returncode}: see {self.work}/profile.log")
        print(f"# profiled once into {self.template} ({time.monotonic() - t0:.1f} s)", flush=True)

    def wait_quiet(self):
        """Waits (up to --quiet-timeout s) until other processes use under --quiet-load cores
        over a second: a shared machine's builds would otherwise be measured as kill costs."""
        t0 = time.monotonic()
        while True:
            b = machine_busy_s()
            time.sleep(1)
            load = machine_busy_s() - b
            if load < self.args.quiet_load or time.monotonic() - t0 > self.args.quiet_timeout:
                break
        if time.monotonic() - t0 > 1.5:
            print(f"    (waited {time.monotonic() - t0:.0f} s for the machine to be quiet; "
                  f"load now {load:.2f} cores)", flush=True)

    def fresh(self, name):
        if self.args.quiet_timeout > 0:
            self.wait_quiet()
        d = os.path.join(self.work, name)
        if os.path.exists(d):
            shutil.rmtree(d)
        shutil.copytree(self.template, d, symlinks=True)
        return d

    def start(self, run_dir, log_name):
        log = open(os.path.join(self.work, log_name), "ab")
        p = subprocess.Popen(self.run_cmd(run_dir), stdout=log, stderr=subprocess.STDOUT,
                             env=self.env)
        log.close()
        return p

    # -- uninterrupted
    def baseline(self, name):
        d = self.fresh(name)
        meter = CpuMeter()
        t0 = time.monotonic()
        p = self.start(d, name + ".out")
        code = p.wait(timeout=self.args.run_timeout)
        return {"name": name, "mode": "baseline", "dir": d, "wall_s": time.monotonic() - t0,
                "exit_codes": [code], "kills": [], "invocations": 1,
                "other_load": meter.others()}

    # -- workers mode
    def workers(self, name, seed):
        rng = random.Random(seed)
        d = self.fresh(name)
        meter = CpuMeter()
        t0 = time.monotonic()
        p = self.start(d, name + ".out")
        kills = []
        next_at = t0 + rng.uniform(*self.args.worker_delay)
        while p.poll() is None:
            if time.monotonic() - t0 > self.args.run_timeout:
                p.kill()
                break
            if len(kills) >= self.args.kills_per_run or time.monotonic() < next_at:
                time.sleep(0.02)
                continue
            jobs = running_workers(p.pid)
            if not jobs:
                time.sleep(0.02)
                continue
            job = rng.choice(sorted(jobs))
            w = jobs[job]
            whole = rng.random() < 0.5
            members = [w["launcher"]] + sorted(w["ranks"])
            if whole or len(members) == 1:
                what, role = "group", f"launcher + {len(w['ranks'])} rank(s)"
                try:
                    if w["pgid"] == w["launcher"]:
                        os.killpg(w["pgid"], signal.SIGKILL)
                    else:
                        for pid in members:
                            os.kill(pid, signal.SIGKILL)
                    delivered = True
                except ProcessLookupError:
                    delivered = False
            else:
                pid = rng.choice(members)
                what = "one"
                role = "launcher" if pid == w["launcher"] else f"rank {proc_env(pid, 'RANK')}"
                try:
                    os.kill(pid, signal.SIGKILL)
                    delivered = True
                except ProcessLookupError:
                    delivered = False
            t = time.monotonic() - t0
            if delivered:
                kills.append({"t": round(t, 2), "job": job, "what": what, "role": role})
                print(f"    {t:6.1f} s  SIGKILL {job}: {what} ({role})", flush=True)
            next_at = time.monotonic() + rng.uniform(*self.args.worker_delay)
        code = p.wait()
        return {"name": name, "mode": "workers", "seed": seed, "dir": d,
                "wall_s": time.monotonic() - t0, "exit_codes": [code], "kills": kills,
                "invocations": 1, "other_load": meter.others()}

    # -- orchestrator mode
    def orchestrator(self, name, seed):
        rng = random.Random(seed)
        d = self.fresh(name)
        meter = CpuMeter()
        t0 = time.monotonic()
        kills, codes, drains, invocations, refused = [], [], [], 0, 0
        while True:
            invocations += 1
            p = self.start(d, name + ".out")
            started = time.monotonic()
            delay = rng.uniform(*self.args.orchestrator_delay)
            limit = len(kills) < self.args.orchestrator_kills_per_run
            while p.poll() is None and (not limit or time.monotonic() - started < delay):
                if time.monotonic() - t0 > self.args.run_timeout:
                    p.kill()
                    break
                time.sleep(0.02)
            if p.poll() is not None:
                codes.append(p.returncode)
                if p.returncode == 2 and self.locked(name) and invocations < 50:
                    refused += 1  # a previous orchestrator's worker still held the lock
                    time.sleep(0.5)
                    continue
                break
            tree = descendants(p.pid)
            workers = [pid for pid in tree if "execute" in proc_cmdline(pid)[1:2]]
            p.send_signal(signal.SIGKILL)
            p.wait()
            codes.append(p.returncode)
            t = time.monotonic() - t0
            kill_t = time.monotonic()
            # Its workers checkpoint on the parent-death SIGTERM and exit; they hold the run
            # directory's lock until then.
            while any(alive(pid) for pid in tree) and time.monotonic() - kill_t < 180:
                time.sleep(0.02)
            drain = time.monotonic() - kill_t
            left = [pid for pid in tree if alive(pid)]
            drains.append(drain)
            kills.append({"t": round(t, 2), "job": "*", "what": "orchestrator",
                          "role": f"{len(workers)} worker process(es) running",
                          "drain_s": round(drain, 2), "left": left})
            print(f"    {t:6.1f} s  SIGKILL saturn run ({len(workers)} worker processes under "
                  f"it); they exited in {drain:.2f} s{'; LEFT RUNNING: %s' % left if left else ''}",
                  flush=True)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        return {"name": name, "mode": "orchestrator", "seed": seed, "dir": d,
                "wall_s": time.monotonic() - t0, "exit_codes": codes, "kills": kills,
                "invocations": invocations, "drain_s": drains, "lock_refusals": refused,
                "other_load": meter.others()}

    def locked(self, name):
        try:
            with open(os.path.join(self.work, name + ".out"), errors="replace") as f:
                return "in use by another saturn run" in f.read()[-2000:]
        except (OSError, IndexError):
            return False


# ---------------------------------------------------------------------------- analysis


def analyse(bench, run, reference):
    d = run["dir"]
    jobs = status(bench.saturn, d)
    events = read_events(d)
    run["jobs"] = {}
    for j in jobs:
        name = j["name"]
        ls = launches_of(events.get(name, []))
        redo = redone_steps(ls)
        path, model = final_model(d, name)
        entry = {"state": j["state"], "step": j.get("step"), "launches": len(ls),
                 "time_s": (j.get("finished_s") or 0) - (j.get("started_s") or 0),
                 "configs": sorted({config_key(l) for l in ls}, key=str),
                 "redo": redo, "final_checkpoint": path, "eval_loss": j.get("eval_loss")}
        if reference is not None and model is not None:
            ref = reference["jobs"].get(name)
            if ref and ref.get("_model") is not None:
                diff, differ, n, note = compare_models(model, ref["_model"])
                entry.update(max_abs_diff=diff, tensors_differ=differ, tensors=n, note=note,
                             same_config=entry["configs"] == ref["configs"])
        entry["_model"] = model
        run["jobs"][name] = entry
    run["done"] = sum(1 for j in jobs if j["state"] == "done")
    run["total"] = len(jobs)
    if jobs:
        run["span_s"] = (max(j.get("finished_s") or 0 for j in jobs)
                         - min(j.get("started_s") or 0 for j in jobs))
    # A worker kill is survived when its job completed; an orchestrator kill, when the run did.
    for k in run["kills"]:
        if k["job"] == "*":
            k["survived"] = run["done"] == run["total"] and run["exit_codes"][-1] == 0
        else:
            k["survived"] = run["jobs"].get(k["job"], {}).get("state") == "done"
    return run


def fmt_diff(x):
    if x is None:
        return "-"
    if x == 0:
        return "0 (identical)"
    return "%.3g" % x


def summarise(bench, runs, base_wall):
    print()
    print("| run | kills (delivered / survived) | jobs done | launches | steps redone: total, "
          "max per kill / checkpoint interval (steps) | kills over one interval | wall s "
          "(vs uninterrupted) | other load (cores) | exit codes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        redo = [x for j in r["jobs"].values() for x in j["redo"]]
        total = sum(x["redone"] for x in redo)
        worst = max(redo, key=lambda x: x["redone"]) if redo else None
        over = sum(1 for x in redo if x["checkpoint_every"] and x["redone"] > x["checkpoint_every"])
        launches = sum(j["launches"] for j in r["jobs"].values())
        ks = r["kills"]
        codes = r["exit_codes"]
        code_text = (" ".join(map(str, codes)) if len(codes) <= 4 else
                     f"{len(codes) - 1} x -9, then {codes[-1]}")
        print(f"| {r['name']} | {len(ks)} / {sum(k['survived'] for k in ks)} | "
              f"{r['done']}/{r['total']} | {launches} | {total}, "
              f"{worst['redone'] if worst else 0} / {worst['checkpoint_every'] if worst else '-'} | "
              f"{over} | {r['wall_s']:.1f} ({r['wall_s'] / base_wall:.2f}x) | "
              f"{r['other_load']:.2f} | {code_text} |")
    print()
    print("| run | job | configurations | launches | job time s (run clock) | steps redone per "
          "interruption (checkpoint interval) | max abs diff of final weights vs baseline |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        for name, j in sorted(r["jobs"].items()):
            configs = "; ".join(config_text(c) for c in j["configs"])
            redo = ", ".join(
                "after done" if x["done_before"] else "before start" if x["before_start"]
                else f"{x['redone']}({x['checkpoint_every']})" for x in j["redo"]) or "-"
            diff = fmt_diff(j.get("max_abs_diff"))
            if j.get("max_abs_diff") not in (None, 0):
                diff += f" in {j['tensors_differ']}/{j['tensors']} tensors"
                diff += "" if j.get("same_config") else " (other configuration)"
            if j.get("note"):
                diff += " " + j["note"]
            print(f"| {r['name']} | {name} | {configs} | {j['launches']} | {j['time_s']:.1f} | "
                  f"{redo} | {diff} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap.add_argument("--modes", default="baseline,workers,orchestrator")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker-runs", type=int, default=2)
    ap.add_argument("--orchestrator-runs", type=int, default=2)
    ap.add_argument("--baseline-runs", type=int, default=2)
    ap.add_argument("--kills-per-run", type=int, default=12, help="workers mode")
    ap.add_argument("--orchestrator-kills-per-run", type=int, default=8)
    ap.add_argument("--worker-delay", type=float, nargs=2, default=(0.5, 2.5),
                    help="seconds between worker kills: uniform in [A, B]")
    ap.add_argument("--orchestrator-delay", type=float, nargs=2, default=(2.0, 5.0),
                    help="seconds from an orchestrator's start to its kill: uniform in [A, B]")
    ap.add_argument("--checkpoint-interval", type=float, default=1.0)
    ap.add_argument("--policy", default="saturn",
                    help="saturn run --policy for every run (current-practice: every job on "
                         "ddp x2, so kills hit ranks)")
    ap.add_argument("--run-timeout", type=float, default=600)
    ap.add_argument("--quiet-timeout", type=float, default=60,
                    help="before each run, wait up to this long for other processes to use "
                         "under --quiet-load cores (0: do not wait)")
    ap.add_argument("--quiet-load", type=float, default=0.15)
    ap.add_argument("--bin", default=os.path.join(root, "build", "bin"))
    ap.add_argument("--workload", default=os.path.join(root, "examples", "quickstart.yaml"))
    ap.add_argument("--work")
    ap.add_argument("--json")
    args = ap.parse_args()
    modes = args.modes.split(",")
    bench = Bench(args)
    commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    print(f"# chaos: workload {args.workload}, policy {args.policy}, seed {args.seed}, "
          f"checkpoint interval "
          f"{args.checkpoint_interval} s, --max-retries 100; {os.cpu_count()} cores, "
          f"{os.uname().release}; commit {commit}; work dir {bench.work}", flush=True)
    bench.profile()
    runs = []
    reference = None
    nb = max(1, args.baseline_runs)
    for i in range(nb):  # always at least one: the reference for weights and wall time
        name = f"baseline-{i + 1}"
        print(f"# {name}", flush=True)
        r = analyse(bench, bench.baseline(name), reference)
        reference = reference or r
        runs.append(r)
        print(f"    {r['wall_s']:.1f} s, exit {r['exit_codes'][-1]}, {r['done']}/{r['total']} done",
              flush=True)
    if "workers" in modes:
        for i in range(args.worker_runs):
            name = f"workers-{args.seed + i}"
            print(f"# {name}", flush=True)
            runs.append(analyse(bench, bench.workers(name, args.seed + i), reference))
            print(f"    {runs[-1]['wall_s']:.1f} s, exit {runs[-1]['exit_codes'][-1]}", flush=True)
    if "orchestrator" in modes:
        for i in range(args.orchestrator_runs):
            name = f"orchestrator-{args.seed + i}"
            print(f"# {name}", flush=True)
            runs.append(analyse(bench, bench.orchestrator(name, args.seed + i), reference))
            print(f"    {runs[-1]['wall_s']:.1f} s, exit codes {runs[-1]['exit_codes']}",
                  flush=True)
    base_wall = statistics.mean(r["wall_s"] for r in runs if r["mode"] == "baseline")
    for r in runs:
        if r["other_load"] > 0.1:
            print(f"# WARNING: {r['name']}: other processes used {r['other_load']:.2f} cores on "
                  f"average during it: its times are not comparable")
    summarise(bench, runs, base_wall)
    print()
    for mode in ("workers", "orchestrator"):
        rs = [r for r in runs if r["mode"] == mode]
        if not rs:
            continue
        ks = [k for r in rs for k in r["kills"]]
        redo = [x for r in rs for j in r["jobs"].values() for x in j["redo"]]
        over = [x for x in redo if x["checkpoint_every"] and x["redone"] > x["checkpoint_every"]]
        diffs = [j.get("max_abs_diff") for r in rs for j in r["jobs"].values()]
        same = [j for r in rs for j in r["jobs"].values() if j.get("same_config")]
        kinds = {}
        for k in ks:
            key = k["what"] if k["what"] != "one" else "one: " + k["role"].split()[0]
            kinds[key] = kinds.get(key, 0) + 1
        per_kill = sum(r["wall_s"] - base_wall for r in rs) / max(1, len(ks))
        unseen = sum(x["unseen"] for x in redo)
        print(f"{mode}: kills by target {kinds}; wall time added per kill {per_kill:.2f} s; "
              f"launches interrupted before training started: "
              f"{sum(x['before_start'] for x in redo)}, after their done event: "
              f"{sum(x['done_before'] for x in redo)}; steps a worker did after its last "
              f"reported step, found in its checkpoint: {unseen}")
        print(f"{mode}: {len(ks)} kills delivered, {sum(k['survived'] for k in ks)} survived; "
              f"jobs done {sum(r['done'] for r in rs)}/{sum(r['total'] for r in rs)}; "
              f"{len(redo)} interruptions, {sum(x['redone'] for x in redo)} steps redone "
              f"(mean {statistics.mean([x['redone'] for x in redo]) if redo else 0:.1f}, "
              f"max {max([x['redone'] for x in redo], default=0)}), {len(over)} over one "
              f"checkpoint interval; wall {statistics.mean(r['wall_s'] for r in rs):.1f} s mean "
              f"vs {base_wall:.1f} s uninterrupted; weights identical in "
              f"{sum(1 for x in diffs if x == 0)}/{len(diffs)} jobs (same configuration "
              f"throughout: {len(same)}, of them identical "
              f"{sum(1 for j in same if j.get('max_abs_diff') == 0)}), "
              f"max abs diff {max([x for x in diffs if x is not None], default=0):.3g}")
    for r in runs:
        for j in r["jobs"].values():
            j.pop("_model", None)
    out = args.json or os.path.join(bench.work, "results.json")
    with open(out, "w") as f:
        json.dump({"args": vars(args), "commit": commit, "runs": runs}, f, indent=1,
                  default=str)
    print(f"\n# results: {out}")
    ok = all(r["done"] == r["total"] and r["total"] > 0 for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
