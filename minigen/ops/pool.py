"""Pooling and resizing (NCHW): max_pool2d, avg_pool2d, interpolate, with PyTorch's semantics.

A pooling window of kh×kw taps slides over the padded image like a convolution kernel (stride s, padding p,
dilation d); tap (i, j) of window (a, b) reads pixel (a·s + i·d − p, b·s + j·d − p). As in conv.py, each
operation is a loop over the kh·kw taps, each touching one strided slice of the image (no window copies).

    Ho = ⌊(H + 2p − d·(kh − 1) − 1) / s⌋ + 1          (ceil_mode: ⌈…⌉, but a window must start inside the
                                                       image or its left padding, PyTorch's rule)

**Max pooling** picks one element per window: y[a, b] = x̃[a·s + i*·d, b·s + j*·d], where (i*, j*) is the
tap holding the maximum (padding counts as −∞). A pick is linear in x for a fixed choice, so

    ∂L/∂x = scatter(∂L/∂y): each window sends its gradient to the element it picked, and an element picked by
            several overlapping windows receives the sum.

Ties: the gradient goes to the *first* maximal tap in the window, scanning rows then columns (PyTorch's
rule; a NaN counts as the maximum). Scatter is linear too, and its adjoint is the pick with the same choices,
so the pair (pick, scatter) closes and max pooling can be differentiated twice.

**Average pooling** y[a, b] = (Σ_taps x̃[…]) / n(a, b), linear in x; its adjoint spreads ∂L/∂y[a, b] / n(a, b)
over the window, and the adjoint of that is the average pooling again. The divisor n(a, b) is PyTorch's: the
window size clipped to the padded image (count_include_pad=True), or the number of real pixels under the
window (count_include_pad=False), or ``divisor_override``.

**Interpolation** (resizing) is separable and linear: y = A · x · Bᵀ, with A (Ho, H) mixing rows and B (Wo, W)
mixing columns. The gradient is ∂L/∂x = Aᵀ · ∂L/∂y · B, whose own gradient is the resize again.

- 'nearest' has one 1 per row of A (source index ⌊o · H/Ho⌋, as PyTorch computes it): the forward copies the
  chosen rows and columns, and Aᵀ · ∂L/∂y · B sums the gradients of every copy of a pixel (for a whole-number
  factor k, a reshape to (.., H, k, W, k) and a sum; otherwise a scatter-add), never a product by zeros.
- 'bilinear' has two weights per row, 1 − λ and λ around the source coordinate; the adjoint multiplies by the
  transposed weights.

Resize-then-conv is the usual cure for the checkerboard artifacts of transposed convolutions.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd import Function, Tensor
from ..backend import scatter_add, xp_of
from .conv import _pair
from .shape import squeeze, unsqueeze


# --- Windows -----------------------------------------------------------------------------------------------
def _pool_output_size(size, kernel, stride, padding, dilation, ceil_mode) -> int:
    """PyTorch's pooling_output_shape."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window would start in the right padding: drop it
    return out


class Windows:
    """Where the pooling windows are: kernel, stride, padding, dilation (pairs), input and output sizes."""

    def __init__(self, op, x, kernel_size, stride, padding, dilation, ceil_mode):
        self.kernel = _pair(kernel_size, "kernel_size", op, 1)
        self.stride = self.kernel if stride is None or stride == () or stride == [] else \
            _pair(stride, "stride", op, 1)
        self.padding = _pair(padding, "padding", op, 0)
        self.dilation = _pair(dilation, "dilation", op, 1)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel)):
            raise ValueError(f"{op}: padding should be at most half of the kernel size, got padding={padding} "
                             f"with kernel_size={self.kernel}")
        self.in_hw = tuple(x.shape[-2:])
        self.out_hw = tuple(_pool_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in
                            zip(self.in_hw, self.kernel, self.stride, self.padding, self.dilation))
        if min(self.out_hw) <= 0:
            raise RuntimeError(
                f"{op}: the output would be empty ({self.out_hw[0]}×{self.out_hw[1]}): input {x.shape} with "
                f"kernel_size={self.kernel}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}: the padded input must be at least the (dilated) kernel")
        # the padded image x̃: tall enough for the last window (ceil_mode may reach past the padding)
        self.padded_hw = tuple(max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1) for n, p, o, s, d, k in
                               zip(self.in_hw, self.padding, self.out_hw, self.stride, self.dilation, self.kernel))

    def taps(self):
        """(tap number, rows, columns) for each kernel tap: the slice of x̃ it reads, one pixel per window."""
        (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = self.kernel, self.stride, self.dilation, self.out_hw
        for i in range(kh):
            for j in range(kw):
                yield i * kw + j, slice(i * dh, i * dh + (Ho - 1) * sh + 1, sh), \
                    slice(j * dw, j * dw + (Wo - 1) * sw + 1, sw)

    def first_inside(self):
        """(Ho, Wo): the first tap of each window that falls inside the image (0 if none does)."""
        first = np.full(self.out_hw, -1, dtype=np.int64)
        (H, W), (ph, pw), (Ho, Wo) = self.in_hw, self.padding, self.out_hw
        for tap, rows, cols in self.taps():
            r = np.arange(rows.start, rows.stop, rows.step)[:Ho] - ph
            c = np.arange(cols.start, cols.stop, cols.step)[:Wo] - pw
            inside = ((r >= 0) & (r < H))[:, None] & ((c >= 0) & (c < W))[None, :]
            first[(first < 0) & inside] = tap
        return np.maximum(first, 0)

    def pad(self, x, fill):
        """x (N, C, H, W) → x̃ (N, C, Hp, Wp) filled with ``fill`` outside the image."""
        xp = xp_of(x)
        (H, W), (ph, pw) = self.in_hw, self.padding
        padded = xp.full(x.shape[:2] + self.padded_hw, fill, dtype=x.dtype)
        padded[:, :, ph:ph + H, pw:pw + W] = x
        return padded

    def crop(self, padded):
        (H, W), (ph, pw) = self.in_hw, self.padding
        return xp_of(padded).ascontiguousarray(padded[:, :, ph:ph + H, pw:pw + W])


def _unbatched(fn):
    """Accept a (C, H, W) input as PyTorch does."""
    @functools.wraps(fn)
    def wrapper(input, *args, **kwargs):
        if isinstance(input, Tensor) and input.ndim == 3:
            out = fn(unsqueeze(input, 0), *args, **kwargs)
            return tuple(squeeze(t, 0) for t in out) if isinstance(out, tuple) else squeeze(out, 0)
        if not isinstance(input, Tensor) or input.ndim != 4:
            raise RuntimeError(f"{fn.__name__}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                               f"shape {getattr(input, 'shape', None)}")
        return fn(input, *args, **kwargs)
    return wrapper


# --- Max pooling: pick and scatter -------------------------------------------------------------------------
class WindowPick(Function):
    """y[n, c, a, b] = x̃[n, c, tap chosen[n, c, a, b] of window (a, b)]."""

    def __init__(self, windows: Windows, chosen):
        self.windows, self.chosen = windows, chosen  # chosen: (N, C, Ho, Wo) tap numbers

    def forward(self, x):
        padded = self.windows.pad(x, 0)
        y = xp_of(x).zeros(x.shape[:2] + self.windows.out_hw, dtype=x.dtype)
        for tap, rows, cols in self.windows.taps():
            xp_of(x).copyto(y, padded[:, :, rows, cols], where=self.chosen == tap)
        return y

    def backward(self, g):
        return WindowScatter(self.windows, self.chosen)(g)


class WindowScatter(Function):
    """The adjoint of WindowPick: each window adds its value into the pixel it picked."""

    def __init__(self, windows: Windows, chosen):
        self.windows, self.chosen = windows, chosen

    def forward(self, g):
        xp = xp_of(g)
        padded = xp.zeros(g.shape[:2] + self.windows.padded_hw, dtype=g.dtype)
        for tap, rows, cols in self.windows.taps():
            padded[:, :, rows, cols] += xp.where(self.chosen == tap, g, 0)  # one pass per tap: no collisions
        return self.windows.crop(padded)

    def backward(self, gg):
        return WindowPick(self.windows, self.chosen)(gg)


class MaxPool2d(WindowPick):
    """WindowPick whose choice is the first maximum of each window, found in the forward."""

    def __init__(self, windows: Windows):
        super().__init__(windows, None)

    def forward(self, x):
        xp = xp_of(x)
        padded = self.windows.pad(x, -np.inf)
        best, chosen = None, None
        for tap, rows, cols in self.windows.taps():
            v = padded[:, :, rows, cols]                                  # (N, C, Ho, Wo): this tap everywhere
            if best is None:
                best, chosen = v.copy(), xp.zeros(v.shape, dtype=np.int64)
                continue
            better = (v > best) | xp.isnan(v)    # strictly greater: the first maximum wins (NaN wins, as torch)
            xp.copyto(best, v, where=better)
            chosen[better] = tap
        if any(self.windows.padding):
            # a window whose maximum is −∞ picks its first *real* pixel, never the padding (as PyTorch)
            xp.copyto(chosen, xp.asarray(self.windows.first_inside()), where=best == -np.inf)
        self.chosen = chosen
        return best

    def indices(self):
        """PyTorch's return_indices: the flat index h·W + w of each picked pixel in its (unpadded) image."""
        w = self.windows
        (_, kw), (sh, sw), (dh, dw), (ph, pw), (Ho, Wo) = w.kernel, w.stride, w.dilation, w.padding, w.out_hw
        xp = xp_of(self.chosen)
        rows = xp.arange(Ho).reshape(-1, 1) * sh + (self.chosen // kw) * dh - ph
        cols = xp.arange(Wo) * sw + (self.chosen % kw) * dw - pw
        return rows * w.in_hw[1] + cols


@_unbatched
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max pooling, PyTorch's ``F.max_pool2d`` (stride defaults to kernel_size; padding ≤ kernel_size/2 and
    counts as −∞). The gradient goes to the first maximum of each window (row-major scan), as in PyTorch.
    With ``return_indices`` also returns the int64 flat indices (h·W + w) of the maxima."""
    if input.dtype.kind != "f":
        raise TypeError(f"max_pool2d: expected a floating-point input, got dtype {input.dtype}")
    fn = MaxPool2d(Windows("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode))
    y = fn(input)
    return (y, Tensor(fn.indices())) if return_indices else y


# --- Average pooling: sum over the window, divided -----------------------------------------------------------
def _avg_divisor(w: Windows, count_include_pad: bool, divisor_override, dtype, xp):
    """n(a, b) as PyTorch counts it, shape (Ho, Wo)."""
    if divisor_override:
        return xp.full(w.out_hw, divisor_override, dtype=dtype)
    counts = []
    for n, k, s, p, o in zip(w.in_hw, w.kernel, w.stride, w.padding, w.out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)           # clipped to the padded image
        size = end - start                            # count_include_pad=True counts padding inside it
        real = np.minimum(end, n) - np.maximum(start, 0)  # real pixels only
        counts.append(size if count_include_pad else real)
    return xp.asarray(np.outer(counts[0], counts[1]).astype(dtype))


class AvgPool2d(Function):
    def __init__(self, windows: Windows, divisor):
        self.windows, self.divisor = windows, divisor

    def forward(self, x):
        padded = self.windows.pad(x, 0)
        total = xp_of(x).zeros(x.shape[:2] + self.windows.out_hw, dtype=x.dtype)
        for _, rows, cols in self.windows.taps():
            total += padded[:, :, rows, cols]
        return total / self.divisor

    def backward(self, g):
        return AvgPool2dAdjoint(self.windows, self.divisor)(g)


class AvgPool2dAdjoint(Function):
    """Spread g[a, b] / n(a, b) over window (a, b); the adjoint (and gradient) of AvgPool2d."""

    def __init__(self, windows: Windows, divisor):
        self.windows, self.divisor = windows, divisor

    def forward(self, g):
        share = g / self.divisor
        padded = xp_of(g).zeros(g.shape[:2] + self.windows.padded_hw, dtype=g.dtype)
        for _, rows, cols in self.windows.taps():
            padded[:, :, rows, cols] += share
        return self.windows.crop(padded)

    def backward(self, gg):
        return AvgPool2d(self.windows, self.divisor)(gg)


@_unbatched
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Average pooling, PyTorch's ``F.avg_pool2d`` (stride defaults to kernel_size; padding ≤ kernel_size/2)."""
    if input.dtype.kind != "f":
        raise TypeError(f"avg_pool2d: expected a floating-point input, got dtype {input.dtype}")
    windows = Windows("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _avg_divisor(windows, count_include_pad, divisor_override, input.dtype, input.xp)
    return AvgPool2d(windows, divisor)(input)


# --- Interpolation: y = A x Bᵀ -----------------------------------------------------------------------------
def _nearest_index(n_in: int, n_out: int, scale) -> np.ndarray:
    """Source index of each output position for mode='nearest', computed as PyTorch does (in float32):
    ⌊o · s⌋ with s = 1/scale_factor when one is given, else n_in/n_out; clipped to the last pixel."""
    if n_out == n_in:
        return np.arange(n_out)
    if n_out == 2 * n_in:
        return np.arange(n_out) // 2
    step = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    src = np.floor(np.arange(n_out, dtype=np.float32) * step).astype(np.int64)
    return np.minimum(src, n_in - 1)


def _linear_weights(n_in: int, n_out: int, scale, align_corners: bool, dtype) -> np.ndarray:
    """A (n_out, n_in) for 'bilinear' along one axis: row o holds 1 − λ at ⌊src⌋ and λ at ⌊src⌋ + 1.

    The source coordinate is PyTorch's area_pixel_compute_source_index, in the input's precision:
    align_corners=True puts the corner pixels' centres on each other, src = o · (n_in − 1)/(n_out − 1);
    False (half-pixel) lines up the pixel *edges*, src = (o + ½) · s − ½ clamped at 0, with
    s = 1/scale_factor when one is given, else n_in/n_out."""
    t = np.dtype(dtype).type
    rows = np.arange(n_out)
    if align_corners:
        step = t(n_in - 1) / t(n_out - 1) if n_out > 1 else t(0)
        src = step * rows.astype(dtype)
    else:
        step = t(1.0 / scale) if scale else t(n_in) / t(n_out)
        src = np.maximum(step * (rows.astype(dtype) + t(0.5)) - t(0.5), t(0))
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = (src - i0).astype(dtype)
    A = np.zeros((n_out, n_in), dtype=dtype)
    np.add.at(A, (rows, i0), 1 - lam)            # i1 = i0 on the last pixel: the two weights add up to 1
    np.add.at(A, (rows, i1), lam)
    return A


# 'nearest': a copy, and its adjoint a sum over the copies -------------------------------------------------
class Nearest:
    """Which input pixel each output pixel copies: ``rows`` (Ho,) and ``cols`` (Wo,) index arrays, and for each
    axis the whole-number factor k when the copies are k consecutive repeats of every pixel (o // k), which
    lets the adjoint sum them with a reshape instead of a scatter."""

    def __init__(self, in_hw, rows: np.ndarray, cols: np.ndarray, xp):
        self.in_hw = tuple(in_hw)
        self.factors = tuple(len(i) // n if len(i) % n == 0 and np.array_equal(i, np.arange(len(i)) // (len(i) // n))
                             else None for i, n in zip((rows, cols), in_hw))
        self.rows, self.cols = xp.asarray(rows), xp.asarray(cols)


class ResizeNearest(Function):
    """y[.., a, b] = x[.., rows[a], cols[b]]: a copy (inf and NaN stay exactly where they were)."""
    reads_outputs = False                # backward never calls self.output() (autograd.py)
    keeps_inputs = False                 # backward needs only the indices (autograd.py)

    def __init__(self, nearest: Nearest):
        self.nearest = nearest

    def forward(self, x):
        fh, fw = self.nearest.factors
        if x.ndim == 4 and fh is not None and fw is not None:
            # whole-number factors (the U-Net's ×2): every pixel repeated fh × fw times, written in one
            # broadcast copy into channels-last memory, the layout the conv that follows reads fastest
            N, C, H, W = x.shape
            y = xp_of(x).empty((N, H, fh, W, fw, C), dtype=x.dtype)
            y[...] = x.transpose(0, 2, 3, 1)[:, :, None, :, None, :]
            return y.reshape(N, H * fh, W * fw, C).transpose(0, 3, 1, 2)   # (N, C, fh·H, fw·W), a view
        return x.take(self.nearest.rows, axis=2).take(self.nearest.cols, axis=3)

    def backward(self, g):
        return ResizeNearestAdjoint(self.nearest)(g)


def _sum_copies(g, index, factor, n: int, axis: int):
    """Along ``axis``: x̄[i] = Σ_{o : index[o] = i} g[o], the adjoint of ``take(index)``."""
    if factor is not None:                                   # k repeats of each pixel: (.., n, k, ..) summed over k
        shape = g.shape[:axis] + (n, factor) + g.shape[axis + 1:]
        return g.reshape(shape).sum(axis=axis + 1)
    out = xp_of(g).zeros(g.shape[:axis] + (n,) + g.shape[axis + 1:], dtype=g.dtype)
    scatter_add(out, (slice(None),) * axis + (index,), g)    # a pixel copied twice receives both gradients
    return out


class ResizeNearestAdjoint(Function):
    """x̄ (N, C, H, W) ← ȳ (N, C, Ho, Wo): each input pixel receives the sum of the gradients of its copies (none,
    when downsampling skips it). Linear, and its adjoint is the copy again."""

    def __init__(self, nearest: Nearest):
        self.nearest = nearest

    def forward(self, g):
        (H, W), (fh, fw), nearest = self.nearest.in_hw, self.nearest.factors, self.nearest
        if g.ndim == 4 and fh is not None and fw is not None:
            # whole-number factors: the fh × fw copies of each pixel summed in one pass, in whatever order g's
            # memory is (einsum streams through it; a channels-last g gives a channels-last x̄)
            N, C = g.shape[:2]
            blocks = g.reshape(N, C, H, fh, W, fw) if g.flags.c_contiguous else \
                g.transpose(0, 2, 3, 1).reshape(N, H, fh, W, fw, C).transpose(0, 5, 1, 2, 3, 4)
            return xp_of(g).einsum("nchawb->nchw", blocks)
        return _sum_copies(_sum_copies(g, nearest.cols, fw, W, 3), nearest.rows, fh, H, 2)

    def backward(self, gg):
        return ResizeNearest(self.nearest)(gg)


# 'bilinear': y = A x Bᵀ, and its adjoint x̄ = Aᵀ ȳ B ------------------------------------------------------
def _sandwich(A, x, B):
    """A · x · Bᵀ for every image of x (N, C, H, W), as two large matrix products (not N·C small ones)."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    t = (x.reshape(-1, W) @ B.T).reshape(N, C, H, B.shape[0])        # mix columns: (N·C·H, W) @ (W, Wo)
    t = xp.ascontiguousarray(t.transpose(0, 1, 3, 2))                # → (N, C, Wo, H)
    t = (t.reshape(-1, H) @ A.T).reshape(N, C, B.shape[0], A.shape[0])  # mix rows: (N·C·Wo, H) @ (H, Ho)
    return xp.ascontiguousarray(t.transpose(0, 1, 3, 2))             # → (N, C, Ho, Wo)


class ResizeBilinear(Function):
    """y = A · x · Bᵀ on the last two axes: A (Ho, H) mixes rows, B (Wo, W) columns, two weights per row each."""

    def __init__(self, A, B):
        self.A, self.B = A, B

    def forward(self, x):
        return _sandwich(self.A, x, self.B)

    def backward(self, g):
        return ResizeBilinearAdjoint(self.A, self.B)(g)


class ResizeBilinearAdjoint(Function):
    """x̄ = Aᵀ · ȳ · B (the transposed weights): each input pixel collects the gradients of the outputs it
    contributed to, each times its weight there."""

    def __init__(self, A, B):
        self.A, self.B = A, B

    def forward(self, g):
        return _sandwich(self.A.T, g, self.B.T)                        # Aᵀ (H, Ho), g (N, C, Ho, Wo), Bᵀ (W, Wo)

    def backward(self, gg):
        return ResizeBilinear(self.A, self.B)(gg)


def _output_size(input, size, scale_factor, recompute_scale_factor):
    """((Ho, Wo), (scale_h, scale_w)): the output size, and the scales the coordinates use (None: n_in/n_out)."""
    H, W = input.shape[2:]
    if size is None and scale_factor is None:
        raise ValueError(f"interpolate: give exactly one of size and scale_factor (input {input.shape}): "
                         "either size or scale_factor should be defined")
    if size is not None and scale_factor is not None:
        raise ValueError(f"interpolate: give exactly one of size and scale_factor (input {input.shape}, size={size!r}, "
                         f"scale_factor={scale_factor!r})")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        if isinstance(size, (tuple, list)) and len(size) != 2:
            raise ValueError(f"interpolate: input {input.shape} has 2 spatial dims, got size={size!r}")
        out_hw, scales = _pair(size, "size", "interpolate", 0), (None, None)
    else:
        scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
        if len(scales) != 2 or any(not s > 0 for s in scales):
            raise ValueError(f"interpolate: input {input.shape} needs a positive scale_factor or a pair of them, "
                             f"got {scale_factor!r}")
        scales = tuple(float(s) for s in scales)
        out_hw = tuple(int(math.floor(n * s)) for n, s in zip((H, W), scales))   # PyTorch: ⌊float(n) · s⌋
        if recompute_scale_factor:
            scales = (None, None)            # the coordinates then use n_in/n_out, as if the size had been given
    if min(out_hw) <= 0:
        raise ValueError(f"interpolate: input {input.shape} gives an empty output {out_hw} (size={size!r}, "
                         f"scale_factor={scale_factor!r}); input and output sizes should be greater than 0")
    return out_hw, scales


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize (N, C, H, W) images, PyTorch's ``F.interpolate`` for mode 'nearest' or 'bilinear'.

    Give either ``size`` (int or (Ho, Wo)) or ``scale_factor`` (number or pair; output ⌊H · scale⌋, and the
    source coordinates use 1/scale, as PyTorch, unless ``recompute_scale_factor``).
    'nearest' copies pixel ⌊o · H/Ho⌋ (PyTorch's legacy 'nearest', not 'nearest-exact'); 'bilinear' mixes the two
    nearest pixels along each axis, with half-pixel coordinates (``align_corners=False``, the default) or with
    the corner pixels aligned (``True``).
    """
    if not isinstance(input, Tensor) or input.ndim != 4:
        raise RuntimeError(f"interpolate: expected a 4-D input (N, C, H, W), got shape "
                           f"{getattr(input, 'shape', None)}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented")
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented; use 'nearest' or 'bilinear'")
    if align_corners is not None and mode == "nearest":
        raise ValueError("interpolate: align_corners can only be set with mode='bilinear'")
    if input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got dtype {input.dtype}")
    out_hw, scales = _output_size(input, size, scale_factor, recompute_scale_factor)
    in_hw = input.shape[2:]
    if mode == "nearest":
        rows, cols = (_nearest_index(n, o, s) for n, o, s in zip(in_hw, out_hw, scales))
        return ResizeNearest(Nearest(in_hw, rows, cols, input.xp))(input)
    A, B = (input.xp.asarray(_linear_weights(n, o, s, bool(align_corners), input.dtype))
            for n, o, s in zip(in_hw, out_hw, scales))
    return ResizeBilinear(A, B)(input)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None) -> Tensor:
    """The old name of ``interpolate`` (``F.upsample``)."""
    return interpolate(input, size, scale_factor, mode, align_corners)
