#!/usr/bin/env python3
"""reference_fsdp_offload.py: the PyTorch baseline saturn-worker's `offload` is compared with
(bench/worker/techniques.py offload): reference_gpt2.py's GPT wrapped in PyTorch FSDP with
CPUOffload(offload_params=True) at world size 1 (each transformer block its own FSDP unit, the
embeddings and head the root's), bf16 mixed precision, torch.optim.AdamW with its defaults on
the host parameters, gradient clipping 1.0, random tokens. Prints one JSON line:
{"impl", "model", "batch", "seq", "params", "step_s", "tokens_per_s", "gpu_peak_gib"}.

  python3 bench/worker/reference_fsdp_offload.py --model gpt2-4b --batch 4 [--steps 3]
"""
import argparse, functools, json, os, time
import torch
import torch.distributed as dist
from torch.distributed.fsdp import CPUOffload, FullyShardedDataParallel as FSDP, MixedPrecision
from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

from reference_gpt2 import SHAPES, Block, Gpt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gpt2-4b")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29811")
    dist.init_process_group("nccl", rank=0, world_size=1)
    torch.cuda.set_device(0)
    layers, d, heads = SHAPES[a.model]
    torch.manual_seed(0)
    model = Gpt(layers, d, heads)  # fp32 on the host
    n = sum(p.numel() for p in model.parameters())
    bf16 = torch.bfloat16
    model = FSDP(model, auto_wrap_policy=functools.partial(transformer_auto_wrap_policy,
                                                           transformer_layer_cls={Block}),
                 cpu_offload=CPUOffload(offload_params=True),
                 mixed_precision=MixedPrecision(param_dtype=bf16, reduce_dtype=bf16,
                                                buffer_dtype=bf16),
                 device_id=torch.cuda.current_device())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    idx = torch.randint(0, 50257, (a.batch, a.seq + 1), device="cuda")
    x, y = idx[:, :-1], idx[:, 1:]

    def step():
        loss = model(x, y)
        loss.backward()
        model.clip_grad_norm_(1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    step_s = times[len(times) // 2]
    print(json.dumps({"impl": "pytorch FSDP + CPUOffload", "model": a.model, "batch": a.batch,
                      "seq": a.seq, "params": n, "step_s": step_s,
                      "tokens_per_s": a.batch * a.seq / step_s,
                      "gpu_peak_gib": torch.cuda.max_memory_reserved() / 2**30}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
