"""Hypothesis strategies for convolutions and pooling: parameters valid *by construction*, never filtered.

Each strategy draws the parameters first and then the smallest input sizes they allow, so every example is a
legal PyTorch call: padding 0–2, a kernel no larger than the padded input, stride 1–3, dilation 1–2,
output_padding < max(stride, dilation), groups 1–2, non-square kernels, strides and paddings.
Used by test_conv.py, test_pool.py and test_torch_parity_conv.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class ConvCase:
    transposed: bool
    x_shape: tuple
    w_shape: tuple
    bias: bool
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    output_padding: tuple = (0, 0)

    def kwargs(self) -> dict:
        kw = dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)
        if self.transposed:
            kw["output_padding"] = self.output_padding
        return kw

    def arrays(self, seed: int = 0):
        """x, w and b (or None) as float64 NumPy arrays."""
        rng = np.random.default_rng(seed)
        out_channels = self.w_shape[1] * self.groups if self.transposed else self.w_shape[0]
        return (rng.standard_normal(self.x_shape), rng.standard_normal(self.w_shape),
                rng.standard_normal(out_channels) if self.bias else None)


def _pair(draw, values):
    return (draw(values), draw(values))


@st.composite
def conv_cases(draw, transposed: bool = False, max_batch: int = 2, max_channels: int = 2, max_kernel: int = 3,
               max_extra: int = 3, groups=(1, 2), bias=None):
    """A conv2d (or conv_transpose2d) call: shapes and parameters that PyTorch accepts."""
    g = draw(st.sampled_from(groups))
    in_per_group = draw(st.integers(1, max_channels))
    out_per_group = draw(st.integers(1, max_channels))
    kernel = _pair(draw, st.integers(1, max_kernel))
    stride = _pair(draw, st.integers(1, 3))
    dilation = _pair(draw, st.integers(1, 2))
    N = draw(st.integers(1, max_batch))
    has_bias = draw(st.booleans()) if bias is None else bias
    if not transposed:
        padding = _pair(draw, st.integers(0, 2))
        # the smallest input whose padded size holds the dilated kernel, plus a little
        hw = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, max_extra))
                   for k, d, p in zip(kernel, dilation, padding))
        return ConvCase(False, (N, g * in_per_group) + hw, (g * out_per_group, in_per_group) + kernel, has_bias,
                        stride, padding, dilation, g)
    hw = _pair(draw, st.integers(1, 1 + max_extra))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    # padding is cropped from both sides of the full output: keep at least one pixel
    padding = tuple(draw(st.integers(0, min(2, ((n - 1) * s + d * (k - 1) + o) // 2)))
                    for n, s, d, k, o in zip(hw, stride, dilation, kernel, output_padding))
    return ConvCase(True, (N, g * in_per_group) + hw, (g * in_per_group, out_per_group) + kernel, has_bias,
                    stride, padding, dilation, g, output_padding)


@dataclass(frozen=True)
class PoolCase:
    x_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    ceil_mode: bool


def pool_output_size(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


@st.composite
def pool_cases(draw, dilation: bool = True, max_extra: int = 3):
    """A max_pool2d / avg_pool2d call: padding ≤ kernel/2 (PyTorch's rule), input at least the kernel."""
    kernel = _pair(draw, st.integers(1, 3))
    stride = _pair(draw, st.integers(1, 3))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dil = _pair(draw, st.integers(1, 2)) if dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    hw = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, max_extra))
               for k, d, p in zip(kernel, dil, padding))
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return PoolCase((N, C) + hw, kernel, stride, padding, dil, ceil_mode)


def distinct_values(shape, seed: int = 0, step: float = 1 / 16) -> np.ndarray:
    """Values on a grid with no two equal (no ties in max pooling: finite differences need a unique max)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * step).reshape(shape)
