"""Shape ops: they move numbers around without changing them, so each backward moves the gradient back.

- reshape (x: (a, b) → (a·b,)):         ∂L/∂x = reshape(∂L/∂y, x.shape)
- permute by p:                         ∂L/∂x = permute(∂L/∂y, argsort(p))   (the inverse permutation)
- broadcast_to (x: (1, n) → (m, n)):    ∂L/∂x = sum of ∂L/∂y over the copied axes   (= sum_to)
- sum_to (the reverse):                 ∂L/∂x = broadcast_to(∂L/∂y, x.shape)
- x[key]:                               ∂L/∂x = zeros, with ∂L/∂y *added* at key (an index used twice
                                        receives two contributions: scatter-add). Its backward is x[key] again.
                                        Keys follow PyTorch, not NumPy, where they differ: integers beside
                                        index arrays select first (x[0, :, [1, 2]] is (n1, 2), not (2, n1)).
- cat along d:                          ∂L/∂xᵢ = the slice of ∂L/∂y that xᵢ filled
- split / chunk along d:                the pieces are slices x[..., a:b] (views, as in PyTorch), so each piece's
                                        gradient lands in its slice of zeros and the pieces' gradients add up
                                        to cat's: the two are each other's adjoint
- pad:                                  ∂L/∂x = the centre of ∂L/∂y (pad's adjoint is a crop; a negative
                                        width is itself a crop, done with getitem)

Everything else here (view, flatten, squeeze, unsqueeze, expand, transpose, stack, split, chunk) is built from
these.
"""

from __future__ import annotations

import numpy as np

from .. import threads
from ..autograd import Function, Tensor
from ..backend import memory_order, scatter_add, xp_of
from .dtypes import cast, result_dtype


def _dim(dim: int, ndim: int, name: str) -> int:
    """``dim`` in [-ndim, ndim) → its index in [0, ndim) (PyTorch's check: no silent wrap-around)."""
    if not -ndim <= dim < ndim:
        raise IndexError(f"{name}: dim {dim} is out of range for {ndim} dims (expected {-ndim}..{ndim - 1})")
    return dim % ndim


def _shape_arg(shape) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise RuntimeError(f"reshape: shape {self.shape} is invalid for an input of shape {x.shape} "
                               f"({x.size} elements)") from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


def reshape(x: Tensor, *shape) -> Tensor:
    shape = _shape_arg(shape)
    return x if shape == x.shape else Reshape(shape)(x)


