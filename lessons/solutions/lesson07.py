"""Lesson 07 reference answers (try the exercises in ``lessons/exercises/lesson07.py`` first)."""

import minigen
from minigen import nn


def bce_with_logits(logits, targets):
    """softplus(l) = log(1 + eˡ) = max(l, 0) + log(1 + e^(−|l|)): for l ≥ 0, log(eˡ(e^(−l) + 1)); for l < 0, as is."""
    positive_part = minigen.maximum(logits, minigen.zeros_like(logits))
    return (positive_part - targets * logits + (1 + (-logits.abs()).exp()).log()).sum()


def make_decoder(latent_dim: int) -> nn.Module:
    """The last layer must output *logits*, which range over all real numbers. A ReLU after it clamped them at
    0, and σ(0) = ½: no pixel could be darker than mid-grey. (A hidden ReLU is fine; the output one is not.)"""
    return nn.Sequential(
        nn.Linear(latent_dim, 128), nn.ReLU(),                   # → (N, 128)
        nn.Linear(128, 512), nn.ReLU(),                          # → (N, 512)
        nn.Linear(512, 784))                                     # → (N, 784) logits
