"""xoshiro256** seeded by SplitMix64, and Lemire's bounded integers, exactly as the Swift
`Xoshiro256` (Sources/Tensors/Random.swift; formerly Training.Xoshiro256StarStar), so a PyTorch script can draw the
same training windows. Source: Blackman and Vigna, https://prng.di.unimi.it/; D. Lemire,
"Fast Random Integer Generation in an Interval" (2019)."""

M64 = (1 << 64) - 1


def splitmix64_outputs(state, n):
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        out.append(z ^ (z >> 31))
    return out


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Xoshiro256StarStar:
    def __init__(self, seed=None, state=None):
        self.s = list(state) if state is not None else splitmix64_outputs(seed, 4)

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def next_int_below(self, bound):
        m = self.next() * bound
        if (m & M64) < bound:
            threshold = ((1 << 64) - bound) % bound
            while (m & M64) < threshold:
                m = self.next() * bound
        return m >> 64

    def window_offsets(self, token_count, seq_len, batch_size):
        """One batch of window starts, as RandomWindowSampler.nextOffsets()."""
        return [self.next_int_below(token_count - seq_len) for _ in range(batch_size)]
