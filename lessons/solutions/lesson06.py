"""Lesson 06 reference answers (try the exercises in ``lessons/exercises/lesson06.py`` first)."""

import numpy as np

import minigen
from minigen import nn


def batch_norm_backward(x: np.ndarray, gamma: np.ndarray, g: np.ndarray, eps: float = 1e-5):
    axes = (0,) + tuple(range(2, x.ndim))                       # every axis but the channels
    shape = (1, -1) + (1,) * (x.ndim - 2)                       # (C,) → broadcastable against x
    mu = x.mean(axis=axes, keepdims=True)
    r = 1 / np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + eps)
    x_hat = (x - mu) * r
    h = gamma.reshape(shape) * g                                # ∂L/∂x̂
    gx = r * (h - h.mean(axis=axes, keepdims=True) - x_hat * (h * x_hat).mean(axis=axes, keepdims=True))
    return gx, (g * x_hat).sum(axis=axes), g.sum(axis=axes)


class BatchNorm1d(nn.Module):
    """The bug: evaluation mode normalized with the *batch* statistics, exactly like training mode, so an
    example's output depended on its batch (and a batch of one could not be evaluated). In evaluation mode
    the running statistics must be used instead."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(minigen.ones(num_features))
        self.bias = nn.Parameter(minigen.zeros(num_features))
        self.register_buffer("running_mean", minigen.zeros(num_features))
        self.register_buffer("running_var", minigen.ones(num_features))

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            var = ((x - mean) ** 2).mean(0)
            n, m = x.shape[0], self.momentum
            with minigen.no_grad():
                self.running_mean.data = (1 - m) * self.running_mean.data + m * mean.data
                self.running_var.data = (1 - m) * self.running_var.data + m * var.data * (n / (n - 1))
        else:
            mean, var = self.running_mean, self.running_var                     # the same for every example
        x_hat = (x - mean) / (var + self.eps).sqrt()
        return self.weight * x_hat + self.bias
