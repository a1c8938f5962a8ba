"""Differentiable operations, one family per file, and the tensor methods and operators built on them.

``__all__`` lists the public functions: what ``from minigen.ops import *`` gives, and what the gradient tests
check one by one. ``minigen`` re-exports the tensor-level ones (``minigen.sum``), ``minigen.nn.functional`` the
neural-network ones under PyTorch's names (``F.conv2d``). Importing this package also attaches the tensor methods
and operators (``x + y``, ``x.sum()``, ``x.to('cuda')``) to ``Tensor``: the table at the bottom.
"""

from .. import backend
from ..autograd import Function, Tensor
from . import shape
from .activation import gelu, leaky_relu, log_softmax, relu, silu, softmax, softplus
from .attention import scaled_dot_product_attention
from .conv import conv2d, conv_transpose2d
from .dropout import dropout
from .dtypes import cast
from .elementwise import (abs, add, clamp, div, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne, neg,
                          pow, sigmoid, sqrt, sub, tanh, where)
from .embedding import embedding
from .linalg import linear, matmul
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss,
                   nll_loss)
from .norm import batch_norm, group_norm, layer_norm
from .pool import avg_pool2d, interpolate, max_pool2d
from .reduce import amax, amin, argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .special import erf
from .shape import (broadcast_to, cat, chunk, expand, flatten, getitem, movedim, pad, permute, reshape, split,
                    squeeze, stack, sum_to, transpose, unsqueeze, view)

__all__ = [
    # elementwise (elementwise.py; comparisons give bool tensors and no gradient)
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "maximum", "minimum",
    "clamp", "where", "eq", "ne", "lt", "le", "gt", "ge",
    # dtype conversion (dtypes.py)
    "cast",
    # reductions (reduce.py; argmax and argmin give indices and no gradient)
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp",
    # shapes, indexing, joining, padding (shape.py)
    "reshape", "view", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "movedim", "expand",
    "broadcast_to", "sum_to", "getitem", "cat", "stack", "split", "chunk", "pad",
    # activations (activation.py)
    "relu", "leaky_relu", "softplus", "softmax", "log_softmax", "silu", "gelu",
    # the error function (special.py)
    "erf",
    # layers as functions: matrix product and dense layer (linalg.py), convolution (conv.py), pooling and
    # resizing (pool.py), batch, group and layer normalization (norm.py), dropout (dropout.py), embedding
    # (embedding.py)
    "matmul", "linear", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "interpolate", "batch_norm",
    "dropout", "embedding", "group_norm", "layer_norm",
    # attention (attention.py)
    "scaled_dot_product_attention",
    # losses (loss.py)
    "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy",
]

def _swap(fn):
    return lambda self, other: fn(other, self)


def _to(self, *args, dtype=None, device=None):
    """``t.to('cuda')``, ``t.to(minigen.float64)``, ``t.to(other_tensor)``: a copy only when needed."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif isinstance(arg, str) and not arg.startswith("float") and not arg.startswith("int"):
            device = arg
        else:
            dtype = arg
    out = self
    if device is not None and backend.canonical_device(device) != self.device:
        out = _ToDevice(backend.canonical_device(device))(out)
    if dtype is not None:
        out = cast(out, dtype)
    return out


class _ToDevice(Function):
    """Copy to another device; the gradient is copied back."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.source = backend.device_of(x)
        return backend.on_device(x, self.device)

    def backward(self, g):
        return _to(g, device=self.source)


_methods = {
    "__add__": add, "__radd__": _swap(add), "__sub__": sub, "__rsub__": _swap(sub),
    "__mul__": mul, "__rmul__": _swap(mul), "__truediv__": div, "__rtruediv__": _swap(div),
    "__pow__": pow, "__rpow__": _swap(pow), "__matmul__": matmul, "__rmatmul__": _swap(matmul),
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "matmul": matmul,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "maximum": maximum, "minimum": minimum, "clamp": clamp, "clip": clamp,
    "where": lambda self, condition, other: where(condition, self, other),  # x.where(c, y) = where(c, x, y)
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax, "amin": amin,
    "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp,
    "softmax": lambda self, dim, dtype=None: softmax(self, dim, dtype=dtype),  # no _stacklevel on the method
    "log_softmax": lambda self, dim, dtype=None: log_softmax(self, dim, dtype=dtype),
    "reshape": reshape, "view": view, "transpose": transpose, "permute": permute, "flatten": flatten,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand, "movedim": movedim,
    "split": lambda self, split_size, dim=0: split(self, split_size, dim),  # PyTorch's method names it split_size
    "chunk": chunk,
    "to": _to, "type": lambda self, dtype: cast(self, dtype),
    "float": lambda self: cast(self, "float32"), "double": lambda self: cast(self, "float64"),
    "long": lambda self: cast(self, "int64"), "int": lambda self: cast(self, "int32"),
    "bool": lambda self: cast(self, "bool"),
    "cpu": lambda self: _to(self, device="cpu"), "cuda": lambda self, device="cuda": _to(self, device=device),
    "expand_as": lambda self, other: expand(self, other.shape),
    "view_as": lambda self, other: reshape(self, other.shape),
    "reshape_as": lambda self, other: reshape(self, other.shape),
    "__bool__": lambda self: bool(self.item()), "__float__": lambda self: float(self.item()),
    "__int__": lambda self: int(self.item()),
}
for _name, _fn in _methods.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(shape.T)
Tensor.mT = property(lambda self: transpose(self, -2, -1))
