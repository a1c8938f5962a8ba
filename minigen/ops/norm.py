"""Batch normalization as a function (``F.batch_norm``), and its fused backward.

batch_norm over the batch (and, for images, the pixels) of each channel c, with m values per channel
(m = N for (N, C), N·H·W for (N, C, H, W)):
    μ = mean x,  σ² = mean (x − μ)²  (biased, used to normalize),  x̂ = (x − μ)/√(σ² + ε),  y = γ x̂ + β.
Backward (each sum over the m values of a channel):
    ∂L/∂β = Σ g,   ∂L/∂γ = Σ g·x̂,   ∂L/∂x = γ/√(σ² + ε) · (g − mean g − x̂ · mean(g·x̂))
The last line is what composing the forward from mean, sub, mul... and differentiating would give, in one pass
instead of a dozen (``batch_norm_composed`` below is that composition, and the tests hold one to the other).
With create_graph=True the backward recomputes x̂ and 1/σ from x with tensor ops, so it can be differentiated.
Running statistics are updated in place without building a graph: running ← (1 − momentum)·running +
momentum·batch, with the *unbiased* variance σ²·m/(m − 1), as PyTorch. In eval mode y = γ (x − running_mean)
/ √(running_var + ε) + β: an affine map per channel, differentiable like any other.
"""

from __future__ import annotations

from ..autograd import Function, Tensor, is_grad_enabled, no_grad
from ..backend import xp_of
from .elementwise import sqrt
from .reduce import mean, sum
from .shape import reshape


def _channel_shape(x) -> tuple:
    """(1, C, 1, 1) for images, (1, C) for vectors: per-channel values broadcast against x."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _axes(x) -> tuple:
    return (0,) + tuple(range(2, x.ndim))  # every axis but the channel axis


class BatchNorm(Function):
    """Training-mode batch norm with the fused backward derived in the module docstring."""

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, weight, bias):
        xp, axes, shape = xp_of(x), _axes(x), _channel_shape(x)
        self.mean = x.mean(axis=axes)                                        # (C,)
        centred = x - self.mean.reshape(shape)                               # (N, C, H, W)
        self.var = (centred * centred).mean(axis=axes)                       # (C,) biased
        self.inv_std = 1 / xp.sqrt(self.var + x.dtype.type(self.eps))       # (C,)
        self.x_hat = centred * self.inv_std.reshape(shape)
        return self.x_hat * weight.reshape(shape) + bias.reshape(shape)

    def backward(self, g):
        x, weight, bias = self.inputs
        axes, shape = _axes(x), _channel_shape(x)
        m = g.numel() // x.shape[1]  # values per channel
        if is_grad_enabled():  # create_graph: recompute x̂ and 1/σ from x with tensor ops, so that this rule
            centred = x - mean(x, axes, keepdim=True)  # is itself differentiable (gradients of gradients)
            inv_std = (mean(centred * centred, axes, keepdim=True) + self.eps) ** -0.5
            x_hat = centred * inv_std
        else:  # plain backward: reuse what forward computed
            x_hat, inv_std = Tensor(self.x_hat), Tensor(self.inv_std.reshape(shape))
        g_sum = sum(g, axes)                                                 # (C,) = ∂L/∂β
        gx_hat_sum = sum(g * x_hat, axes)                                    # (C,) = ∂L/∂γ
        gx = reshape(weight, shape) * inv_std * (g - reshape(g_sum / m, shape)
                                                 - x_hat * reshape(gx_hat_sum / m, shape))
        return gx, gx_hat_sum, g_sum


def batch_norm_composed(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """Training-mode batch norm written with basic ops: the slow, obviously-correct twin of ``BatchNorm``."""
    axes, shape = _axes(x), _channel_shape(x)
    mu = mean(x, axes, keepdim=True)
    centred = x - mu
    var = mean(centred * centred, axes, keepdim=True)
    x_hat = centred / sqrt(var + eps)
    return x_hat * reshape(weight, shape) + reshape(bias, shape)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    if input.ndim not in (2, 3, 4, 5):
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, ...), got {input.shape}")
    channels = input.shape[1]
    xp = input.xp
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise RuntimeError(f"batch_norm: {name} has shape {t.shape}, expected ({channels},) for input of "
                               f"shape {input.shape}")
    weight = weight if weight is not None else Tensor(xp.ones(channels, input.dtype))
    bias = bias if bias is not None else Tensor(xp.zeros(channels, input.dtype))
    shape = _channel_shape(input)
    if training:
        m = input.numel() // channels
        if m <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {input.shape}")
        fn = BatchNorm(eps)
        y = fn(input, weight, bias)
        if running_mean is not None:
            with no_grad():  # statistics are state, not part of the graph
                running_mean.data *= 1 - momentum
                running_mean.data += momentum * fn.mean.astype(running_mean.dtype)
                running_var.data *= 1 - momentum
                running_var.data += momentum * (fn.var * (m / (m - 1))).astype(running_var.dtype)  # unbiased
        return y
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: eval mode needs running_mean and running_var (or training=True)")
    scale = weight / sqrt(running_var + eps)                                 # (C,)
    shift = bias - running_mean * scale                                      # (C,)
    return input * reshape(scale, shape) + reshape(shift, shape)


