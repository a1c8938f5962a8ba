"""Lesson 03 exercises: the backward of broadcasting, and a broken dense layer.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson03`` (or ``check(3, "exercises")``).
"""

import math

import numpy as np

import minigen
from minigen import nn


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Exercise 3.1. Sum ``g`` so that it has exactly ``shape``, where ``shape`` broadcasts to ``g.shape``.

    Sum away the leading axes that broadcasting added, then, with ``keepdims=True``, the axes where ``shape``
    has size 1 but ``g`` does not. Example: g of shape (2, 3, 4) and shape (3, 1) → sum over axis 0, then over
    axis 2 keeping it → (3, 1)."""
    raise NotImplementedError("exercise 3.1: write sum_to (lessons/exercises/lesson03.py)")


class Dense(nn.Module):
    """Exercise 3.2. A dense layer, y = x Wᵀ + b: x (N, in) → y (N, out), like ``nn.Linear``.

    It has a bug: try batches of 1, 2 and ``out_features`` examples and compare with ``F.linear``. Fix it so
    that every batch size gives (N, out) and the same numbers as ``F.linear(x, self.weight, self.bias)``."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        bound = 1 / math.sqrt(in_features)               # PyTorch's default: U(−1/√in, 1/√in)
        self.weight = nn.Parameter(minigen.rand(out_features, in_features) * (2 * bound) - bound)
        self.bias = nn.Parameter(minigen.rand(out_features, 1) * (2 * bound) - bound)

    def forward(self, x):
        return x @ self.weight.T + self.bias             # (N, in) @ (in, out) → (N, out), plus the bias
