"""Losses, composed from checked ops so their gradients (and gradients of gradients) come for free; two are one
function each with a backward in tensor ops (binary_cross_entropy, for PyTorch's finite gradient at p = 0 and 1;
..._with_logits without pos_weight, for speed, tested against its composition).

With p = input probabilities, t = targets, z = logits:

    mse_loss                    (x − t)²
    binary_cross_entropy        −[t·log p + (1 − t)·log(1 − p)], each log clamped at −100 as in PyTorch
    ..._with_logits             (1 − t)·z + w·softplus(−z),  w = 1 + (pos_weight − 1)·t
                                (the logits form: never log(0), the stable choice for GANs and VAEs)
    nll_loss                    −w[tᵢ] · inputᵢ[tᵢ]   (input holds log-probabilities)
    cross_entropy               nll_loss(log_softmax(z)), with label smoothing; or −Σ t·log_softmax(z)
                                when t holds class probabilities

``reduction``: 'none' keeps one loss per element, 'sum' adds them, 'mean' divides by the count, or for the
class losses (and mse_loss) with a ``weight`` by the total weight of the targets (PyTorch's definition).
The signatures are torch.nn.functional's without its deprecated ``size_average`` and ``reduce`` (an older
spelling of ``reduction``). The arguments that follow them in PyTorch are keyword-only here, so a call that runs
in minigen means the same in PyTorch.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..autograd import Function, Tensor, is_grad_enabled
from ..backend import xp_of
from .activation import Softplus, log_softmax
from .dtypes import operands
from .elementwise import _float, clamp, log, sigmoid, sigmoid_array, softplus_array, where
from .reduce import mean, sum
from .shape import getitem, movedim, reshape

REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss: Tensor, reduction: str, name: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _same_shape(input: Tensor, target: Tensor, name: str):
    if input.shape != target.shape:
        raise ValueError(f"{name}: target shape {target.shape} differs from input shape {input.shape}")


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean", weight=None) -> Tensor:
    """Mean squared error; a ``weight`` of the input's shape scales each term (then 'mean' divides by Σ w).
    A target of another shape is broadcast, with PyTorch's warning."""
    if input.shape != target.shape:
        warnings.warn(f"mse_loss: target shape {target.shape} differs from input shape {input.shape}; they will "
                      "be broadcast together, which is rarely what you want", stacklevel=2)
    diff = input - target
    loss = diff * diff
    if weight is None:
        return _reduce(loss, reduction, "mse_loss")
    if weight.shape != input.shape:
        raise ValueError(f"mse_loss: weight shape {weight.shape} differs from input shape {input.shape}")
    loss = loss * weight
    return sum(loss) / sum(weight) if reduction == "mean" else _reduce(loss, reduction, "mse_loss")


class BinaryCrossEntropy(Function):
    """ℓ = −[t·log p + (1 − t)·log(1 − p)], each log clamped at −100, with PyTorch's backward:

        ∂ℓ/∂p = (p − t) / max(p(1 − p), 1e-12)     (= −t/p + (1 − t)/(1 − p) inside (0, 1); finite at 0 and 1,
                                                    where a saturated float32 sigmoid often puts p)
        ∂ℓ/∂t = log(1 − p) − log p                 (unclamped, as PyTorch: ±∞ at p = 0 or 1)

    Composing clamp(log p) instead would give 0 · 1/0 = NaN at p = 0."""

    def forward(self, p, t):
        xp = xp_of(p)
        with np.errstate(divide="ignore"):
            log_p, log_1mp = xp.maximum(xp.log(p), -100), xp.maximum(xp.log1p(-p), -100)
        return -(t * log_p + (1 - t) * log_1mp)

    def backward(self, g):
        p, t = self.inputs
        gp = g * (p - t) / clamp(p * (1.0 - p), min=1e-12) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = g * (log(1.0 - p) - log(p))
        return gp, gt


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None, *, reduction: str = "mean") -> Tensor:
    _same_shape(input, target, "binary_cross_entropy")
    if input.device == "cpu" and ((input.data < 0) | (input.data > 1)).any():  # see _nll_loss: CPU only
        raise RuntimeError("binary_cross_entropy: input values must lie in [0, 1] (probabilities); "
                           "for logits use binary_cross_entropy_with_logits")
    loss = BinaryCrossEntropy()(*operands(input, target))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def _softplus(z: Tensor) -> Tensor:
    return Softplus(1.0, None)(_float(z))  # no linear cut-off: exact for every z; integers become float32


