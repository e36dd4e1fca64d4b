# The training data exactly as saturn-worker cuts and orders it (docs/worker.md#data;
# saturn/dataset.h): the token stream cut into samples, the held-out split, SplitMix64 and the
# per-epoch Fisher-Yates order, and which sample positions each rank's micro-batch takes at each
# step. NumPy is passed in as `np` (this module imports neither NumPy nor torch).
from .protocol import Failure


MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _splitmix_outputs(np, state, count):
    """The next `count` outputs of SplitMix64 from `state` (uint64 array), and the new state."""
    k = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(state) + k * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z, (state + count * GOLDEN) & MASK64


def _below(np, z, bound):
    """Lemire's multiply-shift of each z by its bound (< 2^32): (high, low) words of z x bound."""
    bound = np.asarray(bound, dtype=np.uint64)
    m32 = np.uint64(0xFFFFFFFF)
    with np.errstate(over="ignore"):
        a = (z & m32) * bound
        c = (z >> np.uint64(32)) * bound
        high = (c + (a >> np.uint64(32))) >> np.uint64(32)
        low = z * bound
        threshold = (np.uint64(0) - bound) % bound  # 2^64 mod bound
    return high, low < threshold


class SplitMix64:
    """saturn::SplitMix64, scalar (the rare rejected draw is redone exactly as the C++ does)."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + GOLDEN) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            m = self.next() * bound
            if (m & MASK64) >= threshold:
                return m >> 64


def draws_below(np, seed, bounds, dtype="int64", chunk=1 << 20):
    """[SplitMix64(seed).below(b) for b in bounds], vectorised a chunk at a time; exact: from a
    chunk with a rejected draw (odds about bound / 2^64 each) on, the scalar generator goes on."""
    bounds = np.asarray(bounds, dtype=np.uint64)
    out = np.empty(len(bounds), dtype=dtype)
    state = seed & MASK64
    for start in range(0, len(bounds), chunk):
        part = bounds[start:start + chunk]
        z, after = _splitmix_outputs(np, state, len(part))
        high, rejected = _below(np, z, part)
        if rejected.any():
            rng = SplitMix64(0)
            rng.state = state
            out[start:] = [rng.below(int(b)) for b in bounds[start:]]
            return out
        out[start:start + len(part)] = high
        state = after
    return out


class TokenData:
    """The job's token stream cut into samples of seq_len + 1 tokens at a stride of seq_len; the
    last 5% (at least one) are the evaluation split."""

    def __init__(self, np, job, vocab):
        d = job["data"]
        self.np = np
        self.seq_len = d["seq_len"]
        if d["format"] == "synthetic-text":
            train = d["samples"]
            evaluation = max(1, train // 20)
            count = (train + evaluation) * self.seq_len + 1
            seed = (job["seed"] * GOLDEN + 11) & MASK64
            self.ids = draws_below(np, seed, np.full(count, vocab, dtype=np.uint64), dtype=np.int32)
        else:
            try:
                raw = np.fromfile(d["path"], dtype=np.uint8)
            except OSError as e:
                raise Failure("data", f"{d['path']}: data.path: cannot read the file: {e}")
            if d["format"] == "text":
                self.ids = raw  # the bytes tokenizer: one token per byte
            else:
                if raw.size % 2:
                    raise Failure("data", f"{d['path']}: data.path: {raw.size} bytes: a token "
                                          "file holds uint16 ids (an even size)")
                self.ids = raw.view("<u2")
                if self.ids.size and int(self.ids.max()) >= vocab:
                    at = int(np.argmax(self.ids >= vocab))
                    raise Failure("data", f"{d['path']}: data.path: token {int(self.ids[at])} at "
                                          f"position {at} is outside the model's vocabulary of "
                                          f"{vocab}")
        total = (int(self.ids.size) - 1) // self.seq_len
        if total < 2:
            raise Failure("data", f"{d['path'] or 'synthetic'}: data.seq_len: {self.ids.size} "
                                  f"tokens make fewer than two samples of {self.seq_len} + 1 "
                                  "tokens")
        self.eval_samples = max(1, total // 20)
        self.train_samples = total - self.eval_samples

    def rows(self, indices):
        np, n = self.np, self.seq_len
        starts = np.asarray(indices, dtype=np.int64) * n
        return self.ids[starts[:, None] + np.arange(n + 1)[None, :]].astype(np.int64)


class SampleOrder:
    """Epoch e visits the training samples in a Fisher-Yates permutation drawn with
    SplitMix64(seed ^ (0xD1B54A32D192ED03 * (e + 1)))."""

    def __init__(self, np, samples, seed):
        self.np, self.samples, self.seed = np, samples, seed
        self.epoch, self.perm = -1, None

    def permutation(self, epoch):
        if epoch != self.epoch:
            np, n = self.np, self.samples
            perm = list(range(n))
            if n > 1:
                seed = self.seed ^ ((0xD1B54A32D192ED03 * (epoch + 1)) & MASK64)
                js = draws_below(np, seed, np.arange(n, 1, -1, dtype=np.uint64)).tolist()
                for i, j in zip(range(n - 1, 0, -1), js):
                    perm[i], perm[j] = perm[j], perm[i]
            self.perm, self.epoch = perm, epoch
        return self.perm

    def at(self, position):
        return self.permutation(position // self.samples)[position % self.samples]


def batch_positions(step, batch, accum, micro, world, rank):
    per_micro = batch // accum
    per_rank = per_micro // world
    first = step * batch + micro * per_micro + rank * per_rank
    return range(first, first + per_rank)
