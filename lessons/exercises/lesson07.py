"""Lesson 07 exercises: cross-entropy on logits, and a decoder that cannot draw black.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson07`` (or ``check(7, "exercises")``).
"""

import minigen
from minigen import nn


def bce_with_logits(logits, targets):
    """Exercise 7.1. Binary cross-entropy of ``targets`` p ∈ [0, 1] under logits l, *summed* over all elements:

        Σ softplus(l) − p·l,  computed as  Σ max(l, 0) − p·l + log(1 + e^(−|l|))

    with minigen operations (``minigen.maximum``, ``.abs()``, ``.exp()``, ``.log()``, ``*``, ``+``, ``.sum()``) so
    that it has a gradient. e^(−|l|) ≤ 1 never overflows, so the result is finite for any finite logits."""
    raise NotImplementedError("exercise 7.1: write bce_with_logits (lessons/exercises/lesson07.py)")


def make_decoder(latent_dim: int) -> nn.Module:
    """Exercise 7.2. A decoder: code (N, latent_dim) → 784 pixel logits (N, 784), through 128 and 512 units.
    It has a bug: its images can never have a black background. Fix it."""
    return nn.Sequential(
        nn.Linear(latent_dim, 128), nn.ReLU(),                   # → (N, 128)
        nn.Linear(128, 512), nn.ReLU(),                          # → (N, 512)
        nn.Linear(512, 784), nn.ReLU())                          # → (N, 784) logits
