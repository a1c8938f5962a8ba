"""Dense layer, batch normalization, dropout and embedding, as functions (``F.linear``, ``F.batch_norm``, ...).

linear: y = x Wᵀ + b with W (out, in), x (..., in) → y (..., out). Composed from matmul and add.

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

dropout: during training zero each element with probability p and scale the survivors by 1/(1 − p), so the
expected value is unchanged; ∂L/∂x = g · mask / (1 − p). The mask comes from the device's seeded generator.
"""

from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor, is_grad_enabled, no_grad
from ..backend import xp_of
from .elementwise import sqrt
from .linalg import matmul
from .reduce import mean, sum
from .shape import getitem, reshape, transpose


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if input.shape[-1:] != weight.shape[-1:]:
        raise RuntimeError(f"linear: input of shape {input.shape} does not match weight of shape "
                           f"{weight.shape} (expected the input's last dim to be {weight.shape[-1]})")
    y = matmul(input, transpose(weight, 0, 1) if weight.ndim == 2 else weight)  # (..., in) @ (in, out)
    return y if bias is None else y + bias


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


class Dropout(Function):
    def __init__(self, keep):
        self.keep = keep  # the scaled mask: 0 or 1/(1 − p), a constant

    def forward(self, x):
        return x * self.keep

    def backward(self, g):
        return g * Tensor(self.keep)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    u = backend.generator(input.device).random(input.shape, dtype=input.dtype)  # uniform in [0, 1)
    keep = (u >= p).astype(input.dtype) * input.dtype.type(1 / (1 - p))
    return Dropout(keep)(input)


def embedding(input: Tensor, weight: Tensor, padding_idx=None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``input`` (...) → (..., dim)."""
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected integer indices, got dtype {input.dtype}")
    return getitem(weight, input.data)
