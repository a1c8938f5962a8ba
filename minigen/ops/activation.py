"""Activations (sigmoid and tanh live in elementwise.py).

    relu(x) = max(x, 0)                 ∂x = g · [x > 0]          (0 at the kink x = 0, as PyTorch)
    leaky_relu(x) = x if x > 0 else αx  ∂x = g · (1 if x > 0 else α)   (α at x = 0, as PyTorch)
    softplus(x) = log(1 + e^{βx}) / β   ∂x = g · σ(βx); linear where βx > ``threshold`` (PyTorch's rule, and
                                        PyTorch's second derivative: 0 from βx = threshold up)
    log_softmax(x) = x − logsumexp(x)   composed, so ∂x = g − softmax(x) · Σ g comes for free
    softmax(x) = exp(log_softmax(x))    never exponentiates a large number
    silu(x) = x·σ(x)                    ∂x = g · σ(x)(1 + x(1 − σ(x)))
    gelu(x) = x·Φ(x)                    ∂x = g · (Φ(x) + x·φ(x)),  Φ(x) = ½(1 + erf(x/√2)) the standard normal
                                        distribution function, φ(x) = e^{−x²/2}/√(2π) its density
    gelu(x, 'tanh') = ½x(1 + t),        ∂x = g · (½(1 + t) + ½x(1 − t²)·u′(x)),
        t = tanh u(x), u(x) = √(2/π)(x + 0.044715x³),  u′(x) = √(2/π)(1 + 3·0.044715x²)

The masks in relu's and leaky_relu's backward are constants: the second derivative is 0 away from the kink,
and these ops stay differentiable twice (WGAN-GP's critic uses leaky_relu).

gelu and silu keep what their forward computed (Φ(x), t; σ(x)) and the plain backward reuses it: a few passes
over the data. With create_graph=True both backwards recompute from x with tensor ops (as batch norm does), so
that the gradient is itself differentiable.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import threads
from ..autograd import Function, Tensor, is_grad_enabled
from ..backend import xp_of
from .dtypes import cast
from .elementwise import Sigmoid, _float, sigmoid_array, softplus_array, exp, sigmoid, tanh, where
from .reduce import logsumexp
from .special import erf, erf_array


# relu and leaky_relu are written with maximum and a product rather than ``where``: NumPy's ``where`` ran about
# 10× slower on a conv's channels-last output (measured, (256, 64, 14, 14) float32: 14 ms against 1-1.6 ms).
# Both keep nothing of their own: backward rebuilds its 0/1 (or α/1) mask from x, which the engine holds anyway.
class ReLU(Function):
    def forward(self, x):
        return xp_of(x).maximum(x, x.dtype.type(0))                 # NaN stays NaN, as in PyTorch

    def backward(self, g):
        x = self.inputs[0].data
        return g * Tensor((x > 0).astype(g.dtype))                   # 0 at the kink, as PyTorch


class LeakyReLU(Function):
    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, x):
        xp, alpha = xp_of(x), x.dtype.type(self.negative_slope)
        y = xp.multiply(x, alpha, out=xp.empty_like(x))              # (an array, also for 0-d x)
        # max(x, αx) is x where x > 0 and αx where x < 0 when α ≤ 1; min(x, αx) when α > 1
        return (xp.maximum if alpha <= 1 else xp.minimum)(x, y, out=y)

    def backward(self, g):
        x = self.inputs[0].data
        slope = (x > 0).astype(g.dtype)                               # ∂y/∂x = 1 or α (α at 0), a constant:
        slope *= 1 - self.negative_slope                              # 1·(1 − α) + α = 1, 0·(1 − α) + α = α
        slope += self.negative_slope
        return g * Tensor(slope)


class Softplus(Function):
    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = xp_of(x)
        z = x * x.dtype.type(self.beta)
        y = softplus_array(z) / x.dtype.type(self.beta)   # log(1 + eᶻ) = max(z, 0) + log1p(e^{−|z|})
        self.linear = z > self.threshold if self.threshold is not None else None
        self.at_threshold = z == self.threshold if self.threshold is not None else None
        return xp.where(self.linear, x, y) if self.linear is not None else y

    def backward(self, g):
        x, = self.inputs
        slope = sigmoid(x * self.beta)
        if self.linear is not None:
            # PyTorch's masks: the slope is 1 where βx > threshold, and its own derivative (the second
            # derivative of softplus) is kept only where βx < threshold: at βx = threshold it is held constant
            slope = where(Tensor(self.at_threshold), slope.detach(), slope)
            slope = where(Tensor(self.linear), 1.0, slope)
        return g * slope


class SiLU(Function):
    # On the CPU, large inputs are split over the first axis into one range per core (threads.over_first_axis):
    # each range's passes run on their own core. The arithmetic per element is the same either way.
    # When a gradient will be needed, forward keeps σ(x) (five passes: σ in four, then x·σ), and the plain
    # backward is four more, written with the output y = x·σ (which the next layer keeps anyway, and the
    # engine holds for us: reads_outputs); recomputing σ(x) there instead made it nine, and saved one array
    # per layer. Measured in a U-Net training step (minigen bench W5): keeping σ is ~15 ms faster, and the step's
    # peak memory stays below PyTorch's. Without a gradient, forward takes the four passes of x / (1 + e⁻ˣ).
    def __call__(self, x):
        self.keep = is_grad_enabled() and x.requires_grad
        return super().__call__(x)

    def forward(self, x):
        self.sig = None
        if x.ndim == 0:
            return x * Sigmoid().forward(x)
        xp = xp_of(x)
        y = xp.empty_like(x)
        if self.keep:
            self.sig = sig = xp.empty_like(x)

            def rows(a, b):
                xp.multiply(x[a:b], sigmoid_array(x[a:b], out=sig[a:b]), out=y[a:b])   # σ(x), then x·σ(x)
        else:
            def rows(a, b):                          # x·σ(x) = x / (1 + e⁻ˣ): four passes in y's memory
                out = y[a:b]
                with np.errstate(over="ignore"):     # far left e⁻ˣ = inf and x/inf = −0, SiLU's limit
                    xp.negative(x[a:b], out=out)
                    xp.exp(out, out=out)
                out += 1
                xp.divide(x[a:b], out, out=out)
        threads.over_first_axis(rows, x)
        return y

    def backward(self, g):
        x, = self.inputs
        if is_grad_enabled():                        # create_graph: the rule in tensor ops, differentiable again
            s = sigmoid(x)
            return g * s * (1.0 + x * (1.0 - s))
        xp, xd, gd = x.xp, x.data, g.data
        if x.ndim == 0:
            s = Sigmoid().forward(xd)
            return g * Tensor(s * (1 + xd * (1 - s)))
        sig = self.sig if self.sig is not None else sigmoid_array(xd)   # (recomputed after a retain_graph pass)
        out = self.output()                          # y = x·σ(x), held for us by the engine (autograd.py)
        y = out.data if out is not None else xd * sig
        d = xp.empty_like(xd)

        def rows(a, b):                              # plain backward: σ(1 + x(1 − σ)) = σ + y − y·σ, 4 passes
            t = xp.multiply(y[a:b], sig[a:b], out=d[a:b])   # y·σ
            xp.subtract(sig[a:b], t, out=t)          # σ − y·σ
            t += y[a:b]                              # σ + y − y·σ
            t *= gd[a:b]
        threads.over_first_axis(rows, xd)
        self.sig = None                              # its memory goes now, not when the graph does
        return Tensor(d)


_SQRT_HALF, _INV_SQRT_2PI, _SQRT_2_OVER_PI = math.sqrt(0.5), 1 / math.sqrt(2 * math.pi), math.sqrt(2 / math.pi)


class GELU(Function):
    """x·Φ(x), Φ(x) = ½(1 + erf(x/√2)) (``approximate='none'``)."""

    def forward(self, x):
        half = x.dtype.type(0.5)
        self.cdf = erf_array(x * x.dtype.type(_SQRT_HALF))                  # Φ(x), kept for backward
        self.cdf += 1
        self.cdf *= half
        return x * self.cdf

    def backward(self, g):
        x, = self.inputs
        cdf = 0.5 * (1.0 + erf(x * _SQRT_HALF)) if is_grad_enabled() else Tensor(self.cdf)
        return g * (cdf + x * (_INV_SQRT_2PI * exp(-0.5 * (x * x))))


class GELUTanh(Function):
    """½x(1 + tanh(√(2/π)(x + 0.044715x³))) (``approximate='tanh'``)."""

    def forward(self, x):
        xp, c = xp_of(x), x.dtype.type
        self.t = xp.tanh(c(_SQRT_2_OVER_PI) * (x + c(0.044715) * x * x * x))  # kept for backward
        return c(0.5) * x * (1 + self.t)

    def backward(self, g):
        x, = self.inputs
        x2 = x * x
        t = tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x2 * x)) if is_grad_enabled() else Tensor(self.t)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * (_SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x2)))


# Parameter names, order and defaults are torch.nn.functional's. ``inplace`` is accepted, so PyTorch code runs
# unchanged, and ignored: minigen never overwrites a tensor, which backward may still need.
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise; ``inplace`` is accepted and ignored (a new tensor is returned)."""
    return ReLU()(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope · x; ``inplace`` is accepted and ignored (a new tensor is returned)."""
    return LeakyReLU(negative_slope)(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x·σ(x) elementwise (also called swish); ``inplace`` is accepted and ignored (a new tensor is returned)."""
    return SiLU()(_float(input))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x) elementwise, Φ the standard normal distribution function; ``approximate='tanh'`` uses
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))) instead, as PyTorch."""
    if approximate == "none":
        return GELU()(_float(input))
    if approximate == "tanh":
        return GELUTanh()(_float(input))
    raise RuntimeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(input: Tensor, beta: float = 1, threshold: float = 20) -> Tensor:
    return Softplus(beta, threshold)(input)


def _softmax_dim(x: Tensor, dim, name: str, stacklevel: int) -> int:
    if dim is None:  # PyTorch's legacy choice, with its warning
        warnings.warn(f"{name}: implicit dim is deprecated; pass dim=", stacklevel=stacklevel)
        return 0 if x.ndim in (0, 1, 3) else 1
    return dim


def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log softmax over ``dim``; ``_stacklevel`` (PyTorch's) places the implicit-dim warning."""
    x = cast(input, dtype) if dtype is not None else input
    return x - logsumexp(x, _softmax_dim(x, dim, "log_softmax", _stacklevel), keepdim=True)


def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    dim = _softmax_dim(input, dim, "softmax", _stacklevel)
    return exp(log_softmax(input, dim, dtype=dtype))
