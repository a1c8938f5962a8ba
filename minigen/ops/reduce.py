"""Reductions: sum, mean, var, max, min, logsumexp over some dims (``dim``/``keepdim``, or NumPy's
``axis``/``keepdims``).

    y = Σᵢ xᵢ                ∂L/∂xᵢ = ∂L/∂y                   (broadcast back over the reduced dims)
    y = mean x = Σ x / n     ∂L/∂xᵢ = ∂L/∂y / n
    y = var x = Σ (x − x̄)² / (n − c)     composed from mean, sub, mul, sum: its backward comes for free
    y = std x = √(var x)     ∂L/∂v = ∂L/∂y / 2y, taken as 0 where y = 0 (a constant input: PyTorch's rule)
    y = max x                ∂L/∂xᵢ = ∂L/∂y · [xᵢ = y] / #{j : xⱼ = y}
    y = log Σ eˣ             ∂L/∂x = ∂L/∂y · softmax(x)      (composed: max-shifted, so exp never overflows)

Ties in max/min: ``x.max()``, ``amax`` and ``amin`` share the gradient evenly among equal maxima;
``x.max(dim)`` returns ``(values, indices)`` and sends the gradient to the returned index (the first maximum),
as PyTorch does.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from ..autograd import Function, Tensor
from ..backend import xp_of
from .dtypes import cast
from .elementwise import exp, log, maximum, minimum, where
from .shape import _sum_axes, broadcast_to, reshape

MaxResult = namedtuple("MaxResult", ["values", "indices"])  # PyTorch's torch.return_types.max


def _axes(x: Tensor, dim, axis=None) -> tuple:
    """dim (int, tuple or None = all; an empty tuple also means all, as in PyTorch) → a sorted tuple of
    non-negative axes. ``axis`` is an alias of ``dim``, as in PyTorch."""
    dim = axis if dim is None else dim
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        dim = None
    if dim is None:
        return tuple(range(x.ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    ndim = builtins.max(x.ndim, 1)
    for d in dims:
        if not -ndim <= d < ndim:
            raise IndexError(f"dim {d} is out of range for a tensor of shape {x.shape}")
    return tuple(sorted({d % ndim for d in dims})) if x.ndim else ()


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.x_shape = x.shape
        y = _sum_axes(x, self.axes)                 # keepdims; fast on a conv's channels-last output (shape.py)
        return y if self.keepdim else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in self.axes))

    def backward(self, g):
        g = reshape(g, _keepdims_shape(self.x_shape, self.axes))  # put the reduced dims back as 1s
        return broadcast_to(g, self.x_shape)


def sum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    keepdim = keepdims if keepdims is not None else keepdim
    if x.dtype.kind == "b" or (x.dtype.kind in "iu" and dtype is None):
        x = cast(x, "int64")  # PyTorch sums bools and ints as int64
    if dtype is not None:
        x = cast(x, dtype)
    return Sum(_axes(x, dim, axis), keepdim)(x)


def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    if x.dtype.kind != "f" and dtype is None:
        raise RuntimeError(f"mean: expected a floating-point tensor, got dtype {x.dtype}")
    keepdim = keepdims if keepdims is not None else keepdim
    axes = _axes(x, dim, axis)
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum(x, axes, keepdim, dtype=dtype) / count


def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    """Variance with Bessel's correction by default (``correction=1``), as ``torch.var``."""
    if isinstance(unbiased, bool):
        correction = int(unbiased) if correction is None else correction
    correction = 1 if correction is None else correction
    keepdim = keepdims if keepdims is not None else keepdim
    axes = _axes(x, dim, axis)
    count = 1
    for a in axes:
        count *= x.shape[a]
    centred = x - mean(x, axes, keepdim=True)  # the centred form: no E[x²] − E[x]² cancellation
    return sum(centred * centred, axes, keepdim) / builtins.max(count - correction, 0)


