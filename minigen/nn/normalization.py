"""Normalization layers that normalise each example on its own: ``GroupNorm`` and ``LayerNorm`` (PyTorch's names,
arguments, parameters and state_dict keys). No running statistics: training and eval compute the same thing."""

from __future__ import annotations

from .. import creation
from . import functional as F
from .layers import Layer, _check
from .module import Parameter


class GroupNorm(Layer):
    """Group normalization (``F.group_norm``): the C channels are split into ``num_groups`` groups, each example's
    group normalised to mean 0 and variance 1 over its channels and positions, then y = x̂ · γ + β per channel.

    Args:
        num_groups: G, the number of groups; it must divide ``num_channels``.
        num_channels: C, the number of channels.
        eps: added to the variance (default 1e-5).
        affine: learn γ (``weight``, starts at 1) and β (``bias``, starts at 0), one per channel (default True).
        device, dtype: where and how the parameters are created.

    Shape: input (N, C, *) → output of the same shape.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(creation.ones(num_channels, device=device, dtype=dtype))
            self.bias = Parameter(creation.zeros(num_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        _check(self, x.ndim >= 2 and x.shape[1] == self.num_channels,
               f"input of shape (N, {self.num_channels}, *)", x)
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class LayerNorm(Layer):
    """Layer normalization (``F.layer_norm``): each example normalised to mean 0 and variance 1 over its last dims
    (``normalized_shape``), then y = x̂ · γ + β elementwise.

    Args:
        normalized_shape: the shape of the last dims to normalise over (an int means one dim).
        eps: added to the variance (default 1e-5).
        elementwise_affine: learn γ (``weight``, starts at 1), of shape ``normalized_shape`` (default True).
        bias: learn β (``bias``, starts at 0) too, when ``elementwise_affine`` (default True).
        device, dtype: where and how the parameters are created.

    Shape: input (*, *normalized_shape) → output of the same shape.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.ones(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(creation.zeros(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        n = len(self.normalized_shape)
        _check(self, x.ndim >= n and x.shape[x.ndim - n:] == self.normalized_shape,
               f"input of shape (*, {', '.join(map(str, self.normalized_shape))})", x)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