view = reshape


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = _dim(start_dim, x.ndim, "flatten"), _dim(end_dim, x.ndim, "flatten")
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    dims = {_dim(d, max(x.ndim, 1), "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    dim = _dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


class Permute(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy):
        return permute(gy, tuple(np.argsort(self.dims)))


def permute(x: Tensor, *dims) -> Tensor:
    dims = tuple(d % x.ndim for d in _shape_arg(dims))
    if sorted(dims) != list(range(x.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    return x if dims == tuple(range(x.ndim)) else Permute(dims)(x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    if x.ndim == 0:  # as in PyTorch, a 0-d tensor accepts dims 0 and -1, and stays as it is
        _dim(dim0, 1, "transpose"), _dim(dim1, 1, "transpose")
        return x
    dims = list(range(x.ndim))
    dim0, dim1 = _dim(dim0, x.ndim, "transpose"), _dim(dim1, x.ndim, "transpose")
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(x, dims)


def movedim(x: Tensor, source: int, destination: int) -> Tensor:
    dims = [d for d in range(x.ndim) if d != source % x.ndim]
    dims.insert(destination % x.ndim, source % x.ndim)
    return permute(x, dims)


def T(x: Tensor) -> Tensor:
    """All dims reversed (for a matrix: the transpose)."""
    return permute(x, tuple(reversed(range(x.ndim))))


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return xp_of(x).broadcast_to(x, self.shape)
        except ValueError:
            raise RuntimeError(f"expand: shape {x.shape} cannot be expanded to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


def _sum_axes(x, axes):
    """x summed over ``axes`` (kept as size 1). A C-contiguous array keeps NumPy's ``sum``, whose pairwise
    additions along the last axis round least. Otherwise, when the summed axes are one block of x's memory, the
    sum is a product with a vector of ones (``_sum_by_product``); else ``einsum``, which streams through memory
    in any order. Both beat ``sum`` on strided axes: a conv's gradient (128, 32, 28, 28), stored channels-last,
    summed to a per-(example, channel) value takes ~0.15 ms as a product, ~0.5 by einsum and ~1.4 by ``sum``
    when it is in cache (in a training step, read from main memory, a product and einsum both take ~0.8 ms)."""
    if x.flags.c_contiguous or x.dtype.kind not in "fc" or not axes:
        return x.sum(axis=axes, keepdims=True)
    keepdims = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    by_product = _sum_by_product(x, axes)
    if by_product is not None:
        return by_product.reshape(keepdims)
    letters = "abcdefghijklmnopqrstuvwxyz"[:x.ndim]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    return xp_of(x).einsum(f"{letters}->{kept}", x).reshape(keepdims)


def _sum_by_product(x, axes):
    """Σ over ``axes`` as ones @ a matrix, when x's memory holds the summed axes as one block: with the axes in
    memory order (largest stride first), x is then (outer, S, inner) without a copy, and the sum over S is
    ones (1, S) @ x (outer, S, inner) → (outer, 1, inner), a batched product BLAS runs at full speed. E.g. a
    channels-last (N, C, H, W) summed over (H, W): memory (N, H, W, C) → (N, H·W, C). Returns the kept axes'
    sums in their original order, or None when the layout does not allow it (then einsum does it)."""
    order = memory_order(x)                                              # axes, outermost in memory first
    view = x.transpose(order)
    if not view.flags.c_contiguous:
        return None
    summed = [k for k, i in enumerate(order) if i in axes]
    if summed != list(range(summed[0], summed[-1] + 1)):                 # summed axes not one block
        return None
    outer = int(np.prod(view.shape[:summed[0]]))
    S = int(np.prod(view.shape[summed[0]:summed[-1] + 1]))
    inner = int(np.prod(view.shape[summed[-1] + 1:]))
    xp = xp_of(x)
    sums = xp.matmul(xp.ones((1, S), x.dtype), view.reshape(outer, S, inner))   # (outer, 1, inner)
    kept_in_memory_order = [i for i in order if i not in axes]
    kept_shape = [x.shape[i] for i in kept_in_memory_order]
    back = tuple(int(i) for i in np.argsort(kept_in_memory_order))     # memory order → original order
    return sums.reshape(kept_shape).transpose(back)


class SumTo(Function):
    """Sum over the axes that broadcasting added or stretched, giving an array of ``shape``."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        lead = x.ndim - len(self.shape)  # leading axes added by broadcasting
        stretched = tuple(lead + i for i, n in enumerate(self.shape) if n == 1 and x.shape[lead + i] != 1)
        return _sum_axes(x, tuple(range(lead)) + stretched).reshape(self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    return x if x.shape == shape else BroadcastTo(shape)(x)


def sum_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    return x if x.shape == shape else SumTo(shape)(x)


def expand(x: Tensor, *sizes) -> Tensor:
    """Broadcast to ``sizes``; -1 keeps that dim (PyTorch's ``expand``)."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape)


# --- Indexing ----------------------------------------------------------------------------------------------
def _is_basic(key) -> bool:
    """True when ``key`` has only ints, slices, None and Ellipsis: each element is picked at most once."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(isinstance(k, (int, np.integer, slice, type(None), type(Ellipsis))) for k in parts)


def _array_key(key, xp):
    """Tensors and lists in an index become arrays of the right module; a 0-d integer array becomes an int
    (PyTorch treats it as one)."""
    def convert(k):
        if isinstance(k, Tensor):
            k = k.data
        elif isinstance(k, list):
            k = xp.asarray(k)
        if getattr(k, "ndim", None) == 0 and k.dtype.kind in "iu":
            return int(k)
        return k
    return tuple(convert(k) for k in key) if isinstance(key, tuple) else convert(key)


class GetItem(Function):
    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.x_shape = x.shape
        return x[self.key]

    def backward(self, gy):
        return IndexAdd(self.key, self.x_shape)(gy)


class IndexAdd(Function):
    """zeros(shape) with ``g`` added at ``key``: the adjoint of x[key]."""

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, g):
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.key):
            out[self.key] = g  # each position at most once: plain assignment
        else:
            scatter_add(out, self.key, g)  # repeated indices must add up
        return out

    def backward(self, gout):
        return getitem(gout, self.key)


def getitem(x: Tensor, key) -> Tensor:
    key = _array_key(key, x.xp)
    parts = key if isinstance(key, tuple) else (key,)
    if not _is_basic(key) and any(isinstance(k, (int, np.integer)) for k in parts):
        # PyTorch applies the integers first (each one selects: its dim goes), then the index arrays to what is
        # left. NumPy counts integers among the index arrays, which moves the result's dims when a slice
        # separates them: x[0, :, [1, 2]] has shape (n1, 2) in PyTorch, (2, n1) in NumPy. So: two steps.
        first, then = [], []
        for k in parts:
            if isinstance(k, (int, np.integer)):
                first.append(k)
            elif isinstance(k, (slice, type(None), type(Ellipsis))):
                first.append(k)
                then.append(Ellipsis if k is Ellipsis else slice(None))  # already applied: keep the dim
            else:  # an index array; a boolean one covers as many dims as it has
                first.extend([slice(None)] * (k.ndim if k.dtype.kind == "b" else 1))
                then.append(k)
        return getitem(getitem(x, tuple(first)), tuple(then))
    return GetItem(key)(x)


# --- Joining and padding ----------------------------------------------------------------------------------
class Cat(Function):
    reads_outputs = False                # backward never calls self.output() (autograd.py)
    keeps_inputs = False                 # backward needs only the sizes (autograd.py)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        self.sizes = [x.shape[self.dim] for x in xs]
        xp = xp_of(xs[0])
        if self.dim == 0:
            return xp.concatenate(xs, axis=0)
        # Joined along a later dim (a U-Net's skip connection: channels), each example's rows are independent:
        # large inputs are copied one range of examples per core (threads.py). The result is laid out like the
        # first input (a conv's channels-last output stays channels-last, as NumPy's own concatenate keeps it).
        shape = xs[0].shape[:self.dim] + (sum(self.sizes),) + xs[0].shape[self.dim + 1:]
        out = xp.empty_like(xs[0], shape=shape)

        def rows(a, b):
            xp.concatenate([x[a:b] for x in xs], axis=self.dim, out=out[a:b])
        threads.over_first_axis(rows, out)
        return out

    def backward(self, gy):
        grads, start = [], 0
        for size in self.sizes:
            index = (slice(None),) * self.dim + (slice(start, start + size),)
            grads.append(getitem(gy, index))
            start += size
        return tuple(grads)


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    dim = _dim(dim, tensors[0].ndim, "cat")
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or t.shape[:dim] + t.shape[dim + 1:] != \
                tensors[0].shape[:dim] + tensors[0].shape[dim + 1:]:
            raise RuntimeError(f"cat: shapes {tensors[0].shape} and {t.shape} differ outside dim {dim}")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = result_dtype(dtype, t.dtype)
    return Cat(dim)(*(cast(t, dtype) for t in tensors))


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """PyTorch's ``split``: pieces of ``split_size_or_sections`` along ``dim`` (the last one smaller when the size
    does not divide), or of the listed sizes, which must add up to the dim's size. A tuple of slices of
    ``tensor`` (views: no copy), each with its own gradient."""
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0 and n != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        count = max(-(-n // size), 1) if size else 1      # ⌈n / size⌉ pieces, at least one
        sizes = [size] * (count - 1) + [n - size * (count - 1)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sizes}")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(tensor, (slice(None),) * d + (slice(start, start + s),)))
        start += s
    return tuple(pieces)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """PyTorch's ``chunk``: ``chunks`` pieces along ``dim`` of ⌈n / chunks⌉ elements each, the last one smaller;
    so possibly *fewer* than ``chunks`` pieces (6 elements in 4 chunks: 2, 2, 2). Views, as ``split``."""
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[_dim(dim, input.ndim, "chunk")]
    if n == 0:                                    # an empty dim: ``chunks`` empty pieces, as PyTorch
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)     # ⌈n / chunks⌉


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if any(t.shape != tensors[0].shape for t in tensors):
        raise RuntimeError(f"stack: expected tensors of one shape, got {[t.shape for t in tensors]}")
    dim = _dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


class Pad(Function):
    def __init__(self, widths, value):
        self.widths, self.value = widths, value  # widths: ((before, after), ...) for every axis

    def forward(self, x):
        return xp_of(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy):
        return getitem(gy, tuple(slice(b, gy.shape[i] - a) for i, (b, a) in enumerate(self.widths)))


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """PyTorch's ``F.pad``: ``pad`` lists (before, after) pairs starting from the *last* dim, and the new
    elements are ``value`` (0 by default). A negative width crops instead, as in PyTorch."""
    x = input
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented; use 'constant'")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise RuntimeError(f"pad: expected an even number of at most {2 * x.ndim} sizes, got {tuple(pad)}")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    widths = tuple([(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1])
    if any(p < 0 for p in pad):  # crop by the negative widths first (a slice), then pad by the others
        x = getitem(x, tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(widths, x.shape)))
        widths = tuple((max(b, 0), max(a, 0)) for b, a in widths)
    return Pad(widths, 0.0 if value is None else value)(x)
