# The GPT-2 models of Saturn's zoo (src/zoo) in PyTorch, with saturn-worker's parameter names and
# initialisation, and the flat order in which saturn-worker lists parameters (the order of
# checkpoint tensors and of the optimizer's groups). `torch` is passed in, not imported here.
import math

from .protocol import Failure


# GPT-2 shapes of the model zoo (src/zoo): layers, d_model, heads, context. MLP 4 x d_model.
GPT2_MODELS = {
    "gpt2": (12, 768, 12, 1024),
    "gpt2-medium": (24, 1024, 16, 1024),
    "gpt2-large": (36, 1280, 20, 1024),
    "gpt2-xl": (48, 1600, 25, 1024),
    "gpt2-4b": (20, 4096, 32, 1024),
    "gpt2-tiny": (2, 64, 4, 256),
    "gpt2-mini": (4, 128, 4, 256),
}
GPT2_VOCAB = 50257


def build_model(torch, job, vocab, seq_len):
    nn, F = torch.nn, torch.nn.functional
    layers, d, heads, context = GPT2_MODELS[job["model"]]
    if seq_len > context:
        raise Failure("config", f"data.seq_len: {job['model']} has a context of {context} tokens; "
                                f"seq_len {seq_len} is longer")
    fused_attention = hasattr(F, "scaled_dot_product_attention")

    class Embed(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(seq_len, d)

        def forward(self, ids):  # ids [batch, seq] int64 -> [batch, seq, d] float32
            return self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))

    class Block(nn.Module):  # pre-LayerNorm, causal attention, tanh GELU MLP
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d)
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)
            self.ln_2 = nn.LayerNorm(d)
            self.c_fc = nn.Linear(d, 4 * d)
            self.mlp_proj = nn.Linear(4 * d, d)

        def forward(self, x):  # x [batch, seq, d] -> [batch, seq, d]
            b, t, c = x.shape
            q, k, v = (y.view(b, t, heads, c // heads).transpose(1, 2)
                       for y in self.c_attn(self.ln_1(x)).split(c, 2))
            if fused_attention:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                scores = (q @ k.transpose(-2, -1)) / math.sqrt(c // heads)
                mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
                a = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
            h = x + self.c_proj(a.transpose(1, 2).reshape(b, t, c))
            return h + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(h)), approximate="tanh"))

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_f = nn.LayerNorm(d)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = Embed()
            self.h = nn.ModuleList(Block() for _ in range(layers))
            self.head = Head()

        def forward(self, ids):  # ids [batch, seq] int64 -> logits [batch, seq, vocab]
            x = self.embed(ids)
            for block in self.h:
                x = block(x)
            return self.head.ln_f(x) @ self.embed.wte.weight.t()  # LM head tied to the embedding

    torch.manual_seed(job["seed"])
    model = GPT()
    with torch.no_grad():  # GPT-2's initialisation
        for name, p in model.named_parameters():
            if name.endswith(("c_proj.weight", "mlp_proj.weight")):
                p.normal_(0.0, 0.02 / math.sqrt(2 * layers))
            elif name == "embed.wpe.weight":
                p.normal_(0.0, 0.01)
            elif p.dim() >= 2:
                p.normal_(0.0, 0.02)
            elif name.endswith("bias") and ".ln_" not in name:
                p.zero_()
    return model


def flat_layout(model):
    """Parameters in saturn-worker's flat order: block by block (embed, h.0, ..., head), within a
    block the weight-decayed ones (matrices, embeddings) first."""
    def block(name):
        parts = name.split(".")
        return ".".join(parts[:2]) if parts[0] == "h" else parts[0]
    named = list(model.named_parameters())
    order, seen = [], []
    for name, _ in named:
        if block(name) not in seen:
            seen.append(block(name))
    for b in seen:
        members = [(n, p) for n, p in named if block(n) == b]
        order += [(n, p) for n, p in members if p.dim() >= 2]
        order += [(n, p) for n, p in members if p.dim() < 2]
    return order
