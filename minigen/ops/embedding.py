"""Embedding (``F.embedding``): a lookup table. Row i of ``weight`` (num_embeddings, dim) is the vector of
index i, and integer indices (...) pick rows: y = weight[input] (..., dim).

Backward: the rows that were picked receive the gradient of their outputs, added up where an index appears
more than once (``getitem``'s scatter-add); the other rows receive 0.

``padding_idx`` marks one row as padding (the index of an empty position in a sequence, say): it is looked up
like any other, but receives no gradient, so it stays what it was (``nn.Embedding`` starts it at zeros).
"""

from __future__ import annotations

from ..autograd import Tensor
from .elementwise import where
from .shape import getitem


def _padding_index(padding_idx, num_embeddings: int, name: str):
    """PyTorch's rule: ``padding_idx`` in [−num_embeddings, num_embeddings), a negative one counting from the end."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{name}: padding_idx must lie in [{-num_embeddings}, {num_embeddings}) for "
                         f"{num_embeddings} embeddings, got {padding_idx}")
    return padding_idx % num_embeddings


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``input`` (...) → (..., dim); the row
    ``padding_idx`` (if given) gets no gradient."""
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected integer indices, got dtype {input.dtype}")
    padding_idx = _padding_index(padding_idx, weight.shape[0], "embedding")
    out = getitem(weight, input.data)                                  # (..., dim)
    if padding_idx is None or not weight.requires_grad:
        return out
    # the same values, but where the index is padding_idx taken from the weight cut from the graph: no gradient
    # reaches that row through them
    is_padding = Tensor((input.data == padding_idx)[..., None])        # (..., 1), broadcast over dim
    return where(is_padding, getitem(weight.detach(), input.data), out)
