# One rank's training state: the model, its optimizer (AdamW or SGD, saturn-worker's groups and
# learning-rate schedule), the data, one optimizer step over the micro-batches (DDP averages the
# gradients), evaluation on the held-out split, and saving / restoring saturn-worker checkpoints.
# Numerics: fp32 weights, optimizer state and loss; bf16 autocast on CUDA only.
import math
import os
import time

from .checkpoints import Checkpoints, read_tensor
from .data import SampleOrder, TokenData, batch_positions
from .model import GPT2_MODELS, GPT2_VOCAB, build_model, flat_layout
from .protocol import Failure
from .ranks import hold_until_exit


def learning_rate(lr, step, warmup, total):
    """Linear warm-up, then cosine decay to lr / 10 at the last step (saturn-worker's)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, total - warmup - 1)
    progress = min(1.0, (step - warmup) / span)
    min_lr = lr / 10
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


def import_torch():
    """(torch, numpy): loaded only by the processes that train, measure or report `info`."""
    import numpy as np
    import torch
    return torch, np


class Trainer:
    def __init__(self, torch, np, rank, job, params, device_memory_bytes):
        self.torch, self.np, self.rank, self.job = torch, np, rank, job
        vocab = 256 if job["data"]["format"] == "text" else GPT2_VOCAB
        seq_len = job["data"]["seq_len"]
        world = rank.world
        self.accum = params.get("grad_accum") or job["grad_accum"]
        if job["batch_size"] % (self.accum * world):
            raise Failure("config", f"batch_size: batch_size {job['batch_size']} does not split "
                                    f"into {self.accum} micro-steps x {world} ranks")
        self.micro = job["batch_size"] // (self.accum * world)
        layers, d, _, _ = GPT2_MODELS[job["model"]]
        params_count = vocab * d + seq_len * d + layers * (12 * d * d + 13 * d) + 2 * d
        state_bytes = params_count * (16 if job["optimizer"] == "adamw" else 12)
        activation_bytes = self.micro * seq_len * (vocab * 12 + layers * d * 4 * 20)
        if device_memory_bytes > 0:
            if state_bytes + activation_bytes > device_memory_bytes:
                raise Failure("oom", f"{job['model']} at micro-batch {self.micro} "
                                     f"needs about {state_bytes + activation_bytes:.3g} bytes "
                                     f"(weights, gradients, optimizer state, activations), more "
                                     f"than the device's {device_memory_bytes:.3g}")
            if rank.device.type == "cuda":
                total = torch.cuda.get_device_properties(rank.device).total_memory
                torch.cuda.set_per_process_memory_fraction(min(1.0, device_memory_bytes / total),
                                                           rank.device)
        self.data = TokenData(np, job, vocab)
        self.order = SampleOrder(np, self.data.train_samples, job["seed"])
        if job["steps"] > 0:
            self.total_steps = job["steps"]
        else:
            self.total_steps = max(1, math.ceil(job["epochs"] * self.data.train_samples
                                                / job["batch_size"] - 1e-9))
        self.model = build_model(torch, job, vocab, seq_len).to(rank.device)
        self.layout = flat_layout(self.model)
        self.step = 0
        self.optimizer_steps = 0
        self.ddp = None
        decay = [p for _, p in self.layout if p.dim() >= 2]
        other = [p for _, p in self.layout if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": job["weight_decay"]},
                  {"params": other, "weight_decay": 0.0}]
        if job["optimizer"] == "adamw":
            self.optimizer = torch.optim.AdamW(groups, lr=job["lr"], betas=(0.9, 0.95), eps=1e-8)
            self.states = ["exp_avg", "exp_avg_sq"]
        else:
            self.optimizer = torch.optim.SGD(groups, lr=job["lr"], momentum=job["momentum"])
            self.states = ["momentum"] if job["momentum"] > 0 else []
        self.cuda = rank.device.type == "cuda"

    def wrap(self):
        """DistributedDataParallel over the ranks (after a checkpoint is loaded)."""
        if self.rank.group:
            DDP = self.torch.nn.parallel.DistributedDataParallel
            self.ddp = hold_until_exit(DDP(self.model, device_ids=[self.rank.device.index] if self.cuda else None,
                           broadcast_buffers=False))

    def batch(self, positions):
        """(inputs, targets): [len(positions), seq_len] int64 each, targets shifted by one."""
        indices = [self.order.at(p) for p in positions]
        rows = self.torch.from_numpy(self.data.rows(indices)).to(self.rank.device)
        return rows[:, :-1], rows[:, 1:]

    def loss(self, module, inputs, targets):
        """Mean next-token cross-entropy (nats, a 0-d float32 tensor) of inputs [b, t]."""
        torch = self.torch
        if self.cuda:  # bf16 compute, fp32 weights, optimizer and loss
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = module(inputs)
        else:
            logits = module(inputs)
        return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                 targets.reshape(-1))

    def train_step(self):
        torch, job = self.torch, self.job
        t0 = time.perf_counter()
        lr = learning_rate(job["lr"], self.step, job["warmup_steps"], self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        module = self.ddp or self.model
        losses = 0.0
        for micro in range(self.accum):
            inputs, targets = self.batch(batch_positions(self.step, job["batch_size"], self.accum,
                                                         micro, self.rank.world, self.rank.rank))
            last = micro == self.accum - 1
            if self.ddp is not None and not last:
                with self.ddp.no_sync():  # accumulate locally; the last backward averages
                    loss = self.loss(module, inputs, targets)
                    (loss / self.accum).backward()
            else:
                loss = self.loss(module, inputs, targets)
                (loss / self.accum).backward()
            losses += loss.detach()
        clip = job["grad_clip"] if job["grad_clip"] > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        self.step += 1
        self.optimizer_steps += 1
        loss_value = float(losses) / self.accum
        loss_value, norm_value = self.rank.all_reduce([loss_value, float(norm)])
        if self.cuda:
            torch.cuda.synchronize(self.rank.device)
        seconds = time.perf_counter() - t0
        return {"step": self.step, "loss": loss_value / self.rank.world,
                "lr": lr, "grad_norm": norm_value / self.rank.world, "step_s": seconds,
                "samples_per_s": job["batch_size"] / seconds,
                "tokens_per_s": job["batch_size"] * self.data.seq_len / seconds}

    def evaluate(self, max_samples):
        """Mean loss over the first max_samples held-out samples, split over the ranks."""
        torch = self.torch
        n = min(max_samples, self.data.eval_samples)
        per_rank = -(-n // self.rank.world)
        first = self.rank.rank * per_rank
        last = min(n, first + per_rank)
        total, count = 0.0, 0.0
        with torch.no_grad():
            for start in range(first, last, self.micro):
                end = min(last, start + self.micro)
                indices = [self.data.train_samples + i for i in range(start, end)]
                rows = torch.from_numpy(self.data.rows(indices)).to(self.rank.device)
                total += float(self.loss(self.model, rows[:, :-1], rows[:, 1:])) * len(indices)
                count += len(indices)
        total, count = self.rank.all_reduce([total, count])
        return total / max(count, 1.0)

    def optimizer_state(self, p):
        state = self.optimizer.state.get(p, {})
        if self.job["optimizer"] == "adamw":
            return [state.get("exp_avg"), state.get("exp_avg_sq")]
        return [state.get("momentum_buffer")] if self.states else []

    def save(self, directory):
        """Rank 0 writes a checkpoint (every rank holds the whole model: nothing to gather)."""
        np, torch = self.np, self.torch
        path = None
        if self.rank.rank == 0:
            def host(t, like):
                if t is None:
                    return np.zeros(tuple(like.shape), dtype=np.float32)
                return t.detach().to("cpu", torch.float32).contiguous().numpy()
            weights = [(n, host(p, p)) for n, p in self.layout]
            optimizer = []
            for i, state in enumerate(self.states):
                optimizer += [(f"{state}.{n}", host(self.optimizer_state(p)[i], p))
                              for n, p in self.layout]
            optimizer.append(("rng.cpu", torch.get_rng_state().numpy()))
            path = Checkpoints(directory, self.job, [(n, tuple(p.shape)) for n, p in self.layout],
                               self.states).write(self.step, self.optimizer_steps, self.rank.world,
                                                  self.accum, weights, optimizer)
        self.rank.barrier()
        return path

    def restore(self, directory):
        """Loads the newest intact checkpoint of `directory` (rank 0 chooses and verifies, the
        others open the one it chose). Returns None or (path, step, verified, rejected)."""
        torch, np = self.torch, self.np
        store = Checkpoints(directory, self.job, [(n, tuple(p.shape)) for n, p in self.layout],
                            self.states)
        chosen, failure, checked, rejected = -1.0, None, None, []
        if self.rank.rank == 0:
            try:
                name, checked, rejected = store.newest()
                if name:
                    store.set_aside(rejected, name)
                    chosen = float(checked[0]["step"])
            except Failure as e:
                failure, chosen = e, -2.0
            except OSError as e:
                failure, chosen = Failure("data", f"{directory}: checkpoint: {e}"), -2.0
        chosen = self.rank.broadcast([chosen])[0]
        if chosen < -1.5:
            if failure:
                raise failure
            raise Failure("data", f"{directory}: checkpoint.peer: rank 0 could not resume; "
                                  "rank 0's error says why")
        if chosen < 0:
            return None
        name = f"step-{int(chosen):08d}"
        ok = 1.0
        try:
            if checked is None:
                checked = store.check(name, verify=False)
            state, verified, weights, optimizer = checked
            with torch.no_grad():
                for n, p in self.layout:
                    p.copy_(torch.from_numpy(read_tensor(np, weights, n)))
                for p in self.model.parameters():
                    self.optimizer.state.pop(p, None)
                steps = int(state["optimizer_steps"])
                for n, p in self.layout:
                    loaded = {s: torch.from_numpy(read_tensor(np, optimizer, f"{s}.{n}"))
                              .to(p.device) for s in self.states}
                    if self.job["optimizer"] == "adamw":
                        self.optimizer.state[p] = {"step": torch.tensor(float(steps)), **loaded}
                    elif self.states:
                        self.optimizer.state[p] = {"momentum_buffer": loaded["momentum"]}
                if "rng.cpu" in optimizer[2]:
                    rng = read_tensor(np, optimizer, "rng.cpu").copy()
                    torch.set_rng_state(torch.from_numpy(rng))
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            ok, failure = 0.0, Failure("data", f"{os.path.join(directory, name)}: checkpoint: {e}")
        if self.rank.all_reduce([ok])[0] < self.rank.world - 1e-9:
            if failure:
                raise failure
            raise Failure("data",
                          f"{directory}: checkpoint.peer: another rank could not load {name}")
        self.step = int(state["step"])
        self.optimizer_steps = int(state["optimizer_steps"])
        return os.path.join(directory, name), self.step, verified, rejected
