"""Lesson 06 exercises: batch norm's backward in NumPy, and a batch-norm layer with a broken evaluation mode.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson06`` (or ``check(6, "exercises")``).
"""

import numpy as np

import minigen
from minigen import nn


def batch_norm_backward(x: np.ndarray, gamma: np.ndarray, g: np.ndarray, eps: float = 1e-5):
    """Exercise 6.1. Gradients of training-mode batch norm y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + ε).

    x and g = ∂L/∂y have shape (N, C) or (N, C, H, W); statistics are per channel, over every axis but 1.
    Return (∂L/∂x, ∂L/∂γ, ∂L/∂β), shaped like x, (C,) and (C,). Recompute μ, σ² (biased) and x̂ from x;
    then use ∂L/∂x = r·(h − mean(h) − x̂·mean(h·x̂)) with h = γ·g and r = 1/√(σ² + ε) (lesson, section 4)."""
    raise NotImplementedError("exercise 6.1: write batch_norm_backward (lessons/exercises/lesson06.py)")


class BatchNorm1d(nn.Module):
    """Exercise 6.2. Batch norm for (N, C) inputs, like ``nn.BatchNorm1d``. It has a bug: in training mode it
    matches ``nn.BatchNorm1d`` and its running statistics are right, but evaluation mode is broken. Fix it."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(minigen.ones(num_features))                 # γ
        self.bias = nn.Parameter(minigen.zeros(num_features))                  # β
        self.register_buffer("running_mean", minigen.zeros(num_features))
        self.register_buffer("running_var", minigen.ones(num_features))

    def forward(self, x):                                                       # (N, C) → (N, C)
        mean = x.mean(0)                                                        # (C,)
        var = ((x - mean) ** 2).mean(0)                                         # (C,) biased: to normalize
        if self.training:
            n, m = x.shape[0], self.momentum
            with minigen.no_grad():                                             # state, not part of the graph
                self.running_mean.data = (1 - m) * self.running_mean.data + m * mean.data
                self.running_var.data = (1 - m) * self.running_var.data + m * var.data * (n / (n - 1))
        x_hat = (x - mean) / (var + self.eps).sqrt()
        return self.weight * x_hat + self.bias
