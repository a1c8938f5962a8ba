"""Dropout (``F.dropout``): during training zero each element with probability p and scale the survivors by
1/(1 − p), so the expected value of every element is unchanged:

    y = x · m / (1 − p),   m ~ Bernoulli(1 − p) elementwise        ∂L/∂x = ∂L/∂y · m / (1 − p)

The scaled mask is a constant of the graph, so the backward is one multiplication and can be differentiated
again. The mask comes from the seeded generator of the tensor's device (``backend.generator``): the same seed
drops the same elements of an input stored the same way. The random numbers are laid out in x's memory order
(a conv's output is channels-last): multiplying arrays stored in two different orders took 5× as long as
multiplying two stored alike. Outside training (``training=False``) dropout is the identity.
"""

from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor


class Dropout(Function):
    def __init__(self, keep):
        self.keep = keep  # the scaled mask: 0 or 1/(1 − p), a constant

    def forward(self, x):
        return x * self.keep

    def backward(self, g):
        return g * Tensor(self.keep)


def _uniform_like(x: Tensor):
    """Uniform numbers in [0, 1) of x's shape, stored in x's memory order (its axes by decreasing stride)."""
    order = backend.memory_order(x.data)                                           # outermost in memory first
    back = tuple(sorted(range(x.ndim), key=lambda i: order[i]))                    # its inverse permutation
    u = backend.generator(x.device).random(tuple(x.shape[i] for i in order), dtype=x.dtype)
    return u.transpose(back)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) when ``training``; else the
    identity. ``inplace`` is accepted, as in PyTorch, and ignored (a new tensor is returned)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    u = _uniform_like(input)                                                    # uniform in [0, 1)
    keep = (u >= p).astype(input.dtype) * input.dtype.type(1 / (1 - p))
    return Dropout(keep)(input)
