# The job torch-ddp is asked to run: read from a workload file (the one-job JSON saturn writes, or
# a YAML workload without grids), its defaults applied and every field checked. load_job returns
# a plain dict: name, file, model, optimizer, lr, weight_decay, momentum, warmup_steps, grad_clip,
# grad_accum, batch_size (samples per optimizer step, all ranks), eval_every, seed, steps (0 when
# given in epochs), epochs, and data {format, seq_len (tokens), samples, path (absolute),
# tokenizer}. Anything this technique cannot train is a `config` Failure raised here, before any
# rank starts or torch is imported.
import json
import math
import os

from .model import GPT2_MODELS
from .protocol import TECHNIQUE, Failure


def _number(job, key, default=None, integer=False, minimum=None, below=None):
    value = job.get(key, default)
    if value is None:
        raise Failure("config", f"jobs[{job['name']}].{key}: missing (required)")
    if isinstance(value, list):
        raise Failure("config", f"jobs[{job['name']}].{key}: a grid; pass one job (the file "
                                "saturn writes for it, RUN_DIR/jobs/NAME.json)")
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            value = float(value)
        except ValueError:
            raise Failure("config", f"jobs[{job['name']}].{key}: expected a number, got {value}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Failure("config", f"jobs[{job['name']}].{key}: expected a number, got {value!r}")
    if integer:
        if value != int(value):
            raise Failure("config", f"jobs[{job['name']}].{key}: expected an integer, got {value}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise Failure("config", f"jobs[{job['name']}].{key}: must be >= {minimum}, got {value}")
    if below is not None and value >= below:
        raise Failure("config", f"jobs[{job['name']}].{key}: must be < {below}, got {value}")
    return value


def load_job(path, name):
    """The job of a workload file (docs/formats.md#workload): the one-job JSON saturn writes
    (RUN_DIR/jobs/NAME.json), or a YAML workload without grids. Data paths relative to the file."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode()
    except (OSError, UnicodeDecodeError) as e:
        raise Failure("config", f"{path}: cannot read the job file: {e}")
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise Failure("config", f"{path}: not JSON, and PyYAML is not installed to read YAML")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise Failure("config", f"{path}: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list) or not doc["jobs"]:
        raise Failure("config", f"{path}: jobs: expected a non-empty list of jobs")
    jobs = [j for j in doc["jobs"] if isinstance(j, dict)]
    if name:
        picked = [j for j in jobs if j.get("name") == name]
        if not picked:
            raise Failure("config", f"{path}: jobs: no job named \"{name}\"")
    elif len(jobs) != 1:
        raise Failure("config", f"{path}: jobs: {len(jobs)} jobs in the file; name one with --name")
    else:
        picked = jobs
    job = dict(picked[0])
    defaults = doc.get("defaults") or {}
    for key, value in defaults.items():
        if key == "data" and isinstance(value, dict):
            job["data"] = {**value, **(job.get("data") or {})}
        else:
            job.setdefault(key, value)
    if not isinstance(job.get("name"), str):
        raise Failure("config", f"{path}: jobs[0].name: missing (required)")
    spec = {"name": job["name"], "file": path}
    model = job.get("model")
    if not isinstance(model, str):
        raise Failure("config", f"{path}: jobs[{job['name']}].model: expected one model name")
    spec["model"] = model
    optimizer = job.get("optimizer", "adamw") or "adamw"
    if optimizer not in ("adamw", "sgd"):
        raise Failure("config",
                      f"{path}: jobs[{job['name']}].optimizer: adamw or sgd, got {optimizer}")
    spec["optimizer"] = optimizer
    spec["lr"] = _number(job, "lr")
    if spec["lr"] <= 0:
        raise Failure("config", f"{path}: jobs[{job['name']}].lr: must be > 0")
    spec["weight_decay"] = _number(job, "weight_decay", 0, minimum=0)
    spec["momentum"] = _number(job, "momentum", 0, minimum=0, below=1)
    spec["warmup_steps"] = _number(job, "warmup_steps", 0, integer=True, minimum=0)
    spec["grad_clip"] = _number(job, "grad_clip", 0, minimum=0)
    spec["grad_accum"] = _number(job, "grad_accum", 1, integer=True, minimum=1)
    spec["batch_size"] = _number(job, "batch_size", integer=True, minimum=1)
    spec["eval_every"] = _number(job, "eval_every", 0, integer=True, minimum=0)
    spec["seed"] = _number(job, "seed", 0, integer=True, minimum=0)
    has_steps, has_epochs = job.get("steps") is not None, job.get("epochs") is not None
    if has_steps == has_epochs:
        raise Failure("config", f"{path}: jobs[{job['name']}].steps: give epochs or steps")
    spec["steps"] = _number(job, "steps", integer=True, minimum=1) if has_steps else 0
    spec["epochs"] = _number(job, "epochs") if has_epochs else 0.0
    if has_epochs and spec["epochs"] <= 0:
        raise Failure("config", f"{path}: jobs[{job['name']}].epochs: must be > 0")
    data = job.get("data")
    if not isinstance(data, dict) or "format" not in data:
        raise Failure("config", f"{path}: jobs[{job['name']}].data: {TECHNIQUE} needs language "
                                "data (format text, tokens or synthetic-text)")
    d = {"format": data["format"], "seq_len": 0, "samples": 0, "path": "", "tokenizer": "bytes"}
    if d["format"] not in ("text", "tokens", "synthetic-text"):
        raise Failure("config", f"{path}: jobs[{job['name']}].data.format: {TECHNIQUE} trains on "
                                f"text, tokens or synthetic-text, not {d['format']}")
    holder = {"name": job["name"], **data}
    d["seq_len"] = _number(holder, "seq_len", integer=True, minimum=1)
    d["samples"] = _number(holder, "samples", 0, integer=True, minimum=0)
    tokenizer = data.get("tokenizer", "bytes") or "bytes"
    if d["format"] == "text" and tokenizer != "bytes":
        raise Failure("config", f"{path}: jobs[{job['name']}].data.tokenizer: {TECHNIQUE} reads "
                                f"text with the bytes tokenizer only, not {tokenizer}")
    if d["format"] in ("text", "tokens"):
        if not isinstance(data.get("path"), str) or not data["path"]:
            raise Failure("config", f"{path}: jobs[{job['name']}].data.path: missing (required)")
        p = data["path"]
        base = os.path.dirname(os.path.abspath(path))
        d["path"] = p if os.path.isabs(p) else os.path.join(base, p)
    elif d["samples"] <= 0:
        raise Failure("config",
                      f"{path}: jobs[{job['name']}].data.samples: synthetic data needs > 0")
    spec["data"] = d
    if model not in GPT2_MODELS:
        raise Failure("config", f"{path}: jobs[{job['name']}].model: {TECHNIQUE} trains the zoo's "
                                f"GPT-2 models ({', '.join(GPT2_MODELS)}), not {model}")
    return spec
