#!/usr/bin/env python3
"""Golden outputs from the real libraries for saturn-worker's pretrained loading
(docs/fine-tuning.md). Needs torch, transformers and safetensors (the GPU machine has them; this
CPU machine does not, so the fixtures are not committed yet).

  golden.py make OUT
      tiny random GPT2LMHeadModel and GPTJForCausalLM (transformers), saved with
      save_pretrained(safe_serialization=True) to OUT/gpt2-tiny-hf and OUT/gptj-tiny-hf, each with
      golden.safetensors: "ids" [2, 16] int64 and "logits" [2, 16, V] fp32, eval mode, CPU fp32.
  golden.py check EXPORTED GOLDEN
      loads EXPORTED (a `saturn export` directory) with from_pretrained, requires no missing or
      unexpected keys, and prints the largest logit difference against GOLDEN/golden.safetensors
      (exit 1 above 1e-4).
"""
import sys


def make(out):
    import torch
    from safetensors.torch import save_file
    from transformers import GPT2Config, GPT2LMHeadModel, GPTJConfig, GPTJForCausalLM

    torch.manual_seed(0)
    models = {
        "gpt2-tiny-hf": GPT2LMHeadModel(GPT2Config(
            n_layer=2, n_embd=32, n_head=4, vocab_size=256, n_positions=64,
            layer_norm_epsilon=1e-6)),
        "gptj-tiny-hf": GPTJForCausalLM(GPTJConfig(
            n_layer=2, n_embd=32, n_head=4, rotary_dim=4, vocab_size=256, n_positions=64)),
    }
    ids = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(1))
    for name, model in models.items():
        model.eval()
        with torch.no_grad():
            logits = model(ids).logits.float().contiguous()
        path = f"{out}/{name}"
        model.save_pretrained(path, safe_serialization=True)
        save_file({"ids": ids, "logits": logits}, f"{path}/golden.safetensors")
        print(f"{path}: {sum(p.numel() for p in model.parameters())} parameters")


def check(exported, golden):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    model, info = AutoModelForCausalLM.from_pretrained(exported, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys")}
    if bad:
        print(f"{exported}: {bad}")
        return 1
    g = load_file(f"{golden}/golden.safetensors")
    model.eval()
    with torch.no_grad():
        logits = model(g["ids"]).logits.float()
    diff = (logits - g["logits"]).abs().max().item()
    print(f"{exported}: max |logits - golden| = {diff:.3g}")
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        sys.exit(make(sys.argv[2]) or 0)
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    print(__doc__)
    sys.exit(2)
