"""Losses, composed from checked ops so their gradients (and gradients of gradients) come for free.

With p = input probabilities, t = targets, z = logits:

    mse_loss                    (x − t)²
    binary_cross_entropy        −[t·log p + (1 − t)·log(1 − p)], each log clamped at −100 as in PyTorch
    ..._with_logits             (1 − t)·z + w·softplus(−z),  w = 1 + (pos_weight − 1)·t
                                (the logits form: never log(0), the stable choice for GANs and VAEs)
    nll_loss                    −w[tᵢ] · inputᵢ[tᵢ]   (input holds log-probabilities)
    cross_entropy               nll_loss(log_softmax(z)), with label smoothing; or −Σ t·log_softmax(z)
                                when t holds class probabilities

``reduction``: 'none' keeps one loss per element, 'sum' adds them, 'mean' divides by the count, or for the
class losses with a ``weight`` by the total weight of the targets (PyTorch's definition).
"""

from __future__ import annotations

from ..autograd import Tensor
from .activation import Softplus, log_softmax
from .elementwise import clamp, log, where
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


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None, reduction: str = "mean") -> Tensor:
    _same_shape(input, target, "binary_cross_entropy")
    if ((input.data < 0) | (input.data > 1)).any():
        raise RuntimeError("binary_cross_entropy: input values must lie in [0, 1] (probabilities); "
                           "for logits use binary_cross_entropy_with_logits")
    loss = -(target * clamp(log(input), min=-100.0) + (1.0 - target) * clamp(log(1.0 - input), min=-100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def _softplus(z: Tensor) -> Tensor:
    return Softplus(1.0, None)(z)  # no linear cut-off: exact for every z


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    if pos_weight is None:
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


def nll_loss(input: Tensor, target: Tensor, weight=None, ignore_index: int = -100, reduction: str = "mean",
             _smooth: float = 0.0) -> Tensor:
    out_shape = target.shape
    logp, t = _class_last(input, target, "nll_loss")
    xp = logp.xp
    t = t.data.astype("int64")
    keep = t != ignore_index
    n_classes = logp.shape[1]
    if ((t[keep] < 0) | (t[keep] >= n_classes)).any():
        raise IndexError(f"nll_loss: target values must lie in [0, {n_classes}), got {t[keep].min()}..{t[keep].max()}")
    safe_t = xp.where(keep, t, 0)
    w_class = weight.data.astype(logp.dtype) if weight is not None else xp.ones(n_classes, logp.dtype)
    w = Tensor(w_class[safe_t] * keep)  # the weight of each target, 0 where ignored
    picked = getitem(logp, (xp.arange(logp.shape[0]), safe_t))  # logpᵢ[tᵢ] → (M,)
    loss = -w * picked
    if _smooth:
        # label smoothing: mix in the loss against the uniform distribution, −Σ_c w_c log p_c / C
        smooth = -sum(logp * Tensor(w_class), 1) / n_classes * Tensor(keep.astype(logp.dtype))
        loss = (1.0 - _smooth) * loss + _smooth * smooth
    if reduction == "mean":
        return sum(loss) / sum(w)
    if reduction == "none":
        return reshape(loss, out_shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Tensor, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    logp = log_softmax(input, 1 if input.ndim > 1 else 0)
    if target.dtype.kind in "iu":
        return nll_loss(logp, target, weight, ignore_index, reduction, _smooth=label_smoothing)
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
