# saturn-worker's checkpoint format (docs/worker-protocol.md#checkpoints), so that a job moves
# between torch-ddp and the built-in techniques: DIR/step-NNNNNNNN/ holding model.safetensors,
# optimizer.safetensors (F32; U8 for the RNG state), trainer.json and, with the xxhash package,
# checksums.xxh128; written atomically, the two newest kept, LATEST naming the newest. Resuming
# takes the newest checkpoint that passes every check and sets the damaged ones aside.
import json
import math
import os
import re
import shutil
import time

from .protocol import TECHNIQUE, Failure, log


CHECKPOINT_RE = re.compile(r"step-(\d{8,18})")
PARTIAL_RE = re.compile(r"step-(\d{8,18})\.tmp\.\d+")
KEEP = 2

try:
    import xxhash
except ImportError:  # checkpoints without checksums; resumed unverified
    xxhash = None


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomically(path, text):
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path) or ".")


def _real_dir(path):
    return os.path.isdir(path) and not os.path.islink(path)


def write_safetensors(path, tensors, metadata):
    """tensors: [(name, numpy array)], F32 or U8, written as they are; returns the XXH3-128."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, array in tensors:
        dtype = {"float32": "F32", "uint8": "U8"}[str(array.dtype)]
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    digest = xxhash.xxh3_128() if xxhash else None
    with open(path, "wb") as f:
        for chunk in (len(text).to_bytes(8, "little"), text):
            f.write(chunk)
            if digest:
                digest.update(chunk)
        for _, array in tensors:
            view = memoryview(array.reshape(-1).view("uint8"))
            f.write(view)
            if digest:
                digest.update(view)
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest() if digest else None


def read_safetensors_header(path):
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        n = int.from_bytes(head, "little")
        size = os.fstat(f.fileno()).st_size
        if n > size - 8:
            raise ValueError(f"{path}: header of {n} bytes does not fit in a file of {size}")
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        elements = math.prod(entry["shape"])
        width = {"F32": 4, "U8": 1, "F16": 2, "BF16": 2, "F64": 8, "I64": 8,
                 "I32": 4}.get(entry["dtype"], 0)
        if not 0 <= start <= end <= size - 8 - n or end - start != elements * width:
            raise ValueError(f"{path}: {name}: data_offsets do not match the shape and dtype")
    return 8 + n, header


def file_xxh128(path):
    digest = xxhash.xxh3_128()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Checkpoints:
    """One job's checkpoint directory. `layout`: [(name, shape)] of the parameters in the flat
    order saturn-worker writes; `states`: the optimizer's state names."""

    def __init__(self, directory, job, layout, states):
        self.dir, self.job, self.layout, self.states = directory, job, layout, states

    def write(self, step, optimizer_steps, world, accum, weights, optimizer):
        """weights / optimizer: [(name, numpy array)]. Returns the checkpoint's path."""
        os.makedirs(self.dir, exist_ok=True)
        name = f"step-{step:08d}"
        tmp = os.path.join(self.dir, f"{name}.tmp.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        meta = {"format": "pt", "job": self.job["name"], "model": self.job["model"],
                "step": str(step), "written_by": f"{TECHNIQUE} (examples/techniques)"}
        digests = {"model.safetensors": write_safetensors(os.path.join(tmp, "model.safetensors"),
                                                          weights, meta),
                   "optimizer.safetensors": write_safetensors(
                       os.path.join(tmp, "optimizer.safetensors"), optimizer, meta)}
        trainer = json.dumps({"grad_accum": accum, "job": self.job["name"],
                              "model": self.job["model"], "optimizer_steps": optimizer_steps,
                              "step": step, "world_size": world}, indent=2, sort_keys=True) + "\n"
        _write_atomically(os.path.join(tmp, "trainer.json"), trainer)
        if xxhash:
            digests["trainer.json"] = xxhash.xxh3_128_hexdigest(trainer.encode())
            _write_atomically(os.path.join(tmp, "checksums.xxh128"),
                              "".join(f"{digests[k]}  {k}\n" for k in sorted(digests)))
        final = os.path.join(self.dir, name)
        if _real_dir(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(self.dir)
        _write_atomically(os.path.join(self.dir, "LATEST"), name + "\n")
        # Keep the two newest; leftovers of interrupted writes go. Only our names, real dirs.
        complete = []
        for entry in os.listdir(self.dir):
            path = os.path.join(self.dir, entry)
            if not _real_dir(path):
                continue
            if PARTIAL_RE.fullmatch(entry):
                shutil.rmtree(path, ignore_errors=True)
            elif (m := CHECKPOINT_RE.fullmatch(entry)):
                complete.append((int(m.group(1)), entry))
        for _, entry in sorted(complete)[:-KEEP]:
            shutil.rmtree(os.path.join(self.dir, entry), ignore_errors=True)
        return final

    def check(self, name, verify=True):
        """Opens DIR/name and checks it; returns (state, verified, weights, optimizer) where the
        last two are (path, data start, header). Raises ValueError saying why it is unusable."""
        at = os.path.join(self.dir, name)
        if not _real_dir(at):
            raise ValueError(f"{at}: missing (or not a directory)")
        verified = False
        sums = os.path.join(at, "checksums.xxh128")
        if verify and os.path.lexists(sums):
            if not xxhash:
                log(f"{at}: cannot check its checksums without the xxhash package; used unverified")
            else:
                listed = {}
                with open(sums) as f:
                    for line in f:
                        if line.strip():
                            digest, _, file = line.rstrip("\n").partition("  ")
                            listed[file] = digest
                for file in ("trainer.json", "model.safetensors", "optimizer.safetensors"):
                    if file not in listed:
                        raise ValueError(f"{sums}: {file} is not listed")
                    actual = file_xxh128(os.path.join(at, file))
                    if actual != listed[file]:
                        raise ValueError(f"{os.path.join(at, file)}: damaged: its checksum is "
                                         f"{actual}, {listed[file]} was written")
                verified = True
        try:
            with open(os.path.join(at, "trainer.json")) as f:
                state = json.load(f)
            for key in ("step", "optimizer_steps", "job", "model"):
                state[key]  # noqa: B018 (presence)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{os.path.join(at, 'trainer.json')}: unreadable: {e}")
        if state["job"] != self.job["name"] or state["model"] != self.job["model"]:
            raise ValueError(f"{at}: holds job \"{state['job']}\" ({state['model']}), not "
                             f"\"{self.job['name']}\" ({self.job['model']})")
        files = []
        for file, prefixes in (("model.safetensors", [""]),
                               ("optimizer.safetensors", [s + "." for s in self.states])):
            path = os.path.join(at, file)
            try:
                start, header = read_safetensors_header(path)
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}: {e}")
            for prefix in prefixes:
                for pname, shape in self.layout:
                    entry = header.get(prefix + pname)
                    if not entry or entry["dtype"] != "F32" or entry["shape"] != list(shape):
                        raise ValueError(
                            f"{at}: \"{prefix}{pname}\" is missing or has another shape")
            files.append((path, start, header))
        return state, verified, files[0], files[1]

    def newest(self):
        """(name, checked, rejected) of the newest checkpoint that passes every check; name None
        when the directory holds none. Raises Failure(data) when it holds some and none passes."""
        candidates = []
        if os.path.isdir(self.dir):
            for entry in os.listdir(self.dir):
                m = CHECKPOINT_RE.fullmatch(entry)
                if m:
                    candidates.append((int(m.group(1)), entry))
        candidates.sort(reverse=True)
        rejected = []
        latest = os.path.join(self.dir, "LATEST")
        if os.path.lexists(latest):
            try:
                with open(latest) as f:
                    named = f.read(4096).strip()
                if named not in [c[1] for c in candidates]:
                    rejected.append((latest, f"names \"{named}\", which is not a checkpoint here"))
            except OSError as e:
                rejected.append((latest, str(e)))
        for _, entry in candidates:
            try:
                return entry, self.check(entry), rejected
            except (ValueError, OSError) as e:
                rejected.append((os.path.join(self.dir, entry), str(e)))
        if not rejected:
            return None, None, []
        why = "".join(f"; {path}: {reason}" for path, reason in rejected)
        raise Failure("data", f"{self.dir}: checkpoint: no intact checkpoint to resume from{why} "
                              "(move the directory away to train from the start)")

    def set_aside(self, rejected, chosen):
        now = int(time.time())
        for path, _ in rejected:
            if os.path.basename(path) != "LATEST":
                os.rename(path, f"{path}.rejected-{now}")
        if rejected:
            _write_atomically(os.path.join(self.dir, "LATEST"), chosen + "\n")


def read_tensor(np, file, name):
    path, start, header = file
    entry = header[name]
    begin, end = entry["data_offsets"]
    dtype = {"F32": np.float32, "U8": np.uint8}[entry["dtype"]]
    array = np.fromfile(path, dtype=dtype, count=(end - begin) // np.dtype(dtype).itemsize,
                        offset=start + begin)
    return array.reshape(entry["shape"])
