"""Matrix multiplication, y = a @ b, with PyTorch's (and NumPy's) rules for shapes; and the dense layer built on
it, ``linear``.

For matrices a (n, k) and b (k, m), yᵢⱼ = Σₖ aᵢₖ bₖⱼ, and the chain rule gives

    ∂L/∂a = ∂L/∂y @ bᵀ    (n, m) @ (m, k) → (n, k)
    ∂L/∂b = aᵀ @ ∂L/∂y    (k, n) @ (n, m) → (k, m)

Leading (batch) dims broadcast like any elementwise op, so each gradient is summed back to its input's shape.
A 1-D a is treated as a row (1, k) and a 1-D b as a column (k, 1); the added dim is removed from the result.

linear (``F.linear``): y = x Wᵀ + b with W (out, in), x (..., in) → y (..., out). As a composition of matmul
and add its gradients would be theirs: ∂L/∂x = ∂L/∂y W, ∂L/∂W = Σ (∂L/∂y)ᵀ x over the leading dims,
∂L/∂b = Σ ∂L/∂y; ``Linear`` computes exactly these in one function (the composition stays for unusual
arguments: mixed dtypes, a 1-D weight, a broadcast bias).
"""

from __future__ import annotations

from ..autograd import Function, Tensor, is_grad_enabled
from ..backend import xp_of
from .dtypes import operands
from .shape import reshape, sum_to, transpose


class MatMul(Function):
    reads_outputs = False                # backward never calls self.output() (autograd.py)

    def forward(self, a, b):
        return xp_of(a).matmul(a, b)

    def backward(self, g):
        a, b = self.inputs
        da, db = self.needs_input_grad
        ga = sum_to(matmul(g, transpose(b, -1, -2)), a.shape) if da else None
        gb = sum_to(matmul(transpose(a, -1, -2), g), b.shape) if db else None
        return ga, gb


def matmul(a, b) -> Tensor:
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dim, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape}: inner sizes {a.shape[-1]} and "
                           f"{b.shape[-2 if b.ndim > 1 else 0]} differ")
    if a.ndim == 1 or b.ndim == 1:  # make vectors matrices, multiply, then drop the added dims
        a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
        b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
        y = matmul(a2, b2)
        shape = y.shape[:-2] + (y.shape[-2:-1] if a.ndim > 1 else ()) + (y.shape[-1:] if b.ndim > 1 else ())
        return reshape(y, shape)
    try:
        xp_of(a.data).broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(f"matmul: batch dims of shapes {a.shape} and {b.shape} cannot be broadcast") from None
    return MatMul()(a, b)


class Linear(Function):
    """y = x Wᵀ (+ b) in one function, as PyTorch's addmm: x (..., in), W (out, in), b (out,). The same
    gradients as the composition of the module docstring, in tensor ops when they are to be differentiated again
    (create_graph), else on arrays (``_backward_arrays``; the gradient checks cover both); one node of
    the graph instead of four (transpose, matmul, add, and the bias's sum_to), which is most of a small dense
    layer's cost on the CPU."""
    reads_outputs = False                # backward never calls self.output() (autograd.py)

    def forward(self, x, w, *b):
        y = xp_of(x).matmul(x, w.T)                                   # (..., in) @ (in, out)
        if b:
            y += b[0]
        return y

    def backward(self, g):
        x, w = self.inputs[:2]
        need = self.needs_input_grad
        if not is_grad_enabled():
            return self._backward_arrays(g.data, x.data, w.data)
        gx = matmul(g, w) if need[0] else None                        # (..., out) @ (out, in)
        gw = None
        if need[1]:                                                   # Σ over the leading dims of ḡᵀ x
            g2, x2 = reshape(g, (-1, g.shape[-1])), reshape(x, (-1, x.shape[-1]))
            gw = matmul(transpose(g2, 0, 1), x2)                      # (out, N) @ (N, in)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (sum_to(g, (g.shape[-1],)) if need[2] else None)

    def _backward_arrays(self, g, x, w):
        """The same three lines on arrays (the plain backward, nothing to differentiate): in a small network's
        step the tensor ops' bookkeeping (a graph node, checks, a transpose and reshapes per product) cost
        about as much as a layer's bias sum."""
        need = self.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])                               # (N, out): the leading dims as rows
        gx = Tensor(g @ w) if need[0] else None                       # (..., out) @ (out, in)
        gw = Tensor(g2.T @ x.reshape(-1, x.shape[-1])) if need[1] else None   # (out, N) @ (N, in)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (Tensor(g2.sum(axis=0)) if need[2] else None)   # Σ over the leading dims


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if input.shape[-1:] != weight.shape[-1:]:
        raise RuntimeError(f"linear: input of shape {input.shape} does not match weight of shape "
                           f"{weight.shape} (expected the input's last dim to be {weight.shape[-1]})")
    if (isinstance(input, Tensor) and isinstance(weight, Tensor) and weight.ndim == 2 and input.ndim >= 1
            and input.dtype == weight.dtype and input.dtype.kind == "f"
            and (bias is None or (isinstance(bias, Tensor) and bias.shape == weight.shape[:1]
                                  and bias.dtype == input.dtype))):
        return Linear()(input, weight, *(() if bias is None else (bias,)))   # the common case, fused
    y = matmul(input, transpose(weight, 0, 1) if weight.ndim == 2 else weight)  # (..., in) @ (in, out)
    return y if bias is None else y + bias
