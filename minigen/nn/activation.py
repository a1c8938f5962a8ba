"""Activation layers that U-Nets and transformers use, ``SiLU`` and ``GELU``, and ``MultiheadAttention`` (PyTorch's
names, arguments, parameters and state_dict keys; PyTorch keeps them in one file too).

MultiheadAttention with H heads of size D = E/H: project the inputs, split the projections into heads, attend in
each head (``F.scaled_dot_product_attention``), join the heads and project once more:
    Q = query W_qᵀ + b_q,  K = key W_kᵀ + b_k,  V = value W_vᵀ + b_v      (W_q, W_k, W_v: the three (E, E) blocks
                                                                         of ``in_proj_weight``, (3E, E))
    headₕ = softmax(Qₕ Kₕᵀ/√D + M) Vₕ      Qₕ: the h-th block of D columns of Q
    out = [head₁ … head_H] W_oᵀ + b_o      (``out_proj``, a Linear E → E)
Masks follow ``nn.MultiheadAttention``'s convention, the opposite of ``F.scaled_dot_product_attention``'s: a True
in a boolean ``key_padding_mask`` (N, S) or ``attn_mask`` (L, S) or (N·H, L, S) means *do not attend*, and both
become −∞ (float masks are added as they are) before they are summed into M.
"""

from __future__ import annotations

import math

from .. import creation
from ..autograd import Tensor
from . import functional as F
from . import init
from .layers import Layer, Linear
from .module import Parameter


class SiLU(Layer):
    """x·σ(x) elementwise (``F.silu``, also called swish). ``inplace``: accepted, as in PyTorch, and ignored.

    Shape: any; the output has the input's shape.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return F.silu(x)


class GELU(Layer):
    """x·Φ(x) elementwise, Φ the standard normal distribution function (``F.gelu``); ``approximate='tanh'`` uses
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))).

    Shape: any; the output has the input's shape.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


def _additive(mask, like: Tensor):
    """A mask where True means *do not attend* as an additive float mask (0 or −∞); a float mask as it is."""
    if mask is None or mask.dtype != bool:
        return mask
    xp = like.xp
    return Tensor(xp.where(mask.data, -xp.inf, 0).astype(like.dtype))


class MultiheadAttention(Layer):
    """Multi-head attention (see the module docstring for the computation and the masks).

    Args:
        embed_dim: E, the size of each query (and of the output); num_heads: H, which must divide E.
        dropout: probability of dropping attention weights in training (default 0).
        bias: learn ``in_proj_bias`` and ``out_proj.bias`` (default True, both start at 0).
        kdim, vdim: sizes of the keys and values (default E); when they differ from E the projections are kept
            apart, as ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim) and ``v_proj_weight`` (E, vdim).
        batch_first: inputs and output are (N, L, E) instead of (L, N, E) (default False).
        add_bias_kv, add_zero_attn: PyTorch's extra key/value rows; not implemented (NotImplementedError).
        device, dtype: where and how the parameters are created.

    Parameters: ``in_proj_weight`` (3E, E) Xavier-uniform, ``in_proj_bias`` (3E,), ``out_proj`` (Linear E → E,
    bias 0), as PyTorch.

    Shape: query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first: (N, L, E)...; unbatched:
    (L, E)...) → output like query, and the attention weights (N, L, S) averaged over heads, (N, H, L, S) with
    ``average_attn_weights=False``, or None with ``need_weights=False``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not implemented")
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        make = dict(device=device, dtype=dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **make))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **make))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **make))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **make))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **make))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **make)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self):
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

    def _projections(self, query, key, value):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = w[:E], w[E:2 * E], w[2 * E:]
        else:
            weights = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        biases = (b[:E], b[E:2 * E], b[2 * E:]) if b is not None else (None,) * 3
        return [F.linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases)]

    def _check(self, query, key, value, batched):
        nd = 3 if batched else 2
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        for name, t, size in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if t.ndim != nd or t.shape[-1] != size:
                raise RuntimeError(f"{self.signature()}: expected query, key and value of shape {layout} or "
                                   f"unbatched (L, E) with {name}'s last dim {size}, got shapes {query.shape}, "
                                   f"{key.shape} and {value.shape}")
        same = (lambda a, b: a == b) if batched else (lambda a, b: True)
        n_axis = 0 if self.batch_first else 1
        if batched and not query.shape[n_axis] == key.shape[n_axis] == value.shape[n_axis] or \
                not same(key.shape[:-1], value.shape[:-1]) or (not batched and key.shape[0] != value.shape[0]):
            raise RuntimeError(f"{self.signature()}: query, key and value of shapes {query.shape}, {key.shape} "
                               f"and {value.shape} differ in their batch size or number of keys")

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        batched = query.ndim == 3
        self._check(query, key, value, batched)
        if is_causal and attn_mask is None:  # PyTorch's rule: is_causal is only a hint that attn_mask is causal
            raise RuntimeError(f"{self.signature()}: is_causal=True needs the causal attn_mask too")
        if not batched:  # one sequence: a batch of one
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            key_padding_mask = key_padding_mask.unsqueeze(0) if key_padding_mask is not None else None
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        (N, L, E), S, H, D = query.shape, key.shape[1], self.num_heads, self.head_dim
        q, k, v = (t.reshape(N, -1, H, D).transpose(1, 2) for t in self._projections(query, key, value))
        mask = _additive(attn_mask, q)                                              # (L, S) or (N·H, L, S)
        if mask is not None:
            mask = mask.reshape(N, H, L, S) if mask.ndim == 3 else mask
        padding = _additive(key_padding_mask, q)                                    # (N, S)
        if padding is not None:
            padding = padding.reshape(N, 1, 1, S)
            mask = padding if mask is None else mask + padding                     # (N, H, L, S)
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:  # the weights, explicitly
            logits = q @ k.transpose(-2, -1) * (1 / math.sqrt(D))                  # (N, H, L, S)
            weights = F.softmax(logits + mask if mask is not None else logits, -1)
            weights = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
            out = weights @ v                                                       # (N, H, L, D)
            weights = weights.mean(1) if average_attn_weights else weights
            weights = weights if batched else weights[0]
        else:
            out = F.scaled_dot_product_attention(q, k, v, mask, dropout_p)
        out = self.out_proj(out.transpose(1, 2).reshape(N, L, E))                  # heads joined: (N, L, E)
        if not batched:
            out = out[0]
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights
