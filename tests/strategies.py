"""Hypothesis strategies for the op tests: one table of input domains and one table of op cases.

Every differentiable op of minigen appears once in ``CASES`` as a strategy that draws a ``Case``: the op applied to
drawn arrays (shapes from ``hypothesis.extra.numpy``, 0-d and size-1 axes included; dims, keepdim and the other
arguments drawn too), which inputs are differentiated, and a NumPy reference for the forward values. The test
files run the same table through different checks:

- test_ops_gradients.py   gradcheck and gradgradcheck (float64, random upstream gradient)
- test_ops_values.py      forward values against the NumPy reference
- test_dtypes_devices.py  float32 in → float32 out, forward and backward
- test_autograd.py        forward and backward never mutate their inputs or the upstream gradient

Domains. Finite differences need every drawn value to sit inside the op's domain and at least a little away
from kinks and ties, or the numerical derivative is meaningless there. ``DOMAINS`` names each kind of input and
``DOMAIN_OF`` says which kind every argument of every op takes: the one place to look up (or change) the rule.
The behaviour *at* kinks and ties is decided by hand-written tests in test_ops_gradients.py instead.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen import backend, ops
from minigen.nn import functional as F


# --- Domains ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """Values in [lo, hi]; ``gap`` keeps |x| ≥ gap (away from a kink at 0); ``step`` puts values on the grid
    offset + k·step (so two domains with offsets half a step apart can never tie); ``unique``: no two equal."""
    lo: float
    hi: float
    gap: float = 0.0
    step: float | None = None
    offset: float = 0.0
    unique: bool = False


GRID = 1 / 16
DOMAINS = {
    "real": Domain(-2.0, 2.0),
    "wide": Domain(-5.0, 5.0),                              # sigmoid, tanh, softplus: both tails
    "positive": Domain(0.25, 3.0),                          # log, sqrt, pow's base, class weights
    "nonzero": Domain(-2.0, 2.0, gap=0.25),                 # divisors, bases of negative integer powers
    "kink": Domain(-2.0, 2.0, gap=1e-3),                    # relu, leaky_relu, abs: |x| > 1e-3 around 0
    "grid": Domain(-2.0, 2.0, step=GRID),                   # clamp's input, maximum's first argument
    "offgrid": Domain(-2.0, 2.0, step=GRID, offset=GRID / 2),  # clamp's min, maximum's second: no ties
    "quartergrid": Domain(-2.0, 2.0, step=GRID, offset=GRID / 4),  # clamp's max: ties neither x nor min
    "distinct": Domain(-3.0, 3.0, step=GRID, unique=True),  # max, min, amax, std: no ties inside a tensor
    "prob": Domain(0.05, 0.95),                             # binary_cross_entropy's input
    "unit": Domain(0.0, 1.0),                               # targets in [0, 1]
}

# op → the domain of each drawn float argument, in order (integer class targets are drawn separately)
DOMAIN_OF = {
    "add": ("real", "real"), "sub": ("real", "real"), "mul": ("real", "real"), "div": ("real", "nonzero"),
    "pow": ("positive", "kink"),  # exponent ≠ 0: ∂a is masked to 0 at b = 0 (PyTorch's rule, a kink in b)
    "pow_int": ("nonzero",), "pow_scalar": ("positive",), "rpow": ("real",),
    "maximum": ("grid", "offgrid"), "minimum": ("grid", "offgrid"), "where": ("real", "real"),
    "clamp": ("grid", "offgrid", "quartergrid"),
    "neg": ("real",), "exp": ("real",), "log": ("positive",), "sqrt": ("positive",), "abs": ("kink",),
    "tanh": ("wide",), "sigmoid": ("wide",), "relu": ("kink",), "leaky_relu": ("kink",),
    "softplus": ("offgrid",),  # x·β never lands on the threshold (a multiple of the grid step)
    "softmax": ("wide",), "log_softmax": ("wide",), "matmul": ("real", "real"), "linear": ("real", "real", "real"),
    "sum": ("real",), "mean": ("real",), "var": ("real",), "std": ("distinct",), "logsumexp": ("wide",),
    "max": ("distinct",), "min": ("distinct",), "amax": ("distinct",), "amin": ("distinct",),
    "shape": ("real",),  # reshape, view, transpose, permute, T, flatten, squeeze, unsqueeze, expand, indexing
    "cat": ("real",), "stack": ("real",), "pad": ("real",), "interpolate": ("real",),
    "mse_loss": ("real", "real"), "binary_cross_entropy": ("prob", "unit", "positive"),
    "binary_cross_entropy_with_logits": ("wide", "unit", "positive", "positive"),
    "cross_entropy": ("wide", "positive", "unit"), "nll_loss": ("real", "positive"),
    "silu": ("wide",), "gelu": ("wide",), "erf": ("wide",),
    # normalised values: distinct, so no group is constant (its variance, ≥ (1/16)²/4, keeps 1/σ moderate)
    "group_norm": ("distinct", "real", "real"), "layer_norm": ("distinct", "real", "real"),
    "scaled_dot_product_attention": ("real", "real", "real", "real"),  # query, key, value, float mask
}


def elements(domain: Domain) -> st.SearchStrategy[float]:
    if domain.step is not None:
        k_lo = int(np.ceil((domain.lo - domain.offset) / domain.step))
        k_hi = int(np.floor((domain.hi - domain.offset) / domain.step))
        return st.integers(k_lo, k_hi).map(lambda k: domain.offset + k * domain.step)
    if domain.gap:
        return st.one_of(st.floats(domain.lo, -domain.gap), st.floats(domain.gap, domain.hi))
    return st.floats(domain.lo, domain.hi)


def values(draw, domain: str, shape) -> np.ndarray:
    """A float64 array of ``shape`` inside ``DOMAINS[domain]``."""
    d = DOMAINS[domain]
    return draw(hnp.arrays(np.float64, shape, elements=elements(d), unique=d.unique))


def scalar(draw, domain: str) -> float:
    return draw(elements(DOMAINS[domain]))


# --- Shapes and dims -------------------------------------------------------------------------------------------
def shapes(min_dims=0, max_dims=3, min_side=1, max_side=3):
    """Small shapes (at most 27 elements): 0-d and size-1 axes included."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable(n=2, max_dims=3, max_side=3):
    """``n`` shapes that broadcast together (sizes 1 stretched, leading dims missing, 0-d)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_dims, min_side=1,
                                             max_side=max_side).map(lambda b: b.input_shapes)


def broadcastable_to(draw, shape) -> tuple:
    """A shape that broadcasts *to* ``shape``: some leading dims dropped, some dims set to 1."""
    drop = draw(st.integers(0, len(shape)))
    return tuple(1 if draw(st.booleans()) else n for n in shape[drop:])


def dims(draw, ndim, allow_none=True, allow_tuple=True):
    """None (all), one dim (negative allowed) or a tuple of distinct dims, valid for ``ndim``."""
    span = max(ndim, 1)  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
    options = [st.integers(-span, span - 1)]
    if allow_none:
        options.append(st.none())
    if allow_tuple and ndim > 0:
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
                       .map(lambda ds: tuple(d - ndim if i % 2 else d for i, d in enumerate(ds))))
    return draw(st.one_of(*options))


def axes_of(dim, ndim) -> tuple:
    if dim is None or ndim == 0:
        return tuple(range(ndim))
    return tuple(sorted({d % ndim for d in (dim if isinstance(dim, tuple) else (dim,))}))


def reduce_kwargs(draw, dim, keepdim) -> dict:
    """PyTorch's dim/keepdim, or NumPy's axis/keepdims (both are accepted)."""
    if draw(st.booleans()):
        return {"axis": dim, "keepdims": keepdim}
    return {"dim": dim, "keepdim": keepdim}


# --- Cases -----------------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One drawn call: ``fn(*inputs)`` with inputs made from ``arrays`` (``grads[i]``: differentiate input i),
    and ``ref(*arrays)`` its value computed with NumPy (None when the test must not compare values)."""
    name: str
    fn: Callable
    arrays: tuple
    grads: tuple
    ref: Callable | None = None
    note: str = ""

    def inputs(self, device="cpu", dtype=np.float64, requires_grad=True):
        return tuple(
            minigen.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, device=device,
                           requires_grad=bool(g and requires_grad))
            for a, g in zip(self.arrays, self.grads))

    def __repr__(self):  # what hypothesis prints for a failing example
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return f"Case({self.name}{': ' + self.note if self.note else ''}; shapes {shapes})"


CASES: dict[str, st.SearchStrategy[Case]] = {}


def case(name):
    def register(fn):
        CASES[name] = st.composite(fn)()
        return fn
    return register


def on_device(key, like: minigen.Tensor):
    """Index arrays in a key as tensors on ``like``'s device (what a user would write)."""
    def convert(k):
        return minigen.tensor(k, device=like.device) if isinstance(k, np.ndarray) else k
    return tuple(convert(k) for k in key) if isinstance(key, tuple) else convert(key)


# Elementwise binary ops between two tensors whose shapes broadcast together.
_BINARY = {"add": (operator.add, np.add), "sub": (operator.sub, np.subtract), "mul": (operator.mul, np.multiply),
           "div": (operator.truediv, np.divide), "pow": (operator.pow, np.power),
           "maximum": (minigen.maximum, np.maximum), "minimum": (minigen.minimum, np.minimum)}


def _binary_case(name, op, ref):
    @case(name)
    def draw_case(draw):
        sa, sb = draw(broadcastable(2))
        da, db = DOMAIN_OF[name]
        a, b = values(draw, da, sa), values(draw, db, sb)
        grads = draw(st.sampled_from([(True, True), (True, False), (False, True)]))
        return Case(name, op, (a, b), grads, ref)


for _name, (_op, _ref) in _BINARY.items():
    _binary_case(_name, _op, _ref)


def _scalar_kind(draw, value: float):
    """The same number as a Python float, a NumPy float64 scalar (NEP 50: it must not upcast) or an int."""
    kind = draw(st.sampled_from(["float", "numpy", "int"] if float(value).is_integer() else ["float", "numpy"]))
    return {"float": float(value), "numpy": np.float64(value), "int": int(value)}[kind]


@case("scalar_arith")
def _scalar_arith(draw):
    """tensor ∘ scalar and scalar ∘ tensor for + − × ÷ (the reflected operators)."""
    name = draw(st.sampled_from(["add", "sub", "mul", "div"]))
    op, ref = _BINARY[name][0], _BINARY[name][1]
    tensor_left = draw(st.booleans())
    numerator, divisor = DOMAIN_OF[name]  # for + − ×, both are "real"
    x_domain, s_domain = (numerator, divisor) if tensor_left else (divisor, numerator)
    x = values(draw, x_domain, draw(shapes()))
    s = _scalar_kind(draw, scalar(draw, s_domain))
    if tensor_left:
        return Case("scalar_arith", lambda t: op(t, s), (x,), (True,), lambda a: ref(a, float(s)),
                    f"x {name} {s!r}")
    return Case("scalar_arith", lambda t: op(s, t), (x,), (True,), lambda a: ref(float(s), a), f"{s!r} {name} x")


@case("pow_scalar")
def _pow_scalar(draw):
    """x ** c for a constant c (integer, fractional, negative, zero)."""
    c = draw(st.sampled_from([2, 3, 1, 0, -1, 0.5, 1.5, -0.5, 2.5, np.float64(2.0)]))
    x = values(draw, DOMAIN_OF["pow_scalar"][0], draw(shapes()))
    return Case("pow_scalar", lambda t: t ** c, (x,), (True,), lambda a: a ** float(c), f"x ** {c!r}")


@case("pow_int")
def _pow_int(draw):
    """x ** k for an integer k and x of either sign."""
    k = draw(st.sampled_from([-2, -1, 2, 3]))
    x = values(draw, DOMAIN_OF["pow_int"][0], draw(shapes()))
    return Case("pow_int", lambda t: t ** k, (x,), (True,), lambda a: a ** float(k), f"x ** {k}")


@case("rpow")
def _rpow(draw):
    """c ** x for a positive constant c."""
    c = draw(st.sampled_from([2.0, 0.5, 3.0, np.e]))
    x = values(draw, DOMAIN_OF["rpow"][0], draw(shapes()))
    return Case("rpow", lambda t: c ** t, (x,), (True,), lambda a: c ** a, f"{c} ** x")


# Unary elementwise ops and activations: (minigen, NumPy reference)
def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _softplus_ref(a, beta, threshold):
    return np.where(a * beta > threshold, a, np.log1p(np.exp(beta * a)) / beta)


_UNARY = {
    "neg": (operator.neg, np.negative), "exp": (minigen.exp, np.exp), "log": (minigen.log, np.log),
    "sqrt": (minigen.sqrt, np.sqrt), "abs": (minigen.abs, np.abs), "tanh": (minigen.tanh, np.tanh),
    "sigmoid": (minigen.sigmoid, _sigmoid), "relu": (F.relu, lambda a: np.maximum(a, 0)),
}


def _unary_case(name, op, ref):
    @case(name)
    def draw_case(draw):
        x = values(draw, DOMAIN_OF[name][0], draw(shapes()))
        method = draw(st.booleans()) and name not in ("neg",)
        fn = (lambda t: getattr(t, name)()) if method else op
        return Case(name, fn, (x,), (True,), ref, "method" if method else "")


for _name, (_op, _ref) in _UNARY.items():
    _unary_case(_name, _op, _ref)


@case("leaky_relu")
def _leaky_relu(draw):
    slope = draw(st.sampled_from([0.01, 0.2, 1.5]))
    x = values(draw, DOMAIN_OF["leaky_relu"][0], draw(shapes()))
    return Case("leaky_relu", lambda t: F.leaky_relu(t, slope), (x,), (True,),
                lambda a: np.where(a > 0, a, slope * a), f"slope {slope}")


@case("softplus")
def _softplus(draw):
    beta, threshold = draw(st.sampled_from([(1.0, 20.0), (2.0, 1.0), (0.5, 0.5), (1.0, 1.0)]))
    x = values(draw, DOMAIN_OF["softplus"][0], draw(shapes()))
    return Case("softplus", lambda t: F.softplus(t, beta, threshold), (x,), (True,),
                lambda a: _softplus_ref(a, beta, threshold), f"beta {beta}, threshold {threshold}")


def _log_softmax_ref(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


@case("softmax")
def _softmax(draw):
    x = values(draw, DOMAIN_OF["softmax"][0], draw(shapes()))
    d = dims(draw, x.ndim, allow_none=False, allow_tuple=False)
    fn = draw(st.sampled_from([lambda t: F.softmax(t, d), lambda t: t.softmax(d), lambda t: F.softmax(t, dim=d)]))
    return Case("softmax", fn, (x,), (True,), lambda a: np.exp(_log_softmax_ref(a, d if a.ndim else None)),
                f"dim {d}")


@case("log_softmax")
def _log_softmax(draw):
    x = values(draw, DOMAIN_OF["log_softmax"][0], draw(shapes()))
    d = dims(draw, x.ndim, allow_none=False, allow_tuple=False)
    return Case("log_softmax", lambda t: F.log_softmax(t, dim=d), (x,), (True,),
                lambda a: _log_softmax_ref(a, d if a.ndim else None), f"dim {d}")


@case("where")
def _where(draw):
    sc, sa, sb = draw(broadcastable(3))
    cond = draw(hnp.arrays(np.bool_, sc))
    a, b = values(draw, DOMAIN_OF["where"][0], sa), values(draw, DOMAIN_OF["where"][1], sb)
    if draw(st.booleans()):  # a scalar branch
        s = draw(st.sampled_from([0.0, -1.5, np.float64(2.0)]))
        return Case("where", lambda c, t: minigen.where(c, t, s), (cond, a), (False, True),
                    lambda c, x: np.where(c, x, s), f"other {s!r}")
    return Case("where", minigen.where, (cond, a, b), (False, True, True), np.where)


@case("clamp")
def _clamp(draw):
    """Scalar bounds (min, max or both) or tensor bounds; values and bounds never tie."""
    dx, dlo, dhi = DOMAIN_OF["clamp"]
    x = values(draw, dx, draw(shapes()))
    kind = draw(st.sampled_from(["min", "max", "both", "tensor_min", "tensor_max", "tensor_both", "method"]))
    if kind.startswith("tensor"):
        lo = values(draw, dlo, broadcastable_to(draw, x.shape))
        hi = values(draw, dhi, broadcastable_to(draw, x.shape))
        if kind == "tensor_min":
            return Case("clamp", lambda t, m: minigen.clamp(t, min=m), (x, lo), (True, True),
                        lambda a, m: np.maximum(a, m), kind)
        if kind == "tensor_max":
            return Case("clamp", lambda t, m: minigen.clamp(t, max=m), (x, hi), (True, True),
                        lambda a, m: np.minimum(a, m), kind)
        return Case("clamp", lambda t, m, n: minigen.clamp(t, m, n), (x, lo, hi), (True, True, True),
                    lambda a, m, n: np.minimum(np.maximum(a, m), n), kind)
    lo, hi = sorted([scalar(draw, dlo), scalar(draw, dhi)])
    assume(lo < hi)
    if kind == "min":
        return Case("clamp", lambda t: minigen.clamp(t, min=lo), (x,), (True,), lambda a: np.maximum(a, lo),
                    f"min {lo}")
    if kind == "max":
        return Case("clamp", lambda t: t.clamp(max=hi), (x,), (True,), lambda a: np.minimum(a, hi), f"max {hi}")
    if kind == "method":
        return Case("clamp", lambda t: t.clip(lo, hi), (x,), (True,), lambda a: np.clip(a, lo, hi), "clip")
    return Case("clamp", lambda t: minigen.clamp(t, lo, hi), (x,), (True,), lambda a: np.clip(a, lo, hi),
                f"[{lo}, {hi}]")


@case("matmul")
def _matmul(draw):
    """1-D @ 1-D, 1-D @ 2-D, 2-D @ 1-D, 2-D @ 2-D and batched with broadcasting batch dims (1-D on one side too)."""
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ba, bb = draw(broadcastable(2, max_dims=2, max_side=2))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched", "batched_v", "v_batched"]))
    sa = {"vv": (k,), "vm": (k,), "mv": (n, k), "mm": (n, k), "batched": ba + (n, k), "batched_v": ba + (n, k),
          "v_batched": (k,)}[kind]
    sb = {"vv": (k,), "vm": (k, m), "mv": (k,), "mm": (k, m), "batched": bb + (k, m), "batched_v": (k,),
          "v_batched": bb + (k, m)}[kind]
    a, b = values(draw, DOMAIN_OF["matmul"][0], sa), values(draw, DOMAIN_OF["matmul"][1], sb)
    fn = draw(st.sampled_from([operator.matmul, minigen.matmul, lambda x, y: x.matmul(y)]))
    grads = draw(st.sampled_from([(True, True), (True, False), (False, True)]))
    return Case("matmul", fn, (a, b), grads, np.matmul, kind)


@case("linear")
def _linear(draw):
    """F.linear: x of 0-2 leading dims (a 1-D x included), W (out, in), with or without a bias (out,)."""
    n_in, n_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = values(draw, DOMAIN_OF["linear"][0], draw(shapes(0, 2, 1, 2)) + (n_in,))
    w = values(draw, DOMAIN_OF["linear"][1], (n_out, n_in))
    arrays = (x, w) + ((values(draw, DOMAIN_OF["linear"][2], (n_out,)),) if draw(st.booleans()) else ())
    grads = tuple(draw(st.booleans()) for _ in arrays)
    grads = grads if any(grads) else (True,) + grads[1:]

    def ref(a, wa, *b):
        return a @ wa.T + (b[0] if b else 0)
    return Case("linear", F.linear, arrays, grads, ref, f"x {x.shape}, W {w.shape}, bias {len(arrays) == 3}")


# --- Reductions ------------------------------------------------------------------------------------------------
def _count(shape, axes):
    return int(np.prod([shape[i] for i in axes])) if axes else 1


@case("sum")
def _sum(draw):
    x = values(draw, DOMAIN_OF["sum"][0], draw(shapes()))
    d, keep = dims(draw, x.ndim), draw(st.booleans())
    kw = reduce_kwargs(draw, d, keep)
    return Case("sum", lambda t: t.sum(**kw), (x,), (True,),
                lambda a: a.sum(axis=axes_of(d, a.ndim), keepdims=keep), str(kw))


@case("mean")
def _mean(draw):
    x = values(draw, DOMAIN_OF["mean"][0], draw(shapes()))
    d, keep = dims(draw, x.ndim), draw(st.booleans())
    kw = reduce_kwargs(draw, d, keep)
    fn = draw(st.sampled_from([lambda t: t.mean(**kw), lambda t: minigen.mean(t, **kw)]))
    return Case("mean", fn, (x,), (True,), lambda a: a.mean(axis=axes_of(d, a.ndim), keepdims=keep), str(kw))


def _var_args(draw, x):
    d, keep = dims(draw, x.ndim), draw(st.booleans())
    count = _count(x.shape, axes_of(d, x.ndim))
    correction = draw(st.sampled_from([0, 1] if count > 1 else [0]))
    style = draw(st.sampled_from(["correction", "unbiased", "default"] if correction == 1 else
                                 ["correction", "unbiased"]))
    kw = {"correction": {"correction": correction}, "unbiased": {"unbiased": bool(correction)},
          "default": {}}[style]
    return d, keep, correction, kw


@case("var")
def _var(draw):
    x = values(draw, DOMAIN_OF["var"][0], draw(shapes()))
    d, keep, correction, kw = _var_args(draw, x)
    kw.update(reduce_kwargs(draw, d, keep))
    return Case("var", lambda t: t.var(**kw), (x,), (True,),
                lambda a: a.var(axis=axes_of(d, a.ndim), keepdims=keep, ddof=correction), str(kw))


@case("std")
def _std(draw):
    """Distinct values and at least 2 per reduction, so the variance is > 0 (√ has an infinite slope at 0)."""
    x = values(draw, DOMAIN_OF["std"][0], draw(shapes(min_dims=1)))
    d, keep, correction, kw = _var_args(draw, x)
    assume(_count(x.shape, axes_of(d, x.ndim)) >= 2)
    kw.update(reduce_kwargs(draw, d, keep))
    return Case("std", lambda t: t.std(**kw), (x,), (True,),
                lambda a: a.std(axis=axes_of(d, a.ndim), keepdims=keep, ddof=correction), str(kw))


def _extreme_case(name, np_fn):
    largest = name in ("max", "amax")

    @case(name)
    def draw_case(draw):
        x = values(draw, DOMAIN_OF[name][0], draw(shapes()))
        if name in ("max", "min"):
            form = draw(st.sampled_from(["full", "dim", "function"]))
            if form == "full":  # x.max(): the largest value
                return Case(name, lambda t: getattr(t, name)(), (x,), (True,), np_fn, "full")
            d, keep = dims(draw, x.ndim, allow_none=False, allow_tuple=False), draw(st.booleans())
            if form == "dim":  # (values, indices); only values are differentiable
                kw = reduce_kwargs(draw, d, keep)  # x.max(axis=1) is x.max(dim=1), as in PyTorch
                return Case(name, lambda t: getattr(t, name)(**kw).values, (x,), (True,),
                            lambda a: np_fn(a, axis=d if a.ndim else None, keepdims=keep), str(kw))
            fn = minigen.max if largest else minigen.min
            return Case(name, lambda t: fn(t, d, keep)[0], (x,), (True,),
                        lambda a: np_fn(a, axis=d if a.ndim else None, keepdims=keep), f"fn dim {d}, keepdim {keep}")
        d, keep = dims(draw, x.ndim), draw(st.booleans())
        fn = minigen.amax if largest else minigen.amin
        if d is None:
            return Case(name, lambda t: fn(t, keepdim=keep), (x,), (True,),
                        lambda a: np_fn(a, keepdims=keep), f"all, keepdim {keep}")
        kw = reduce_kwargs(draw, d, keep)
        return Case(name, lambda t: getattr(t, name)(**kw), (x,), (True,),
                    lambda a: np_fn(a, axis=axes_of(d, a.ndim), keepdims=keep), str(kw))


for _name, _np in [("max", np.max), ("min", np.min), ("amax", np.max), ("amin", np.min)]:
    _extreme_case(_name, _np)


def _logsumexp_ref(a, axes, keepdims):
    m = a.max(axis=axes, keepdims=True) if a.ndim else a
    out = np.log(np.exp(a - m).sum(axis=axes, keepdims=True)) + m
    return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in axes])


@case("logsumexp")
def _logsumexp(draw):
    x = values(draw, DOMAIN_OF["logsumexp"][0], draw(shapes()))
    d, keep = dims(draw, x.ndim, allow_none=False), draw(st.booleans())
    kw = reduce_kwargs(draw, d, keep)
    fn = draw(st.sampled_from([lambda t: t.logsumexp(**kw), lambda t: minigen.logsumexp(t, **kw)]))
    return Case("logsumexp", fn, (x,), (True,), lambda a: _logsumexp_ref(a, axes_of(d, a.ndim), keep), str(kw))


# --- Shape ops -------------------------------------------------------------------------------------------------
@case("reshape")
def _reshape(draw):
    shape = draw(shapes())
    x = values(draw, DOMAIN_OF["shape"][0], shape)
    n = x.size
    targets = [(n,), (1, n), (n, 1), tuple(reversed(shape)), (-1,), shape + (1,)]
    if shape:
        targets.append(shape[:-1] + (-1,))
    target = draw(st.sampled_from(targets))
    form = draw(st.sampled_from(["reshape", "reshape_star", "view", "function"]))
    fn = {"reshape": lambda t: t.reshape(target), "reshape_star": lambda t: t.reshape(*target),
          "view": lambda t: t.view(*target), "function": lambda t: minigen.reshape(t, target)}[form]
    return Case("reshape", fn, (x,), (True,), lambda a: a.reshape(target), f"{form} {target}")


@case("transpose")
def _transpose(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(min_dims=1)))
    d0, d1 = draw(st.integers(-x.ndim, x.ndim - 1)), draw(st.integers(-x.ndim, x.ndim - 1))
    return Case("transpose", lambda t: t.transpose(d0, d1), (x,), (True,), lambda a: np.swapaxes(a, d0, d1),
                f"{d0}, {d1}")


@case("permute")
def _permute(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes()))
    perm = tuple(draw(st.permutations(range(x.ndim))))
    signed = tuple(p - x.ndim if draw(st.booleans()) else p for p in perm)
    fn = draw(st.sampled_from([lambda t: t.permute(*signed), lambda t: minigen.permute(t, signed)]))
    return Case("permute", fn, (x,), (True,), lambda a: a.transpose(perm), str(signed))


@case("T")
def _T(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(max_dims=2)))
    if x.ndim >= 2 and draw(st.booleans()):
        return Case("T", lambda t: t.mT, (x,), (True,), lambda a: np.swapaxes(a, -1, -2), "mT")
    return Case("T", lambda t: t.T, (x,), (True,), lambda a: a.T)


@case("flatten")
def _flatten(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes()))
    if x.ndim == 0:
        return Case("flatten", lambda t: t.flatten(), (x,), (True,), lambda a: a.reshape(1))
    start = draw(st.integers(0, x.ndim - 1))
    end = draw(st.integers(start, x.ndim - 1))
    s = start - x.ndim if draw(st.booleans()) else start
    e = end - x.ndim if draw(st.booleans()) else end
    target = x.shape[:start] + (-1,) + x.shape[end + 1:]
    return Case("flatten", lambda t: t.flatten(s, e), (x,), (True,), lambda a: a.reshape(target), f"{s}, {e}")


@case("squeeze")
def _squeeze(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(max_side=2)))
    d = dims(draw, x.ndim)
    if d is None:
        return Case("squeeze", lambda t: t.squeeze(), (x,), (True,), np.squeeze, "all")
    axes = axes_of(d, x.ndim)
    ref_axes = tuple(i for i in axes if x.shape[i] == 1)  # PyTorch leaves dims of size > 1 alone
    return Case("squeeze", lambda t: t.squeeze(d), (x,), (True,), lambda a: np.squeeze(a, ref_axes), f"dim {d}")


@case("unsqueeze")
def _unsqueeze(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes()))
    d = draw(st.integers(-x.ndim - 1, x.ndim))
    return Case("unsqueeze", lambda t: t.unsqueeze(d), (x,), (True,), lambda a: np.expand_dims(a, d), f"dim {d}")


@case("expand")
def _expand(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(max_side=2)))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    body = tuple(draw(st.integers(1, 3)) if n == 1 else n for n in x.shape)
    sizes = lead + tuple(-1 if (n == m and draw(st.booleans())) else m for n, m in zip(x.shape, body))
    target = lead + body
    form = draw(st.sampled_from(["star", "tuple", "as"]))
    if form == "as":
        fn = lambda t: t.expand_as(minigen.zeros(target))  # noqa: E731
    else:
        fn = (lambda t: t.expand(*sizes)) if form == "star" else (lambda t: t.expand(sizes))
    return Case("expand", fn, (x,), (True,), lambda a: np.broadcast_to(a, target), f"{form} {sizes}")


@case("broadcast_to")
def _broadcast_to(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(max_side=2)))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    target = lead + tuple(draw(st.integers(1, 3)) if n == 1 else n for n in x.shape)
    return Case("broadcast_to", lambda t: ops.broadcast_to(t, target), (x,), (True,),
                lambda a: np.broadcast_to(a, target), str(target))


@case("sum_to")
def _sum_to(draw):
    """The adjoint of broadcast_to: sums the leading axes broadcasting adds and the size-1 axes it stretches."""
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes()))
    lead = draw(st.integers(0, x.ndim))
    target = tuple(1 if draw(st.booleans()) else n for n in x.shape[lead:])

    def ref(a):
        out = a.reshape((-1,) + a.shape[lead:]).sum(axis=0)      # every leading axis at once
        for i, n in enumerate(target):
            if n == 1:
                out = out.sum(axis=i, keepdims=True)
        return out
    return Case("sum_to", lambda t: ops.sum_to(t, target), (x,), (True,), ref, str(target))


@case("view")
def _view(draw):
    shape = draw(shapes())
    x = values(draw, DOMAIN_OF["shape"][0], shape)
    target = draw(st.sampled_from([(x.size,), (1, x.size), (-1,), tuple(reversed(shape)), shape + (1,)]))
    return Case("view", lambda t: ops.view(t, *target), (x,), (True,), lambda a: a.reshape(target), str(target))


@case("movedim")
def _movedim(draw):
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(min_dims=1)))
    source, destination = (draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(2))
    return Case("movedim", lambda t: ops.movedim(t, source, destination), (x,), (True,),
                lambda a: np.moveaxis(a, source, destination), f"{source} → {destination}")


@case("getitem_basic")
def _getitem_basic(draw):
    """Ints, slices (negative steps too), None and Ellipsis."""
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes()))
    key = draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    return Case("getitem_basic", lambda t: t[key], (x,), (True,), lambda a: a[key], repr(key))


@case("getitem_array")
def _getitem_array(draw):
    """Integer-array (repeated indices included: the gradient must add up, scatter-add) and mask indexing."""
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(min_dims=1, max_side=3)))
    form = draw(st.sampled_from(["arrays", "first_axis", "mixed", "list", "negative", "mask", "scalar_tensor"]))
    if form == "arrays":  # one index array per leading dim, broadcast together
        key = draw(hnp.integer_array_indices(x.shape, result_shape=shapes(min_dims=1, max_dims=2, max_side=4)))
    elif form == "mask":  # a boolean mask over the leading dims
        key = draw(hnp.arrays(np.bool_, x.shape[:draw(st.integers(1, x.ndim))]))
    elif form == "scalar_tensor":  # a 0-d integer tensor picks one row, like an int
        key = np.array(draw(st.integers(-x.shape[0], x.shape[0] - 1)))
    else:
        index = draw(hnp.arrays(np.int64, draw(st.integers(1, 6)), elements=st.integers(0, x.shape[0] - 1)))
        if form == "negative":
            index = index - x.shape[0]
        key = (index,)
        if form == "mixed":
            assume(x.ndim >= 2)
            index = np.minimum(index, x.shape[1] - 1)
            key = (slice(None), index)
    if form == "list":
        lst = key[0].tolist()
        return Case("getitem_array", lambda t: t[lst], (x,), (True,), lambda a: a[lst], f"list {lst}")
    return Case("getitem_array", lambda t: t[on_device(key, t)], (x,), (True,), lambda a: a[key],
                f"{form} {key!r}")


@case("cat")
def _cat(draw):
    base = draw(shapes(min_dims=1))
    d = draw(st.integers(-len(base), len(base) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = tuple(values(draw, DOMAIN_OF["cat"][0], base[:d % len(base)] + (s,) + base[d % len(base) + 1:])
                   for s in sizes)
    grads = tuple(draw(st.booleans()) for _ in arrays)
    assume(any(grads))
    return Case("cat", lambda *ts: minigen.cat(ts, dim=d), arrays, grads, lambda *a: np.concatenate(a, axis=d),
                f"dim {d}")


@case("stack")
def _stack(draw):
    shape = draw(shapes())
    d = draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = tuple(values(draw, DOMAIN_OF["stack"][0], shape) for _ in range(draw(st.integers(1, 3))))
    return Case("stack", lambda *ts: minigen.stack(ts, d), arrays, (True,) * len(arrays),
                lambda *a: np.stack(a, axis=d), f"dim {d}")


def _weighted_pieces(pieces, d, pick):
    """The pieces scaled by 1, 2, 3, … and joined again (or only piece ``pick``, scaled): a gradient sent to the
    wrong slice, or to a piece not returned, fails the gradient check."""
    if pick is not None:
        return pieces[pick] * (pick + 1)
    return minigen.cat([p * (i + 1) for i, p in enumerate(pieces)], dim=d)


def _weighted_pieces_ref(a, sizes, d, pick):
    bounds = np.cumsum(sizes)[:-1]
    pieces = [p * (i + 1) for i, p in enumerate(np.split(a, bounds, axis=d))]
    return pieces[pick] if pick is not None else np.concatenate(pieces, axis=d)


@case("split")
def _split(draw):
    """An int piece size (the last piece smaller; larger than the dim: one piece) or a list of sizes."""
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(min_dims=1, max_side=4)))
    d = draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[d]
    if draw(st.booleans()):
        size = draw(st.integers(1, n + 1))
        arg, sizes = size, [size] * (n // size) + ([n % size] if n % size else [])
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        sizes = list(np.diff([0] + cuts + [n]))              # zero-sized pieces included
        arg = sizes if draw(st.booleans()) else tuple(sizes)
    pick = draw(st.none() | st.integers(0, len(sizes) - 1))
    form = draw(st.sampled_from(["function", "method", "keyword"]))
    call = {"function": lambda t: minigen.split(t, arg, d), "method": lambda t: t.split(arg, d),
            "keyword": lambda t: minigen.split(t, split_size_or_sections=arg, dim=d)}[form]
    return Case("split", lambda t: _weighted_pieces(call(t), d, pick), (x,), (True,),
                lambda a: _weighted_pieces_ref(a, sizes, d, pick), f"{form} {arg!r}, dim {d}, pick {pick}")


@case("chunk")
def _chunk(draw):
    """⌈n / chunks⌉ per piece, the last one smaller: possibly fewer pieces than asked for (6 in 4: 2, 2, 2)."""
    x = values(draw, DOMAIN_OF["shape"][0], draw(shapes(min_dims=1, max_side=4)))
    d = draw(st.integers(-x.ndim, x.ndim - 1))
    chunks = draw(st.integers(1, 5))
    n, per = x.shape[d], -(-x.shape[d] // chunks)
    sizes = [per] * (n // per) + ([n % per] if n % per else [])
    pick = draw(st.none() | st.integers(0, len(sizes) - 1))
    call = draw(st.sampled_from([lambda t: minigen.chunk(t, chunks, d), lambda t: t.chunk(chunks, dim=d)]))
    return Case("chunk", lambda t: _weighted_pieces(call(t), d, pick), (x,), (True,),
                lambda a: _weighted_pieces_ref(a, sizes, d, pick), f"{chunks} chunks, dim {d}, pick {pick}")


@case("pad")
def _pad(draw):
    x = values(draw, DOMAIN_OF["pad"][0], draw(shapes(min_dims=1)))
    pairs = draw(st.integers(1, x.ndim))
    widths = tuple(draw(st.integers(0, 2)) for _ in range(2 * pairs))
    value = draw(st.sampled_from([0.0, 1.5, -2.0]))
    np_widths = [(0, 0)] * (x.ndim - pairs) + [(widths[2 * i], widths[2 * i + 1]) for i in range(pairs)][::-1]
    return Case("pad", lambda t: F.pad(t, widths, value=value), (x,), (True,),
                lambda a: np.pad(a, np_widths, constant_values=value), f"{widths}, value {value}")


# --- Resizing ------------------------------------------------------------------------------------------------
def _interpolate_ref(a, out_hw, scales, mode, align_corners):
    """F.interpolate from its definition, one output pixel at a time (float64 coordinates)."""
    (H, W), (Ho, Wo) = a.shape[2:], out_hw

    def source(o, n_in, n_out, scale):                  # PyTorch's source coordinate of output position o
        if mode == "nearest":
            step = np.float32(1 / scale) if scale else np.float32(n_in) / np.float32(n_out)
            return min(int(np.floor(np.float32(o) * step)), n_in - 1) if n_out not in (n_in, 2 * n_in) else \
                o * n_in // n_out
        if align_corners:
            return o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return max((o + 0.5) * (1 / scale if scale else n_in / n_out) - 0.5, 0.0)

    out = np.zeros(a.shape[:2] + (Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            r, c = source(i, H, Ho, scales[0]), source(j, W, Wo, scales[1])
            if mode == "nearest":
                out[:, :, i, j] = a[:, :, r, c]
                continue
            r0, c0 = int(r), int(c)
            r1, c1, lr, lc = min(r0 + 1, H - 1), min(c0 + 1, W - 1), r - r0, c - c0
            out[:, :, i, j] = ((1 - lr) * ((1 - lc) * a[:, :, r0, c0] + lc * a[:, :, r0, c1])
                               + lr * ((1 - lc) * a[:, :, r1, c0] + lc * a[:, :, r1, c1]))
    return out


@case("interpolate")
def _interpolate(draw):
    """'nearest' and 'bilinear' (align_corners both ways), by size (up, down, odd ratios) or by scale_factor."""
    x = values(draw, DOMAIN_OF["interpolate"][0], (draw(st.integers(1, 2)), draw(st.integers(1, 2)),
                                                   draw(st.integers(1, 4)), draw(st.integers(1, 4))))
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    kwargs = {} if mode == "nearest" else {"align_corners": draw(st.sampled_from([False, True]))}
    if draw(st.booleans()):
        out_hw = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
        kwargs["size"], scales = out_hw if out_hw[0] != out_hw[1] or draw(st.booleans()) else out_hw[0], (None, None)
    else:
        scales = (draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 1 / 3])), draw(st.sampled_from([0.75, 2.0, 2.5])))
        out_hw = tuple(int(np.floor(n * s)) for n, s in zip(x.shape[2:], scales))
        assume(min(out_hw) >= 1)
        kwargs["scale_factor"] = scales if scales[0] != scales[1] else scales[0]
    return Case("interpolate", lambda t: F.interpolate(t, mode=mode, **kwargs), (x,), (True,),
                lambda a: _interpolate_ref(a, out_hw, scales, mode, kwargs.get("align_corners")),
                f"{mode}, {kwargs}")


# --- Losses ----------------------------------------------------------------------------------------------------
REDUCTIONS = ("none", "mean", "sum")


def _reduce_ref(loss, reduction):
    return {"none": loss, "mean": np.mean(loss), "sum": np.sum(loss)}[reduction]


@case("mse_loss")
def _mse_loss(draw):
    shape, reduction = draw(shapes()), draw(st.sampled_from(REDUCTIONS))
    x, t = (values(draw, d, shape) for d in DOMAIN_OF["mse_loss"])
    grads = draw(st.sampled_from([(True, True), (True, False)]))
    return Case("mse_loss", lambda a, b: F.mse_loss(a, b, reduction=reduction), (x, t), grads,
                lambda a, b: _reduce_ref((a - b) ** 2, reduction), reduction)


@case("binary_cross_entropy")
def _bce(draw):
    shape, reduction = draw(shapes()), draw(st.sampled_from(REDUCTIONS))
    dp, dt, dw = DOMAIN_OF["binary_cross_entropy"]
    p, t = values(draw, dp, shape), values(draw, dt, shape)
    grads = draw(st.sampled_from([(True, False), (True, True)]))

    def ref(p, t, w=1.0):
        return _reduce_ref(-w * (t * np.log(p) + (1 - t) * np.log(1 - p)), reduction)

    if draw(st.booleans()):
        w = values(draw, dw, broadcastable_to(draw, shape))
        return Case("binary_cross_entropy", lambda a, b, c: F.binary_cross_entropy(a, b, c, reduction=reduction),
                    (p, t, w), grads + (False,), ref, f"weight, {reduction}")
    return Case("binary_cross_entropy", lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
                (p, t), grads, ref, reduction)


@case("binary_cross_entropy_with_logits")
def _bce_logits(draw):
    shape, reduction = draw(shapes()), draw(st.sampled_from(REDUCTIONS))
    dz, dt, dw, dpw = DOMAIN_OF["binary_cross_entropy_with_logits"]
    z, t = values(draw, dz, shape), values(draw, dt, shape)
    w = values(draw, dw, broadcastable_to(draw, shape)) if draw(st.booleans()) else None
    pw = values(draw, dpw, shape[-1:]) if draw(st.booleans()) else None  # one weight per class (last dim)
    arrays = (z, t) + tuple(a for a in (w, pw) if a is not None)
    grads = (True, draw(st.booleans())) + (False,) * (len(arrays) - 2)

    def fn(a, b, *rest):
        rest = list(rest)
        weight = rest.pop(0) if w is not None else None
        pos_weight = rest.pop(0) if pw is not None else None
        return F.binary_cross_entropy_with_logits(a, b, weight, reduction=reduction, pos_weight=pos_weight)

    def ref(z, t, *rest):
        rest = list(rest)
        weight = rest.pop(0) if w is not None else 1.0
        pos_weight = rest.pop(0) if pw is not None else 1.0
        log_p, log_not_p = -np.logaddexp(0, -z), -np.logaddexp(0, z)
        return _reduce_ref(-weight * (pos_weight * t * log_p + (1 - t) * log_not_p), reduction)

    return Case("binary_cross_entropy_with_logits", fn, arrays, grads, ref,
                f"weight {w is not None}, pos_weight {pw is not None}, {reduction}")


def _class_shape(draw):
    """(C,), (N, C) or (N, C, d1[, d2]): the class dim is dim 1 (dim 0 for a single example)."""
    return draw(st.sampled_from([(3,), (2, 3), (1, 4), (3, 2), (2, 3, 2), (1, 2, 2, 2), (2, 2, 3)]))


def _class_targets(draw, input_shape, n_classes, ignore_index):
    target_shape = () if len(input_shape) == 1 else (input_shape[0],) + input_shape[2:]
    labels = st.integers(0, n_classes - 1) | st.just(ignore_index)
    return draw(hnp.arrays(np.int64, target_shape, elements=labels))


def _nll_ref(logp, t, w, ignore_index, reduction, smoothing=0.0):
    """PyTorch's nll_loss (with cross_entropy's label smoothing), written with NumPy loops over examples."""
    c = logp.shape[0 if logp.ndim == 1 else 1]
    logp = np.moveaxis(logp, 0 if logp.ndim == 1 else 1, -1).reshape(-1, c)
    flat_t = t.reshape(-1)
    w = np.ones(c) if w is None else w
    losses, weights = [], []
    for row, k in zip(logp, flat_t):
        if k == ignore_index:
            losses.append(0.0)
            weights.append(0.0)
            continue
        nll = -w[k] * row[k]
        smooth = -(w * row).sum() / c
        losses.append((1 - smoothing) * nll + smoothing * smooth)
        weights.append(w[k])
    losses = np.array(losses)
    if reduction == "mean":
        return losses.sum() / np.sum(weights)
    return losses.sum() if reduction == "sum" else losses.reshape(t.shape)


@case("cross_entropy")
def _cross_entropy(draw):
    """Class indices (with weight, ignore_index, label smoothing) or class probabilities as targets."""
    shape, reduction = _class_shape(draw), draw(st.sampled_from(REDUCTIONS))
    c = shape[0 if len(shape) == 1 else 1]
    dz, dw, dprob = DOMAIN_OF["cross_entropy"]
    z = values(draw, dz, shape)
    w = values(draw, dw, (c,)) if draw(st.booleans()) else None
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 0.3]))
    if draw(st.booleans()):  # probabilities as targets (not necessarily normalised: PyTorch does not check)
        t = values(draw, dprob, shape)
        arrays = (z, t) + ((w,) if w is not None else ())
        grads = (True, draw(st.booleans())) + (False,) * (w is not None)

        def fn(a, b, *weight):
            return F.cross_entropy(a, b, weight[0] if weight else None, reduction=reduction,
                                   label_smoothing=smoothing)

        def ref(a, b, *weight):
            axis = 0 if a.ndim == 1 else 1
            b = b * (1 - smoothing) + smoothing / c
            ww = weight[0].reshape((-1,) + (1,) * (a.ndim - 2)) if weight else 1.0
            loss = -(ww * b * _log_softmax_ref(a, axis)).sum(axis=axis)
            return _reduce_ref(loss, reduction)
        return Case("cross_entropy", fn, arrays, grads, ref, f"probabilities, smoothing {smoothing}, {reduction}")
    ignore_index = draw(st.sampled_from([-100, 0, 1]))
    t = _class_targets(draw, shape, c, ignore_index)
    if reduction == "mean":
        assume((t != ignore_index).any())  # all ignored: 0/0 (NaN), as in PyTorch
    arrays = (z, t) + ((w,) if w is not None else ())

    def fn(a, b, *weight):
        return F.cross_entropy(a, b, weight[0] if weight else None, ignore_index=ignore_index,
                               reduction=reduction, label_smoothing=smoothing)

    def ref(a, b, *weight):
        return _nll_ref(_log_softmax_ref(a, 0 if a.ndim == 1 else 1), b, weight[0] if weight else None,
                        ignore_index, reduction, smoothing)
    return Case("cross_entropy", fn, arrays, (True, False) + (False,) * (w is not None), ref,
                f"indices, ignore_index {ignore_index}, smoothing {smoothing}, weight {w is not None}, {reduction}")


@case("nll_loss")
def _nll_loss(draw):
    shape, reduction = _class_shape(draw), draw(st.sampled_from(REDUCTIONS))
    c = shape[0 if len(shape) == 1 else 1]
    dx, dw = DOMAIN_OF["nll_loss"]
    x = values(draw, dx, shape)
    w = values(draw, dw, (c,)) if draw(st.booleans()) else None
    ignore_index = draw(st.sampled_from([-100, 2]))
    t = _class_targets(draw, shape, c, ignore_index)
    if reduction == "mean":
        assume((t != ignore_index).any())
    arrays = (x, t) + ((w,) if w is not None else ())

    def fn(a, b, *weight):
        return F.nll_loss(a, b, weight[0] if weight else None, ignore_index=ignore_index, reduction=reduction)

    return Case("nll_loss", fn, arrays, (True, False) + (False,) * (w is not None),
                lambda a, b, *weight: _nll_ref(a, b, weight[0] if weight else None, ignore_index, reduction),
                f"ignore_index {ignore_index}, weight {w is not None}, {reduction}")


# --- Activations, normalization and attention for U-Nets ---------------------------------------------------------
_erf_ref = np.vectorize(math.erf, otypes=[np.float64])


@case("silu")
def _silu(draw):
    x = values(draw, DOMAIN_OF["silu"][0], draw(shapes()))
    return Case("silu", F.silu, (x,), (True,), lambda a: a * _sigmoid(a))


@case("gelu")
def _gelu(draw):
    approximate = draw(st.sampled_from(["none", "tanh"]))
    x = values(draw, DOMAIN_OF["gelu"][0], draw(shapes()))

    def ref(a):
        if approximate == "tanh":
            return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))
        return a * 0.5 * (1 + _erf_ref(a / np.sqrt(2)))
    return Case("gelu", lambda t: F.gelu(t, approximate=approximate), (x,), (True,), ref, approximate)


@case("erf")
def _erf(draw):
    x = values(draw, DOMAIN_OF["erf"][0], draw(shapes()))
    return Case("erf", minigen.erf, (x,), (True,), _erf_ref)


def _normalize_ref(a, n_axes, eps=1e-5):
    axes = tuple(range(a.ndim - n_axes, a.ndim))
    centred = a - a.mean(axis=axes, keepdims=True)
    return centred / np.sqrt((centred ** 2).mean(axis=axes, keepdims=True) + eps)


def _affine_args(draw, name, shape):
    """weight and bias, either, or neither: the arrays and their positions in the call."""
    _, dw, db = DOMAIN_OF[name]
    kind = draw(st.sampled_from(["both", "weight", "bias", "none"]))
    w = values(draw, dw, shape) if kind in ("both", "weight") else None
    b = values(draw, db, shape) if kind in ("both", "bias") else None
    return w, b, kind


@case("group_norm")
def _group_norm(draw):
    g, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    shape = (draw(st.integers(1, 2)), g * per_group) + draw(shapes(0, 2, 1, 3))
    x = values(draw, DOMAIN_OF["group_norm"][0], shape)
    w, b, kind = _affine_args(draw, "group_norm", (shape[1],))
    eps = draw(st.sampled_from([1e-5, 0.1]))

    def fn(t, *wb):
        wb = list(wb)
        return F.group_norm(t, g, wb.pop(0) if w is not None else None, wb.pop(0) if b is not None else None, eps)

    def ref(a, *wb):
        wb, channel = list(wb), (1, shape[1]) + (1,) * (len(shape) - 2)
        y = _normalize_ref(a.reshape(shape[0], g, -1), 1, eps).reshape(shape)
        y = y * wb.pop(0).reshape(channel) if w is not None else y
        return y + wb.pop(0).reshape(channel) if b is not None else y
    arrays = (x,) + tuple(a for a in (w, b) if a is not None)
    grads = (True,) + tuple(draw(st.booleans()) for _ in arrays[1:])
    return Case("group_norm", fn, arrays, grads, ref, f"{g} groups, {kind}, eps {eps}")


@case("layer_norm")
def _layer_norm(draw):
    shape = draw(shapes(1, 3))
    n = draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - n:]
    x = values(draw, DOMAIN_OF["layer_norm"][0], shape)
    w, b, kind = _affine_args(draw, "layer_norm", normalized)
    as_int = n == 1 and draw(st.booleans())

    def fn(t, *wb):
        wb = list(wb)
        return F.layer_norm(t, normalized[0] if as_int else normalized, wb.pop(0) if w is not None else None,
                            wb.pop(0) if b is not None else None)

    def ref(a, *wb):
        wb, y = list(wb), _normalize_ref(a, n)
        y = y * wb.pop(0) if w is not None else y
        return y + wb.pop(0) if b is not None else y
    arrays = (x,) + tuple(a for a in (w, b) if a is not None)
    grads = (True,) + tuple(draw(st.booleans()) for _ in arrays[1:])
    return Case("layer_norm", fn, arrays, grads, ref, f"normalized_shape {normalized}, {kind}")


def _attention_ref(q, k, v, mask=None, scale=None):
    logits = q @ np.swapaxes(k, -1, -2) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None:
        logits = np.where(mask, logits, -np.inf) if mask.dtype == bool else logits + mask
    w = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (w / w.sum(axis=-1, keepdims=True)) @ v


@case("scaled_dot_product_attention")
def _sdpa(draw):
    """Batch dims that broadcast, no mask, a boolean mask (each query sees a key), a float mask, is_causal."""
    L, S, E, Ev = (draw(st.integers(1, 3)) for _ in range(4))
    bq, bk, bv = draw(broadcastable(3, max_dims=2, max_side=2))
    dq, dk, dv, dm = DOMAIN_OF["scaled_dot_product_attention"]
    q, k, v = values(draw, dq, bq + (L, E)), values(draw, dk, bk + (S, E)), values(draw, dv, bv + (S, Ev))
    scale = draw(st.sampled_from([None, 0.5]))
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    grads = (True, True, True)
    if kind == "bool":
        mask = draw(hnp.arrays(np.bool_, (L, S)))
        mask[:, 0] = True
        return Case("scaled_dot_product_attention", lambda a, b, c: F.scaled_dot_product_attention(
            a, b, c, attn_mask=minigen.tensor(mask, device=a.device), scale=scale), (q, k, v), grads,
            lambda a, b, c: _attention_ref(a, b, c, mask, scale), f"bool mask, scale {scale}")
    if kind == "float":
        mask = values(draw, dm, (L, S))
        return Case("scaled_dot_product_attention", lambda a, b, c, m: F.scaled_dot_product_attention(
            a, b, c, m, scale=scale), (q, k, v, mask), grads + (draw(st.booleans()),),
            lambda a, b, c, m: _attention_ref(a, b, c, m, scale), f"float mask, scale {scale}")
    causal = kind == "causal"
    return Case("scaled_dot_product_attention", lambda a, b, c: F.scaled_dot_product_attention(
        a, b, c, is_causal=causal, scale=scale), (q, k, v), grads,
        lambda a, b, c: _attention_ref(a, b, c, np.tri(L, S, dtype=bool) if causal else None, scale),
        f"{kind}, scale {scale}")


# --- Helpers for the tests --------------------------------------------------------------------------------------
def outputs_of(result) -> list:
    """The floating tensors an op returned (one tensor or a tuple)."""
    items = result if isinstance(result, tuple) else (result,)
    return [y for y in items if isinstance(y, minigen.Tensor) and y.dtype.kind == "f"]


def as_numpy(t) -> np.ndarray:
    return backend.to_numpy(t.data)
