#!/usr/bin/env python3
"""reference_gpt2.py: the PyTorch eager training loop saturn-worker's throughput is compared with
(bench/worker/throughput.sh): GPT-2 (pre-LayerNorm blocks, causal scaled_dot_product_attention,
tanh GELU, LM head tied to the token embedding) on random tokens, bf16 autocast, fused AdamW,
the same shapes and batch. Prints one JSON line: {"impl": "pytorch-eager", "model", "batch",
"seq", "step_s", "tokens_per_s", "mfu"}.

  python3 bench/worker/reference_gpt2.py --model gpt2-medium --batch 8 [--steps 10] [--compile]
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {"gpt2": (12, 768, 12), "gpt2-medium": (24, 1024, 16), "gpt2-large": (36, 1280, 20), "gpt2-xl": (48, 1600, 25),
          "gpt2-4b": (20, 4096, 32)}


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (y.view(b, t, self.heads, c // self.heads).transpose(1, 2) for y in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(a.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers, d, heads, vocab=50257, context=1024, pad_vocab=False):
        super().__init__()
        # pad_vocab: the LM head over the vocabulary rounded up to a multiple of 64, the extra
        # logits masked to -inf (saturn-worker's head on CUDA; same loss, aligned matmuls).
        self.pad = (-vocab) % 64 if pad_vocab else 0
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(context, d)
        self.h = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.vocab = vocab

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.h:
            x = blk(x)
        w = self.wte.weight
        if self.pad:
            w = torch.cat([w, w.new_zeros(self.pad, w.shape[1])])
            bias = torch.cat([w.new_zeros(self.vocab), w.new_full((self.pad,), float("-inf"))])
            logits = F.linear(self.ln_f(x), w, bias)
        else:
            logits = F.linear(self.ln_f(x), w)
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def profile(step, steps=3):
    """GPU time per operator and kernel over `steps` steps, largest first, against wall-clock."""
    from torch.profiler import profile as prof, ProfilerActivity
    with prof(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as p:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        wall = (time.perf_counter() - t0) / steps
    rows = []
    for e in p.key_averages():
        if str(getattr(e, "device_type", "")).endswith("CUDA"):  # kernels and copies, not ops
            dev = getattr(e, "self_device_time_total", None)
            dev = e.self_cuda_time_total if dev is None else dev
            rows.append((dev / steps / 1e3, e.count // steps, e.key))
    if not rows:
        print(p.key_averages().table(row_limit=40))
        return
    rows.sort(reverse=True)
    busy = sum(r[0] for r in rows)
    print(f"wall {wall * 1e3:.1f} ms/step, GPU busy (sum of kernel time) {busy:.1f} ms/step")
    for ms, n, key in rows[:40]:
        print(f"{ms:8.2f} ms {100 * ms / max(busy, 1e-9):5.1f}% x{n:<5d} {key[:110]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gpt2")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--pad-vocab", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="print the GPU time per operator over 3 steps (torch.profiler) instead")
    ap.add_argument("--peak", type=float, default=989.4e12)
    a = ap.parse_args()
    layers, d, heads = SHAPES[a.model]
    torch.manual_seed(0)
    model = Gpt(layers, d, heads, pad_vocab=a.pad_vocab).cuda()
    step_model = torch.compile(model) if a.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=True)
    idx = torch.randint(0, 50257, (a.batch, a.seq + 1), device="cuda")
    x, y = idx[:, :-1], idx[:, 1:]

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    if a.profile:
        profile(step)
        return
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step().item()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    step_s = times[len(times) // 2]
    n = sum(p.numel() for p in model.parameters())
    tokens = a.batch * a.seq / step_s
    mfu = tokens * (6 * n + 12 * layers * d * a.seq) / a.peak
    impl = "pytorch-eager" + ("+compile" if a.compile else "") + (", padded head" if a.pad_vocab else "")
    print(json.dumps({"impl": impl, "model": a.model,
                      "batch": a.batch, "seq": a.seq, "params": n, "step_s": step_s,
                      "tokens_per_s": tokens, "mfu": mfu,
                      "peak_gib": torch.cuda.max_memory_reserved() / 2**30}))


if __name__ == "__main__":
    main()
