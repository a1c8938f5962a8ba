"""Lesson 03 reference answers (try the exercises in ``lessons/exercises/lesson03.py`` first)."""

import math

import numpy as np

import minigen
from minigen import nn


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g                  # axes broadcasting added in front
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g   # size-1 axes broadcasting stretched


class Dense(nn.Module):
    """The bias had shape (out, 1): a column, which broadcasting lines up with the *batch* axis of (N, out).
    For N = 1 it stretched the result to (out, out); for N = out it added bias[i] to row i. The bias of a dense
    layer has shape (out,): lined up from the right, it meets the output axis."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(minigen.rand(out_features, in_features) * (2 * bound) - bound)
        self.bias = nn.Parameter(minigen.rand(out_features) * (2 * bound) - bound)

    def forward(self, x):
        return x @ self.weight.T + self.bias             # (N, in) @ (in, out) → (N, out), + (out,)