class BinaryCrossEntropyWithLogits(Function):
    """ℓ = (1 − t)·z + softplus(−z) in one function, as PyTorch's: the composition below takes eleven passes over
    the logits forward and as many backward, in eight graph nodes. Forward writes softplus(−z) as
    max(−z, 0) + log1p(e^{−|z|}) (``softplus_array``); backward is one line each,

        ∂ℓ/∂z = (1 − t) − σ(−z) = σ(z) − t          ∂ℓ/∂t = −z

    on arrays for a plain backward, in tensor ops (so differentiable again) under create_graph."""
    reads_outputs = False                # backward never calls self.output() (autograd.py)

    def forward(self, z, t):
        loss = softplus_array(-z)                     # elementwise.py: accurate, and no slow float32 log1p
        loss += (1 - t) * z
        return loss

    def backward(self, g):
        z, t = self.inputs
        if not is_grad_enabled():                     # the plain backward: the same lines on arrays, in place
            gz = gt = None
            if self.needs_input_grad[0]:
                gz = sigmoid_array(z.data)
                gz -= t.data
                gz *= g.data
            if self.needs_input_grad[1]:
                gt = xp_of(g.data).multiply(g.data, z.data, out=xp_of(g.data).empty_like(z.data))
                gt *= -1                              # (out=: an array even for 0-d z)
            return (None if gz is None else Tensor(gz)), (None if gt is None else Tensor(gt))
        gz = g * (sigmoid(z) - t) if self.needs_input_grad[0] else None
        gt = -(g * z) if self.needs_input_grad[1] else None
        return gz, gt


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    z, t = operands(input, target)
    if pos_weight is None and z.dtype.kind == "f":
        loss = BinaryCrossEntropyWithLogits()(z, t)
    elif pos_weight is None:                        # integer logits: the composition (softplus makes them float)
        loss = (1.0 - target) * input + _softplus(-input)
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * _softplus(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _class_last(input: Tensor, target: Tensor, name: str):
    """(N, C, d1, ...) log-probs and (N, d1, ...) targets → (M, C) and (M,); (C,) and () → (1, C), (1,)."""
    if input.ndim == 1:
        input, target = reshape(input, 1, -1), reshape(target, 1)
    if target.shape != (input.shape[0],) + input.shape[2:]:
        raise ValueError(f"{name}: expected target of shape {(input.shape[0],) + input.shape[2:]} for input "
                         f"of shape {input.shape}, got {target.shape}")
    if input.ndim > 2:
        input = reshape(movedim(input, 1, -1), -1, input.shape[1])
        target = reshape(target, -1)
    return input, target


def nll_loss(input: Tensor, target: Tensor, weight=None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    return _nll_loss(input, target, weight, ignore_index, reduction, smoothing=0.0)


def _nll_loss(input: Tensor, target: Tensor, weight, ignore_index: int, reduction: str,
              smoothing: float) -> Tensor:
    """nll_loss, and with ``smoothing`` > 0 cross_entropy's label smoothing (input: log-probabilities)."""
    out_shape = target.shape
    logp, t = _class_last(input, target, "nll_loss")
    xp = logp.xp
    t = t.data.astype("int64")
    keep = t != ignore_index
    n_classes = logp.shape[1]
    # checked on the CPU only: on a GPU, reading the check's answer back would make every call wait for the GPU
    # (PyTorch checks inside its GPU kernels); there a bad target gives a wrong loss, not an error
    if logp.device == "cpu" and ((t[keep] < 0) | (t[keep] >= n_classes)).any():
        raise IndexError(f"nll_loss: target values must lie in [0, {n_classes}), got {t[keep].min()}..{t[keep].max()}")
    safe_t = xp.where(keep, t, 0)
    w_class = weight.data.astype(logp.dtype) if weight is not None else xp.ones(n_classes, logp.dtype)
    w = Tensor(w_class[safe_t] * keep)  # the weight of each target, 0 where ignored
    picked = getitem(logp, (xp.arange(logp.shape[0]), safe_t))  # logpᵢ[tᵢ] → (M,)
    # where(keep, ·, 0), not · keep: an ignored target must get gradient 0, not 0 · (1/Σw) = NaN when every
    # target is ignored (then the 'mean' is 0/0 = NaN, and its gradient 0, as in PyTorch)
    loss = where(Tensor(keep), -w * picked, 0.0)
    if smoothing:
        # label smoothing: mix in the loss against the uniform distribution, −Σ_c w_c log p_c / C
        smooth = where(Tensor(keep), -sum(logp * Tensor(w_class), 1) / n_classes, 0.0)
        loss = (1.0 - smoothing) * loss + smoothing * smooth
    if reduction == "mean":
        return sum(loss) / sum(w)
    if reduction == "none":
        return reshape(loss, out_shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Tensor, weight=None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    logp = log_softmax(input, 1 if input.ndim > 1 else 0)
    if target.dtype.kind in "iu":
        return _nll_loss(logp, target, weight, ignore_index, reduction, smoothing=label_smoothing)
    # target holds class probabilities, of the input's shape
    _same_shape(input, target, "cross_entropy")
    n_classes = input.shape[1 if input.ndim > 1 else 0]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
    if weight is not None:
        shape = (1, -1) + (1,) * (input.ndim - 2) if input.ndim > 1 else (-1,)
        logp = logp * reshape(weight, shape)
    loss = -sum(target * logp, 1 if input.ndim > 1 else 0)
    if reduction == "mean" and input.ndim > 1:
        return sum(loss) / (input.numel() // n_classes)
    return _reduce(loss, reduction, "cross_entropy")
