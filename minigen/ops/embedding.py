"""Embedding (``F.embedding``): a lookup table. Row i of ``weight`` (num_embeddings, dim) is the vector of
index i, and integer indices (...) pick rows: y = weight[input] (..., dim).

Backward: the rows that were picked receive the gradient of their outputs, added up where an index appears
more than once (``getitem``'s scatter-add); the other rows receive 0.
"""

from __future__ import annotations

from ..autograd import Tensor
from .shape import getitem


def embedding(input: Tensor, weight: Tensor, padding_idx=None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``input`` (...) → (..., dim)."""
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected integer indices, got dtype {input.dtype}")
    return getitem(weight, input.data)
