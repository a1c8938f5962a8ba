"""Scaled dot-product attention (``F.scaled_dot_product_attention``), the core of a transformer block.

Each of L queries qᵢ (a row of Q, shape (..., L, E)) looks at S keys kⱼ (K, (..., S, E)) and takes a weighted
average of their values vⱼ (V, (..., S, Ev)), the weights a softmax of the scaled dot products:

    A = softmax(Q Kᵀ · s + M)   (..., L, S), each row sums to 1,   s = 1/√E unless ``scale`` is given
    out = A V                   (..., L, Ev)

The scale keeps the logits' variance near 1 when q and k have independent unit-variance entries (a dot product of
E such terms has variance E), so the softmax does not saturate as E grows. The mask M says what each query may
look at: a boolean ``attn_mask`` is True where a query *may* attend (−∞ is added elsewhere, so that weight is
exactly 0); a float mask is added to the logits as it is; ``is_causal`` lets query i see keys j ≤ i only (the
lower-left triangle of an L × S grid, as PyTorch). Leading dims (batch, heads) broadcast. ``dropout_p`` drops
weights of A with the seeded generator (PyTorch applies it whatever the mode: pass 0 in eval).

It is composed of matmul, where, softmax and dropout, so its gradients and their gradients come from theirs:
with P = A ⊙ ∂L/∂A summed over each row,
    ∂L/∂V = Aᵀ ∂L/∂out,   ∂L/∂A = ∂L/∂out Vᵀ,   ∂L/∂logits = A ⊙ ∂L/∂A − A · P,
    ∂L/∂Q = s · ∂L/∂logits K,   ∂L/∂K = s · (∂L/∂logits)ᵀ Q.
A query whose keys are all masked (every logit −∞) would get 0/0; as PyTorch, its row of A is 0 instead (so its
output is 0 and no gradient flows through it).
"""

from __future__ import annotations

import math

from ..autograd import Tensor
from .activation import softmax
from .dropout import dropout
from .elementwise import where
from .linalg import matmul
from .shape import transpose


def _check_shapes(query, key, value):
    def fail(why):
        raise RuntimeError(f"scaled_dot_product_attention: query of shape {query.shape}, key of shape {key.shape} "
                           f"and value of shape {value.shape}: {why}")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        fail("expected query (..., L, E), key (..., S, E) and value (..., S, Ev)")
    if query.shape[-1] != key.shape[-1]:
        fail(f"query and key differ in the embedding size ({query.shape[-1]} vs {key.shape[-1]})")
    if key.shape[-2] != value.shape[-2]:
        fail(f"key and value differ in the number of keys ({key.shape[-2]} vs {value.shape[-2]})")
    try:
        query.xp.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        fail("their batch dims cannot be broadcast together")


def _safe_softmax(logits: Tensor) -> Tensor:
    """softmax over the last dim, with 0 for the rows that are −∞ throughout (PyTorch's rule)."""
    dead = Tensor((logits.data == float("-inf")).all(axis=-1, keepdims=True))    # (..., L, 1)
    logits = where(dead, 0.0, logits)  # finite everywhere, so neither the forward nor the backward makes a NaN
    return where(dead, 0.0, softmax(logits, -1))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None, enable_gqa: bool = False) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V over the last two dims; see the module docstring for the mask rules."""
    _check_shapes(query, key, value)
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa=True (grouped-query attention)")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    L, S = query.shape[-2], key.shape[-2]
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    logits = matmul(query, transpose(key, -2, -1)) * scale                          # (..., L, S)
    if is_causal:
        attn_mask = Tensor(query.xp.tri(L, S, dtype=bool))                          # key j ≤ query i
    if attn_mask is not None:
        if attn_mask.dtype == bool:
            logits = where(attn_mask, logits, float("-inf"))
        else:
            logits = logits + attn_mask
    weights = softmax(logits, -1) if attn_mask is None or is_causal else _safe_softmax(logits)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return matmul(weights, value)                                                   # (..., L, Ev)