def std(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    return _Sqrt0()(var(x, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims))


class _Sqrt0(Function):
    """√v for std, with PyTorch's gradient at v = 0 (every element equal): 0 there, not ∞ · 0 = NaN."""

    def forward(self, v):
        return xp_of(v).sqrt(v)

    def backward(self, g):
        y = self.output()
        return where(Tensor(y.data == 0), 0.0, g / (2.0 * y))


class _Extreme(Function):
    """max (or min) over ``axes``; the gradient goes to the extreme elements, shared among ties unless
    ``index`` says which single element was picked."""

    def __init__(self, axes, keepdim, largest, index=None):
        self.axes, self.keepdim, self.largest, self.index = axes, keepdim, largest, index

    def forward(self, x):
        self.x_shape = x.shape
        return x.max(axis=self.axes, keepdims=self.keepdim) if self.largest else \
            x.min(axis=self.axes, keepdims=self.keepdim)

    def backward(self, g):
        x = self.inputs[0].data
        xp = xp_of(x)
        keep = _keepdims_shape(self.x_shape, self.axes)
        y = self.output().data.reshape(keep)
        if self.index is None:
            hits = (x == y).astype(x.dtype)
            weights = hits / hits.sum(axis=self.axes, keepdims=True)  # 1/k on each of k tied extremes
        else:  # one-hot at the chosen index along the single reduced axis
            axis = self.axes[0]
            positions = xp.arange(self.x_shape[axis]).reshape((-1,) + (1,) * (len(self.x_shape) - axis - 1))
            weights = (positions == self.index.reshape(keep)).astype(x.dtype)
        return broadcast_to(reshape(g, keep), self.x_shape) * Tensor(weights)


def _extreme(x: Tensor, dim, keepdim, largest, name):
    if x.numel() == 0:
        raise RuntimeError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
    if dim is None or isinstance(dim, (tuple, list)):  # amax-style: values only, ties share the gradient
        return _Extreme(_axes(x, dim), keepdim, largest)(x)
    axis = _axes(x, dim)
    index = (x.data.argmax if largest else x.data.argmin)(axis=axis[0] if axis else None, keepdims=keepdim)
    values = _Extreme(axis, keepdim, largest, index=index if axis else None)(x)
    return MaxResult(values, Tensor(index.astype("int64")))


def max(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``max(x)`` → the largest value; ``max(x, dim)`` → (values, indices); ``max(x, other_tensor)`` →
    the elementwise maximum, as ``torch.max``. ``axis``/``keepdims`` are aliases, as in PyTorch (so
    ``max(x, axis=1)`` also returns (values, indices); ``amax`` gives the values alone)."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    dim = axis if dim is None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    return _extreme(x, dim, keepdim, True, "max")


def min(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    dim = axis if dim is None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    return _extreme(x, dim, keepdim, False, "min")


def amax(x: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    keepdim = keepdims if keepdims is not None else keepdim
    return _Extreme(_axes(x, None if dim == () else dim, axis), keepdim, True)(x)


def amin(x: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    keepdim = keepdims if keepdims is not None else keepdim
    return _Extreme(_axes(x, None if dim == () else dim, axis), keepdim, False)(x)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if dim is None:
        return Tensor(xp_of(x.data).asarray(x.data.argmax(), dtype="int64"))
    return Tensor(x.data.argmax(axis=dim, keepdims=keepdim).astype("int64"))


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if dim is None:
        return Tensor(xp_of(x.data).asarray(x.data.argmin(), dtype="int64"))
    return Tensor(x.data.argmin(axis=dim, keepdims=keepdim).astype("int64"))


def logsumexp(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """log Σ exp(x) over ``dim``, computed as m + log Σ exp(x − m) with m the (constant) maximum."""
    if dim is None and axis is None:
        raise TypeError("logsumexp: missing the dim (or axis) to reduce over")
    keepdim = keepdims if keepdims is not None else keepdim
    axes = _axes(x, dim, axis)
    xp = xp_of(x.data)
    m = xp.asarray(x.data.max(axis=axes, keepdims=True))  # asarray: a 0-d x gives a NumPy scalar here
    m = xp.where(xp.isfinite(m), m, 0)  # all −inf: shift by 0, the result is −inf
    out = log(sum(exp(x - Tensor(m)), axes, keepdim=True)) + Tensor(m)
    return out if keepdim else reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
