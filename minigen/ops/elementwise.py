"""Elementwise ops. Each output element depends on one element of each input, so the Jacobian is diagonal and
the backward is an elementwise product: ∂L/∂x = ∂L/∂y · f'(x).

Binary ops broadcast: if x has shape (3, 1) and y = x + b has shape (3, 4), each x element was used 4 times,
so its gradient is the sum of the 4 (``sum_to`` in shape.py).

    y = a + b    ∂a = g            ∂b = g
    y = a · b    ∂a = g · b        ∂b = g · a
    y = a / b    ∂a = g / b        ∂b = −g · a / b²
    y = aᵇ       ∂a = g · b·aᵇ⁻¹   ∂b = g · aᵇ · log a        (∂a taken as 0 where b = 0, ∂b where a = 0
                                                             and b ≥ 0, as PyTorch; so at b = 0 the
                                                             second derivative ∂²/∂a∂b is 0, as PyTorch's)
    y = eˣ       ∂x = g · y        y = log x   ∂x = g / x      y = √x   ∂x = g / (2y)
    y = |x|      ∂x = g · sign(x)  (0 at x = 0)
    y = tanh x   ∂x = g · (1 − y²) y = σ(x)    ∂x = g · y(1 − y)

Rules at kinks and ties (the same as PyTorch's): ``maximum``/``minimum`` split the gradient in half between
equal inputs; ``clamp`` passes the gradient where x lies on a bound; ``abs`` gives 0 at 0.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import threads
from ..autograd import Function, Tensor
from ..backend import array_from, device_of, xp_of
from .dtypes import as_tensor_like, cast, operands, scalar_dtype
from .per_channel import per_channel
from .shape import broadcast_to, sum_to


def _broadcast_shape(name, a, b):
    try:
        return xp_of(a.data).broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None


def _binary(cls, name, a, b):
    a, b = operands(a, b)
    if a.shape != b.shape:
        _broadcast_shape(name, a, b)
    return cls()(a, b)


def add_arrays(a, b):
    """a + b on arrays. In a U-Net two sums are large: the residual h + skip(x), and a conv's output plus a value
    per (example, channel) (the time embedding). On NumPy arrays of one dtype those split over the cores by
    examples (``threads.over_first_axis``), and the per-channel one walks long rows of channels-last memory
    (``per_channel.py``); anything else is NumPy's own +. Same numbers either way."""
    if a.size < b.size:
        a, b = b, a                                                    # a: the full-size operand
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and a.ndim == b.ndim
            and a.size >= threads.MIN_SPLIT and (a.flags.c_contiguous or _channels_last_4d(a))):
        return a + b
    per_image = b.shape != a.shape
    if per_image and not (a.ndim == 4 and b.shape[1:] == (a.shape[1], 1, 1) and b.shape[0] in (1, a.shape[0])):
        return a + b
    out = np.empty_like(a)                                             # a's memory order

    def rows(s, e):
        if not per_image:
            np.add(a[s:e], b[s:e], out=out[s:e])
            return
        n, C, H, W = (e - s,) + a.shape[1:]
        v = b[s:e, :, 0, 0] if b.shape[0] == a.shape[0] else b[0, :, 0, 0]
        per_channel(np.add, a[s:e].reshape(n, C, H * W), v, out[s:e].reshape(n, C, H * W))
    threads.over_first_axis(rows, out)
    return out


def _channels_last_4d(a) -> bool:
    return a.ndim == 4 and a.transpose(0, 2, 3, 1).flags.c_contiguous


class Add(Function):
    reads_outputs = False                # backward never calls self.output() (autograd.py)
    keeps_inputs = False                 # backward needs only the shapes (autograd.py)

    def forward(self, a, b):
        return add_arrays(a, b)

    def backward(self, g):
        a, b = self.inputs
        return sum_to(g, a.shape), sum_to(g, b.shape)


class Sub(Function):
    reads_outputs = False                # backward never calls self.output() (autograd.py)
    keeps_inputs = False                 # backward needs only the shapes (autograd.py)

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        a, b = self.inputs
        return sum_to(g, a.shape), sum_to(-g, b.shape)


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        da, db = self.needs_input_grad
        return (sum_to(g * b, a.shape) if da else None), (sum_to(g * a, b.shape) if db else None)


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        da, db = self.needs_input_grad
        return (sum_to(g / b, a.shape) if da else None), (sum_to(-g * a / (b * b), b.shape) if db else None)


class Pow(Function):
    def forward(self, a, b):
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        da, db = self.needs_input_grad
        ga = None
        if da:  # PyTorch's mask: 0 wherever b = 0 (so a = b = 0 gives 0, not 0·∞ = NaN)
            zero_exponent = Tensor(b.data == 0)
            ga = sum_to(where(zero_exponent, 0.0, g * b * a ** (b - 1)), a.shape)
        gb = None
        if db:
            zero_base = Tensor((a.data == 0) & (b.data >= 0))  # a⁰·log 0: PyTorch takes 0 there
            # g multiplies the masked term, as in PyTorch: so a NaN arriving in g stays NaN there
            gb = sum_to(g * where(zero_base, 0.0, self.output() * log(a)), b.shape)
        return ga, gb


