#!/usr/bin/env python3
"""measure_mfu.py: training throughput of the model families the estimator knows, on one GPU,
at several per-GPU micro-batch sizes, as calibration input (docs/estimator.md#calibration-file).

A stand-in until saturn-worker's own benchmarks exist: eager PyTorch, bf16 autocast, fused
AdamW, scaled_dot_product_attention, channels_last convolutions. Models are written here from
their published shapes (no torchvision / transformers needed). Prints one JSON document:
  {"device": ..., "torch": ..., "peak_bf16_flops": ..., "results": [
     {"model": "gpt2-xl", "micro_batch": 2, "tokens": 2048, "step_s": ..., "mfu": ...}, ...]}
MFU = achieved model FLOP/s / peak, with model FLOPs = 3 x forward FLOPs as the estimator
counts them (matmuls and convolutions, attention scores included).

  python3 bench/calibration/measure_mfu.py [--peak 989.4e12] [--steps 10] > mfu.json
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, mlp), nn.Linear(mlp, d)
        self.heads = heads

    def forward(self, x, causal):
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        x = x + self.proj(a.transpose(1, 2).reshape(b, s, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, layers, d, heads, vocab=50257, context=1024):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads, 4 * d) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.layers, self.d, self.vocab = layers, d, vocab

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.blocks:
            x = blk(x, True)
        logits = F.linear(self.ln(x), self.wte.weight)
        return F.cross_entropy(logits.float().view(-1, self.vocab), idx.view(-1))

    def forward_flops(self, s):  # per sample
        d = self.d
        return self.layers * (24 * s * d * d + 4 * s * s * d) + 2 * s * d * self.vocab


class Vit(nn.Module):
    def __init__(self, layers, d, heads, mlp, patch, image=224, classes=1000):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, patch)
        self.grid = image // patch
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, self.grid ** 2 + 1, d))
        self.blocks = nn.ModuleList(Block(d, heads, mlp) for _ in range(layers))
        self.head = nn.Linear(d, classes)
        self.layers, self.d, self.mlp, self.p = layers, d, mlp, patch

    def forward(self, img, labels):
        x = self.patch(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for blk in self.blocks:
            x = blk(x, False)
        return F.cross_entropy(self.head(x[:, 0]).float(), labels)

    def forward_flops(self):
        s, d, f = self.grid ** 2 + 1, self.d, self.mlp
        return (2 * self.grid ** 2 * 3 * self.p ** 2 * d
                + self.layers * (8 * s * d * d + 4 * s * d * f + 4 * s * s * d) + 2 * d * 1000)


class Bottleneck(nn.Module):
    def __init__(self, cin, w, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, w, 1, bias=False), nn.BatchNorm2d(w)
        self.c2, self.b2 = nn.Conv2d(w, w, 3, stride, 1, bias=False), nn.BatchNorm2d(w)
        self.c3, self.b3 = nn.Conv2d(w, 4 * w, 1, bias=False), nn.BatchNorm2d(4 * w)
        self.down = None
        if stride != 1 or cin != 4 * w:
            self.down = nn.Sequential(nn.Conv2d(cin, 4 * w, 1, stride, bias=False), nn.BatchNorm2d(4 * w))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = F.relu(self.b2(self.c2(y)))
        y = self.b3(self.c3(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet(nn.Module):
    def __init__(self, depths):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for stage, (w, n) in enumerate(zip([64, 128, 256, 512], depths)):
            for i in range(n):
                blocks.append(Bottleneck(cin, w, 2 if stage > 0 and i == 0 else 1))
                cin = 4 * w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 1000)

    def forward(self, img, labels):
        x = self.blocks(self.stem(img))
        return F.cross_entropy(self.fc(x.mean((2, 3))).float(), labels)


def resnet_forward_flops(model, image=224):
    """2 x multiply-accumulates of every convolution and the fc layer, per image."""
    flops, hooks = [0], []
    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
            flops[0] += 2 * out[0].numel() * k
        elif isinstance(m, nn.Linear):
            flops[0] += 2 * m.in_features * m.out_features
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(torch.zeros(1, 3, image, image, device="cuda").to(memory_format=torch.channels_last),
              torch.zeros(1, dtype=torch.long, device="cuda"))
    for h in hooks:
        h.remove()
    return flops[0]


def time_steps(model, make_batch, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    batch = make_batch()
    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(*batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peak", type=float, default=989.4e12, help="dense bf16 peak FLOP/s")
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    results = []

    def record(name, family, micro, per_sample_flops, step_s, extra):
        mfu = 3 * per_sample_flops * micro / step_s / args.peak
        r = {"model": name, "family": family, "micro_batch": micro, "step_s": step_s, "mfu": mfu}
        r.update(extra)
        results.append(r)
        print(json.dumps(r), flush=True, file=__import__("sys").stderr)

    for name, (layers, d, heads) in {"gpt2-medium": (24, 1024, 16), "gpt2-xl": (48, 1600, 25)}.items():
        model = Gpt(layers, d, heads).cuda()
        for micro in [1, 2, 4, 8]:
            mk = lambda: (torch.randint(0, 50257, (micro, 1024), device="cuda"),)
            step_s = time_steps(model, mk, args.steps)
            record(name, "transformer", micro, model.forward_flops(1024), step_s,
                   {"tokens": micro * 1024})
        del model
        torch.cuda.empty_cache()

    model = Vit(24, 1024, 16, 4096, 16).cuda()  # ViT-L/16
    for micro in [4, 16, 64]:
        mk = lambda: (torch.randn(micro, 3, 224, 224, device="cuda"),
                      torch.randint(0, 1000, (micro,), device="cuda"))
        step_s = time_steps(model, mk, args.steps)
        record("vit-l-16", "transformer", micro, model.forward_flops(), step_s,
               {"tokens": micro * 197})
    del model
    torch.cuda.empty_cache()

    for name, depths in {"resnet-50": [3, 4, 6, 3], "resnet-152": [3, 8, 36, 3]}.items():
        model = ResNet(depths).cuda().to(memory_format=torch.channels_last)
        flops = resnet_forward_flops(model)
        for micro in [8, 16, 32, 64, 128]:
            mk = lambda: (torch.randn(micro, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last),
                          torch.randint(0, 1000, (micro,), device="cuda"))
            step_s = time_steps(model, mk, args.steps)
            record(name, "convolution", micro, flops, step_s, {"images": micro})
        del model
        torch.cuda.empty_cache()

    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                      "peak_bf16_flops": args.peak, "results": results}, indent=1))


if __name__ == "__main__":
    main()
