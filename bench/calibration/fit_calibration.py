#!/usr/bin/env python3
"""fit_calibration.py: fits the estimator's per-block launch overhead and asymptotic MFU to
measured training steps (measure_mfu.py output), per model family, and prints every point's
prediction error. Pure Python (no numpy).

Model (docs/estimator.md#compute): a step of a model with B blocks and forward FLOPs F per
sample, at b samples per GPU, takes
    optimizer_s + 3 x B x overhead_s + 3 x F x b / (peak x mfu)
(backward = 2 x forward, for overhead and compute alike); optimizer_s = params x 28 bytes /
(HBM bandwidth x 0.8), as the estimator counts a fused AdamW step. The fit is least squares on
relative error.

  python3 bench/calibration/fit_calibration.py calibration/measurements/h100-*.json
"""
import json, sys

PEAK, HBM = 989.4e12, 3350e9 * 0.8  # H100 SXM: dense bf16 FLOP/s; HBM bytes/s x efficiency


def gpt(layers, d, s=1024, vocab=50257):
    return layers * (8 * s * d * d + 4 * s * d * 4 * d + 4 * s * s * d) + 2 * s * d * vocab


def vit(layers=24, d=1024, mlp=4096, s=197):
    return 2 * 196 * 3 * 16 * 16 * d + layers * (8 * s * d * d + 4 * s * d * mlp + 4 * s * s * d) + 2 * d * 1000


# name: (family, forward FLOPs per sample, blocks, parameters)
MODELS = {
    "gpt2-medium": ("transformer", gpt(24, 1024), 26, 355e6),
    "gpt2-xl": ("transformer", gpt(48, 1600), 50, 1.558e9),
    "vit-l-16": ("transformer", vit(), 26, 304e6),
    "resnet-50": ("convolution", None, 18, 25.6e6),
    "resnet-152": ("convolution", None, 52, 60.2e6),
}
# The model each family is fitted on (the largest of the family measured).
FIT_ON = {"transformer": "gpt2-xl", "convolution": "resnet-152"}


def load(paths):
    points = []
    for path in paths:
        doc = json.load(open(path))
        for r in doc["results"] if isinstance(doc, dict) else doc:
            points.append(r)
    return points


def flops(r):
    family, f, blocks, params = MODELS[r["model"]]
    return f if f is not None else r["fwd_flops"]


def fit(points):
    # Unknowns x = (overhead_s, 1/mfu); rows a = (3B, 3 F b / peak), target t - optimizer;
    # weighted by 1/t (relative error). Normal equations of a 2x2 system.
    s11 = s12 = s22 = r1 = r2 = 0.0
    for r in points:
        _, _, blocks, params = MODELS[r["model"]]
        t = r["step_s"]
        a1, a2 = 3 * blocks / t, 3 * flops(r) * r["micro_batch"] / PEAK / t
        y = (t - params * 28 / HBM) / t
        s11 += a1 * a1; s12 += a1 * a2; s22 += a2 * a2; r1 += a1 * y; r2 += a2 * y
    det = s11 * s22 - s12 * s12
    overhead = (r1 * s22 - r2 * s12) / det
    inv_mfu = (s11 * r2 - s12 * r1) / det
    return overhead, 1 / inv_mfu


def main():
    points = [r for r in load(sys.argv[1:]) if r["model"] in MODELS and ("fwd_flops" in r or MODELS[r["model"]][1])]
    for family, model in FIT_ON.items():
        overhead, mfu = fit([r for r in points if r["model"] == model])
        print(f"{family}: fitted on {model}: block overhead {overhead:.3g} s, mfu {mfu:.3f}")
        for r in sorted((r for r in points if MODELS[r["model"]][0] == family),
                        key=lambda r: (r["model"], r["micro_batch"])):
            _, _, blocks, params = MODELS[r["model"]]
            pred = params * 28 / HBM + 3 * blocks * overhead + 3 * flops(r) * r["micro_batch"] / (PEAK * mfu)
            print(f"  {r['model']:<12} b={r['micro_batch']:<4} measured {r['step_s']:.4f} s  "
                  f"model {pred:.4f} s  {100 * (pred / r['step_s'] - 1):+.0f}%")


if __name__ == "__main__":
    main()