class PowScalar(Function):
    """x ** c for a constant exponent c (the common case: x², √x, 1/x)."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x ** x.dtype.type(self.c) if x.dtype.kind == "f" else x ** self.c

    def backward(self, g):
        x, = self.inputs
        if self.c == 0:  # zeros, not g · 0: an infinite g must not turn into NaN
            return Tensor(xp_of(g.data).zeros_like(g.data))
        return g * self.c * x ** (self.c - 1)


class Neg(Function):
    reads_outputs = False                # backward never calls self.output() (autograd.py)
    keeps_inputs = False                 # backward needs only the shapes (autograd.py)

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Exp(Function):
    def forward(self, x):
        return xp_of(x).exp(x)

    def backward(self, g):
        return g * self.output()


class Log(Function):
    def forward(self, x):
        return xp_of(x).log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Sqrt(Function):
    def forward(self, x):
        return xp_of(x).sqrt(x)

    def backward(self, g):
        return g / (2.0 * self.output())


class Abs(Function):
    def forward(self, x):
        return xp_of(x).abs(x)

    def backward(self, g):
        x, = self.inputs
        return g * Tensor(xp_of(x.data).sign(x.data))  # sign(0) = 0: the subgradient PyTorch picks


class Tanh(Function):
    def forward(self, x):
        return xp_of(x).tanh(x)

    def backward(self, g):
        y = self.output()
        return g * (1.0 - y * y)


def sigmoid_array(x, out=None):
    """σ(x) of an array, into ``out`` (default: a new array shaped and laid out like x); see Sigmoid.forward."""
    xp = xp_of(x)
    y = xp.empty_like(x) if out is None else out   # (also for 0-d input, where ufuncs would return a scalar)
    with np.errstate(over="ignore"):
        xp.negative(x, out=y)
        xp.exp(y, out=y)
    y += 1
    return xp.reciprocal(y, out=y)


def softplus_array(z):
    """log(1 + eᶻ) of an array, accurate for every z: max(z, 0) + log1p(e), e = e^{−|z|} ∈ (0, 1] (the exponent
    is never positive, so nothing overflows).

    log1p(e) is not NumPy's ``log1p``: on CPUs without AVX-512 NumPy has no vector loop for float32 log1p and it
    runs at ~12 ns a number, eight times its ``log`` (measured: 1.02 ms against 0.18 ms for 100,352 numbers).
    Plain log(1 + e) would lose e's low digits when 1 + e is rounded (and all of e below 2⁻²⁴). Instead:
    u = fl(1 + e); u − 1 is exact (Sterbenz: 1 ≤ u ≤ 2), so (u − 1) − e is exactly the rounding error δ of u, and
        log1p(e) = log(u − δ) = log u − δ/u + O(δ²),   δ ≤ 2⁻²⁴·u
    (where e < 2⁻²⁴, u = 1 and the line gives 0 + e/1 = e, log1p's own value there). Eleven passes with one
    exp and one log: 0.45 ms for those 100,352 numbers; within a few ulp of float64 log1p (the tests bound it)."""
    xp = xp_of(z)
    one = z.dtype.type(1)
    e, u, y = xp.empty_like(z), xp.empty_like(z), xp.empty_like(z)   # (arrays even for 0-d z)
    xp.abs(z, out=e)
    xp.negative(e, out=e)
    xp.exp(e, out=e)                                  # e = e^{−|z|}
    xp.add(e, one, out=u)                             # u = fl(1 + e)
    xp.subtract(u, one, out=y)                        # u − 1, exact
    xp.subtract(y, e, out=e)                          # δ = (u − 1) − e, exact
    e /= u                                            # δ/u
    xp.log(u, out=y)
    y -= e                                            # log1p(e) = log u − δ/u
    y += xp.maximum(z, z.dtype.type(0), out=u)
    return y


class Sigmoid(Function):
    def forward(self, x):
        # σ(x) = 1/(1 + e⁻ˣ), computed in place in one buffer (four passes, no temporaries). Far left, e⁻ˣ
        # overflows to inf and 1/(1 + inf) = 0 is σ's limit: the overflow is harmless, and its warning is silenced.
        # (The two-branch form, e^(−|x|) with a select, never overflows but took 4× as long: sigmoid and SiLU
        # sit in every block of a U-Net.)
        return sigmoid_array(x)

    def backward(self, g):
        y = self.output()
        return g * y * (1.0 - y)


class Where(Function):
    def __init__(self, condition):
        self.condition = condition  # a boolean array: not differentiated

    def forward(self, a, b):
        return xp_of(a).where(self.condition, a, b)

    def backward(self, g):
        a, b = self.inputs
        zero = Tensor(xp_of(g.data).zeros_like(g.data))  # not g · 0, which is NaN where g is infinite
        ga = where(Tensor(self.condition), g, zero) if self.needs_input_grad[0] else None
        gb = where(Tensor(self.condition), zero, g) if self.needs_input_grad[1] else None
        return (sum_to(ga, a.shape) if ga is not None else None), (sum_to(gb, b.shape) if gb is not None else None)


def where(condition, input, other) -> Tensor:
    cond = condition.data if isinstance(condition, Tensor) else condition
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    if like is None:
        like = Tensor(array_from(input, device=device_of(cond)))  # a Python float → float32, as PyTorch
    a, b = operands(input if isinstance(input, Tensor) else as_tensor_like(input, like),
                    other if isinstance(other, Tensor) else as_tensor_like(other, like))
    try:
        shape = xp_of(a.data).broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"where: shapes {cond.shape} (condition), {a.shape} and {b.shape} cannot be broadcast "
                           "together") from None
    cond = xp_of(a.data).broadcast_to(cond.astype(bool), shape)
    return Where(cond)(broadcast_to(a, shape), broadcast_to(b, shape))


def add(a, b):
    return _binary(Add, "add", a, b)


def sub(a, b):
    return _binary(Sub, "sub", a, b)


def mul(a, b):
    return _binary(Mul, "mul", a, b)


def div(a, b):
    a, b = operands(a, b)
    if a.dtype.kind != "f":  # true division of integers gives floats, as in PyTorch
        a, b = cast(a, "float32"), cast(b, "float32")
    return _binary(Div, "div", a, b)


def pow(a, b):
    if isinstance(a, Tensor) and isinstance(b, numbers.Real) and not isinstance(b, bool):
        a = cast(a, scalar_dtype(a.dtype, b))  # int ** 2.5 → float32, bool ** 2 → int64, as PyTorch
        return PowScalar(b)(a)
    return _binary(Pow, "pow", a, b)


def neg(x):
    return Neg()(x)


def _float(x: Tensor) -> Tensor:
    """Integer tensors become float32 before exp, log, sqrt... (PyTorch's rule)."""
    return x if x.dtype.kind == "f" else cast(x, "float32")


def exp(x):
    return Exp()(_float(x))


def log(x):
    return Log()(_float(x))


def sqrt(x):
    return Sqrt()(_float(x))


def abs(x):
    return Abs()(x)


def tanh(input):  # torch.nn.functional's parameter name
    return Tanh()(_float(input))


def sigmoid(input):
    return Sigmoid()(_float(input))


def _masks(a: Tensor, b: Tensor):
    """Constant weights of a and b in max(a, b): 1 for the larger, ½ each on a tie."""
    a_wins, tie = a.data > b.data, a.data == b.data
    weight_a = a_wins.astype(a.dtype) + 0.5 * tie.astype(a.dtype)
    return Tensor(weight_a), Tensor(1 - weight_a)


class _MaxMin(Function):
    pick_larger = True

    def forward(self, a, b):
        xp = xp_of(a)
        return xp.maximum(a, b) if self.pick_larger else xp.minimum(a, b)

    def backward(self, g):
        a, b = self.inputs
        wa, wb = _masks(a, b) if self.pick_larger else _masks(b, a)
        return sum_to(g * wa, a.shape), sum_to(g * wb, b.shape)


class Maximum(_MaxMin):
    pick_larger = True


class Minimum(_MaxMin):
    pick_larger = False


def maximum(a, b):
    return _binary(Maximum, "maximum", a, b)


def minimum(a, b):
    return _binary(Minimum, "minimum", a, b)


class Clamp(Function):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return xp_of(x).clip(x, self.lo, self.hi).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0].data
        inside = (x >= self.lo if self.lo is not None else True) & (x <= self.hi if self.hi is not None else True)
        return g * Tensor(xp_of(x).asarray(inside, dtype=x.dtype))


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds: pick with where()
        y = x
        if min is not None:
            y = where(y < min, min, y)
        if max is not None:
            y = where(y > max, max, y)
        return y
    for bound in (min, max):  # a float bound makes an integer tensor float32, as PyTorch
        x = cast(x, scalar_dtype(x.dtype, bound)) if bound is not None else x
    return Clamp(min, max)(x)


# --- Comparisons: boolean results, no gradient -------------------------------------------------------------
def _compare(op):
    def compare(a, b):
        a, b = operands(a, b)
        if a.shape != b.shape:
            _broadcast_shape(op.__name__.lstrip("_"), a, b)
        return Tensor(op(a.data, b.data))
    return compare


def _eq(a, b): return a == b
def _ne(a, b): return a != b
def _lt(a, b): return a < b
def _le(a, b): return a <= b
def _gt(a, b): return a > b
def _ge(a, b): return a >= b


eq, ne, lt, le, gt, ge = (_compare(op) for op in (_eq, _ne, _lt, _le, _gt, _ge))
