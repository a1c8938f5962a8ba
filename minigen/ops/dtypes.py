"""Dtypes: how operands of different types meet, and the differentiable cast.

PyTorch's rules, which NumPy 2 (NEP 50) mostly shares:
- A Python or NumPy scalar takes the tensor's dtype: ``float32 * 2.0`` stays float32. A float scalar meeting an
  integer tensor gives the default float type (float32).
- Two tensors of the same kind (both floating, both integer) give the wider type; an integer tensor meeting a
  floating one gives the floating one (NumPy would give float64 for int64 + float32; PyTorch gives float32).
- A 0-d tensor meeting a tensor with dims counts like a scalar: it never widens a tensor of its own kind
  (bool < integer < floating). ``float32[3] + float64[]`` is float32; ``int64[3] + float64[]`` is float64.

Cast's backward casts the gradient back: if y = x.astype(d) then ∂L/∂x = (∂L/∂y).astype(x.dtype).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor

float32, float64, float16 = np.dtype("float32"), np.dtype("float64"), np.dtype("float16")
int64, int32, uint8, bool_ = np.dtype("int64"), np.dtype("int32"), np.dtype("uint8"), np.dtype("bool")
DEFAULT_FLOAT = float32


def result_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of a binary op between tensors of dtypes a and b."""
    if a == b:
        return a
    a_float, b_float = a.kind == "f", b.kind == "f"
    if a_float != b_float:
        return a if a_float else b
    return np.promote_types(a, b)


def scalar_dtype(tensor_dtype: np.dtype, scalar) -> np.dtype:
    """The dtype a Python scalar takes when it meets a tensor of ``tensor_dtype``."""
    if isinstance(scalar, (bool, np.bool_)):
        return tensor_dtype
    if isinstance(scalar, numbers.Integral):
        return tensor_dtype if tensor_dtype.kind != "b" else int64
    if isinstance(scalar, numbers.Real):
        return tensor_dtype if tensor_dtype.kind == "f" else DEFAULT_FLOAT
    raise TypeError(f"unsupported operand type {type(scalar).__name__}")


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype, copy=False)

    def backward(self, gy):
        return cast(gy, self.x_dtype)


def cast(x: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    return x if x.dtype == dtype else Cast(dtype)(x)


def as_tensor_like(value, like: Tensor) -> Tensor:
    """``value`` as a tensor on ``like``'s device; a scalar takes the dtype the promotion rules give it."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (numbers.Number, np.generic)):
        return Tensor(like.xp.asarray(value, dtype=scalar_dtype(like.dtype, value)))
    return Tensor(like.xp.asarray(value))


def operands(a, b) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors of one dtype on one device."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.dtype == b.data.dtype:
        return a, b                                   # the common case, answered without the rules below
    if not isinstance(a, Tensor):
        a = as_tensor_like(a, b)
    if not isinstance(b, Tensor):
        b = as_tensor_like(b, a)
    dtype = result_dtype(a.dtype, b.dtype)
    if (a.ndim == 0) != (b.ndim == 0):  # a 0-d tensor meets one with dims: it counts only if of a higher kind
        with_dims, zero_d = (b, a) if a.ndim == 0 else (a, b)
        if _KIND_ORDER[zero_d.dtype.kind] <= _KIND_ORDER[with_dims.dtype.kind]:
            dtype = with_dims.dtype
    return cast(a, dtype), cast(b, dtype)


_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating
