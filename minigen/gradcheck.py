"""Numerical gradient checks: how we know every backward in minigen is right.

For a function f with outputs y and a random upstream gradient v, backward computes
    g = ∂⟨v, f(x)⟩/∂x      (⟨·,·⟩ sums the elementwise product over all elements).
Central differences estimate the same thing one input element at a time, with an error of O(h²):
    gᵢ ≈ (⟨v, f(x + h·eᵢ)⟩ − ⟨v, f(x − h·eᵢ)⟩) / 2h.
A random v (never only ``.sum()``) matters: ``sum(batch_norm(x))`` has zero gradient whatever the code does,
so a check seeded with ones can pass a wrong backward.

For large inputs, ``directional=True`` checks one random direction r per input instead (two evaluations of f
in all, Chainer's method):  ⟨g, r⟩ ≈ (⟨v, f(x + h·r)⟩ − ⟨v, f(x − h·r)⟩) / 2h.

``gradgradcheck`` checks the second derivatives: it runs ``gradcheck`` on the function (x, v) ↦ ∂⟨v, f(x)⟩/∂x,
computed by ``grad(..., create_graph=True)``.

Use float64: float32 rounding (about 1e-7 relative) divided by h = 1e-6 would drown the signal.
"""

from __future__ import annotations

import numpy as np

from .autograd import Tensor, grad
from .backend import to_numpy


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _differentiable(outputs):
    return [y for y in outputs if isinstance(y, Tensor) and y.dtype.kind == "f"]


def _inner(outputs, vs) -> float:
    """⟨v, f(x)⟩ summed over every output."""
    return float(sum(float((y.data * v).sum()) for y, v in zip(outputs, vs)))


def _analytic(fn, inputs, wrt, vs):
    outputs = _differentiable(_as_tuple(fn(*inputs)))
    live = [(y, v) for y, v in zip(outputs, vs) if y.requires_grad]
    grads = [None] * len(wrt)
    if live:
        grads = grad([y for y, _ in live], [inputs[i] for i in wrt],
                     grad_outputs=[Tensor(v) for _, v in live], allow_unused=True)
    # an input that does not reach any output has gradient 0
    return [backend_zeros_like(inputs[i]) if g is None else g.data for i, g in zip(wrt, grads)]


def backend_zeros_like(t: Tensor):
    return t.xp.zeros(t.shape, dtype=t.dtype)


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-7, rtol: float = 1e-5,
              raise_exception: bool = True, directional: bool = False, seed: int = 0) -> bool:
    """Compare the gradients backward computes for ``fn(*inputs)`` against central differences.

    Every floating tensor in ``inputs`` that requires grad is checked; it must be float64. On failure raises
    ``GradcheckError`` naming the input, the worst element and both values (or returns False).
    """
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; create inputs with requires_grad=True")
    for i in wrt:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 for finite "
                             "differences (float32 rounding would swamp them)")
        # contiguous, so a flat view can perturb it (ascontiguousarray alone would make a 0-d input 1-d)
        inputs[i].data = inputs[i].xp.ascontiguousarray(inputs[i].data).reshape(inputs[i].shape)
    rng = np.random.default_rng(seed)
    outputs = _differentiable(_as_tuple(fn(*inputs)))
    vs = [outputs[0].xp.asarray(rng.standard_normal(y.shape)).astype(y.dtype) for y in outputs]
    analytic = _analytic(fn, inputs, wrt, vs)

    def f() -> float:
        return _inner(_differentiable(_as_tuple(fn(*inputs))), vs)

    if directional:
        directions = [inputs[i].xp.asarray(rng.standard_normal(inputs[i].shape)) for i in wrt]
        originals = [inputs[i].data.copy() for i in wrt]
        values = []
        for sign in (1, -1):
            for i, r in zip(wrt, directions):
                inputs[i].data[...] = originals[wrt.index(i)] + sign * eps * r
            values.append(f())
        for i, x0 in zip(wrt, originals):
            inputs[i].data[...] = x0
        numeric = (values[0] - values[1]) / (2 * eps)
        predicted = float(sum(float((g * r).sum()) for g, r in zip(analytic, directions)))
        if abs(predicted - numeric) > atol + rtol * abs(numeric):
            return _fail(f"gradcheck (directional): ⟨analytic gradient, r⟩ = {predicted:.10g} but the finite "
                         f"difference gives {numeric:.10g}", raise_exception)
        return True

    for i, g in zip(wrt, analytic):
        x = inputs[i]
        flat = x.data.reshape(-1)  # a view: writing to it perturbs the input
        numeric = np.empty(flat.size)
        for k in range(flat.size):
            original = flat[k].item()
            flat[k] = original + eps
            plus = f()
            flat[k] = original - eps
            minus = f()
            flat[k] = original
            numeric[k] = (plus - minus) / (2 * eps)
        a = to_numpy(g).astype(np.float64).reshape(-1)
        error = np.abs(a - numeric)
        allowed = atol + rtol * np.abs(numeric)
        if not (error <= allowed).all():
            worst = int(np.argmax(error - allowed))
            index = np.unravel_index(worst, x.shape) if x.ndim else ()
            return _fail(
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at {int((error > allowed).sum())} "
                f"of {flat.size} elements; worst at index {tuple(int(j) for j in index)}: analytic "
                f"{a[worst]:.10g}, numeric {numeric[worst]:.10g} (|difference| {error[worst]:.3g} > allowed "
                f"{allowed[worst]:.3g})", raise_exception)
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-7, rtol: float = 1e-5,
                  raise_exception: bool = True, directional: bool = False, seed: int = 0) -> bool:
    """Check second derivatives: ``gradcheck`` on (inputs, v) ↦ grad(fn(inputs), inputs, v, create_graph=True).
    The upstream gradients v are random (or ``grad_outputs``) and are checked as inputs too."""
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outputs = _differentiable(_as_tuple(fn(*inputs)))
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = [Tensor(y.xp.asarray(rng.standard_normal(y.shape)), requires_grad=True) for y in outputs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        ys = _differentiable(_as_tuple(fn(*xs)))
        live = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        if not live:
            return tuple(Tensor(backend_zeros_like(xs[i])) for i in wrt)
        gs = grad([y for y, _ in live], [xs[i] for i in wrt], grad_outputs=[v for _, v in live],
                  create_graph=True, allow_unused=True)
        return tuple(Tensor(backend_zeros_like(xs[i])) if g is None else g for i, g in zip(wrt, gs))

    return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, directional=directional, seed=seed)
