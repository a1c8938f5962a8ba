"""The ring: 8 Gaussians on a circle, a 2-D toy for GANs (Metz et al., 2017, "Unrolled GANs").

Points x = r·(cos θₖ, sin θₖ) + σ·ε with θₖ = 2πk/8, k uniform in 0..7, r = 2, σ = 0.02, ε ~ N(0, I).
The distribution has 8 well-separated modes, so a generator that covers only some of them (mode collapse) is
visible in one scatter plot after a few seconds of training, and countable: a mode is *covered* when at least
1 % of the samples fall within 3σ of its centre (``minigen.metrics.ring_modes``).

Like the image datasets it holds ``data`` ((N, 2) float32) and ``targets`` ((N,) int64: the mode of each point),
and is deterministic per (seed, split).
"""

from __future__ import annotations

import numpy as np


class Ring:
    modes, radius, std = 8, 2.0, 0.02

    def __init__(self, root=None, train: bool = True, n: int | None = None, seed: int = 0):
        n = n or (10_000 if train else 2_000)
        rng = np.random.default_rng([seed, int(train), 8])
        self.train = train
        self.targets = rng.integers(0, self.modes, n).astype(np.int64)                      # (N,)
        noise = rng.standard_normal((n, 2))
        self.data = (self.centers()[self.targets] + self.std * noise).astype(np.float32)    # (N, 2)
        self.classes = [f"mode {k}" for k in range(self.modes)]

    @classmethod
    def centers(cls) -> np.ndarray:
        """The 8 mode centres, (8, 2)."""
        theta = 2 * np.pi * np.arange(cls.modes) / cls.modes
        return cls.radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i], self.targets[i]
