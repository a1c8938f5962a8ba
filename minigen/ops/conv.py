"""2-D convolution and transposed convolution (NCHW), fast: one big matrix product per pass.

Read ``conv_simple.py`` first: it is the same mathematics in the plainest code. This file is the version used
by default; the tests check the two against each other, against naive loops and against PyTorch.

**The convolution.** Input x (N, C, H, W), weight w (O, C/g, kh, kw), stride s, dilation d, padding p, g
groups (channels split into g independent blocks). With x̃ the zero-padded input,

    y[n, o, a, b] = Σ_{c, i, j} x̃[n, c₀(o) + c, a·s + i·d, b·s + j·d] · w[o, c, i, j]
    Ho = ⌊(H + 2p − d·(kh − 1) − 1) / s⌋ + 1                      (the same for the width)

where c₀(o) is the first input channel of o's group. Copy every receptive field into one row of a matrix
("im2col"): the row of output pixel (n, a, b) holds x̃[n, a·s + i·d, b·s + j·d, c] for all (i, j, c), so

    cols (N·Ho·Wo, kh·kw·C)  @  Wᵀ (kh·kw·C, O)  →  y (N·Ho·Wo, O)

one matrix product (per group). Rows of cols overlap when s < d·(k − 1) + 1, so cols is bigger than x.

**Backward.** y is linear in x and linear in w, so both gradients are matrix products again:

    ∂L/∂W    = gyᵀ @ cols           (O, N·Ho·Wo) @ (N·Ho·Wo, kh·kw·C) → (O, kh·kw·C)
    ∂L/∂cols = gy @ W               (N·Ho·Wo, O) @ (O, kh·kw·C) → (N·Ho·Wo, kh·kw·C)
    ∂L/∂x    = col2im(∂L/∂cols)     each pixel of x receives the sum of every cols entry that copied it

The input gradient ``x̄ = col2im(gy @ W)`` is an operation in its own right, the **transposed convolution**
(conv_transpose2d): it maps (N, O, Ho, Wo) back to (N, C, H, W) and is the adjoint of the convolution,

    ⟨conv(x, w), y⟩ = ⟨x, conv_transpose(y, w)⟩     for every x and y.

So a transposed convolution's forward is a conv's input gradient (matrix product, then col2im), and its
input gradient is a conv. Its weight gradient is the conv weight gradient with the roles swapped.

**Gradients of gradients.** Three functions close the family:

    Conv2d(x, w)            backward:  x̄ = ConvTranspose2d(ȳ, w),   w̄ = Conv2dWeightGrad(x, ȳ)
    ConvTranspose2d(x, w)   backward:  x̄ = Conv2d(ȳ, w),            w̄ = Conv2dWeightGrad(ȳ, x)
    Conv2dWeightGrad(x, g)  = ∂/∂w ⟨g, conv(x, w)⟩, which is bilinear in (x, g):
                            ⟨G, Wgrad(x, g)⟩ = ⟨g, conv(x, G)⟩, so its backward for an upstream G is
                            x̄ = ConvTranspose2d(g, G),   ḡ = Conv2d(x, G)

Every backward is made of these three differentiable functions, so double backward (WGAN-GP's gradient
penalty) works through convolutions and transposed convolutions alike. A bias b (O,) is added by Conv2d and
ConvTranspose2d themselves, y[n, o, a, b] += b[o] while y is being made (in cache, pass by pass, on the fast
path), rather than by a separate addition that would read and write all of y once more; its gradient is
b̄[o] = Σ_{n,a,b} ȳ[n, o, a, b] (a sum_to, differentiable like the rest).

**Sizes.** A conv with output size Ho uses only the first (Ho − 1)·s + d·(kh − 1) + 1 rows of x̃, so the
functions here take the output size as a parameter: a transposed conv's output is the conv input size
(PyTorch's ``output_padding`` picks among the sizes that map to the same Ho), and the gradient of a transposed
conv is a conv cropped to that size.

**Speed** (CPU). The cost is three matrix products of 2·N·Ho·Wo·O·(C/g)·kh·kw flops each (forward, input
gradient, weight gradient); everything else is made to stream through memory as few times as possible:
- channels-last (NHWC) layout, so each receptive field row is kh runs of kw·C contiguous numbers (when d = 1):
  ``as_strided`` gives a view of all receptive fields and a single copy makes cols;
- the products' results are already channels-last, and are returned as (N, C, H, W) *views* of that memory
  rather than copied into NCHW order; the next conv then finds its input channels-last and copies less;
- col2im adds whole groups of non-overlapping windows in one strided operation (never ``np.add.at``);
- on the CPU (``use_passes``: one group, no dilation, a kernel larger than 1×1) the forward, the input gradient
  (stride 1: a conv again; any stride: the polyphase gather) and the weight gradient do their products in passes
  of a few images, each unfolded into a buffer that stays in cache, the passes shared out over the cores
  (``passes.py``, ``threads.py``): unfolding the whole batch at once wrote k²·C numbers per pixel to main memory
  only for the product to read them back. That needed OpenBLAS's idle worker to stop spinning for ~0.1 s after
  each product (``minigen/__init__.py``);
- a plain backward (no create_graph) unfolds ȳ once for both gradients: on the CPU passes, a stride-1 conv's x̄
  is a conv of ȳ and its w̄ is that unfolding's transpose times x's rows (``conv2d_input_and_weight_grad_array``);
  a transposed conv's two products both read cols(ȳ) (``conv_transpose2d_input_and_weight_grad_array``);
  elsewhere (a GPU, groups, dilation) a transposed conv's backward keeps one whole unfolding of ȳ for both,
  and keeps its input channels-last for the weight gradient, so nothing is unfolded or reordered twice. A
  strided conv keeps its two gradients apart: its x̄ gathers ȳ by phases, and taking w̄ from those unfoldings
  (each phase's times that phase's pixels of x) was no faster than unfolding x once more in any strided conv of
  the benchmarks, and up to 6 % slower (four narrow products per pass instead of one wide one);
- Winograd's F(2×2, 3×3) (``winograd.py``: 2.25× fewer multiplications for 3×3 stride-1 convs, in passes too)
  is there beside the passes, switched on by ``WINOGRAD = True``; on a 2-core AVX-512 machine it was slower than
  the passes for every layer of the U-Net (its transforms cost more than the products they save at 32–256
  channels). (What also mattered: fresh memory. Each new 4 KiB page costs a page fault on first touch, so
  minigen asks the C allocator to keep freed blocks for reuse, see ``backend.retain_freed_memory``.)
On CuPy the same code runs on the GPU (cuBLAS does the products).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .. import threads
from ..autograd import Function, Tensor, is_grad_enabled
from ..backend import xp_of
from .dtypes import cast, result_dtype
from .shape import reshape, squeeze, sum_to, unsqueeze
from .passes import conv_and_weight_grad_in_passes, conv_in_passes, images_per_pass, weight_grad_in_passes
from .winograd import winograd_conv3x3, winograd_conv3x3_input_grad


# --- Parameters and sizes ----------------------------------------------------------------------------------
class Geometry(NamedTuple):
    """How a kernel slides: stride, padding before the first row/column, dilation, groups (pairs are (h, w))."""
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int


def _pair(value, name: str, op: str, minimum: int) -> tuple:
    """An int or a pair of ints → (h, w), each at least ``minimum``."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in pair):
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return tuple(int(v) for v in pair)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1, PyTorch's formula (may be ≤ 0)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding, dilation, output_padding) -> int:
    """(size − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1 (the inverse of the above)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _check_inputs(op, x, w, bias, groups, channels_axis):
    """Check ranks, channel counts and the bias; raise errors that name the op and both shapes."""
    if x.ndim != 4:
        raise RuntimeError(f"{op}: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise RuntimeError(f"{op}: expected a 4-D weight, got shape {w.shape}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    layout = "(out_channels, in_channels/groups, kh, kw)" if channels_axis == 1 else \
        "(in_channels, out_channels/groups, kh, kw)"
    if channels_axis == 1:  # conv2d: w is (O, C/g, kh, kw)
        expected, out_channels = w.shape[1] * groups, w.shape[0]
    else:  # conv_transpose2d: w is (C, O/g, kh, kw)
        expected, out_channels = w.shape[0], w.shape[1] * groups
    if w.shape[0] % groups:
        raise RuntimeError(f"{op}: weight {w.shape} {layout}: its first dim {w.shape[0]} is not divisible by "
                           f"groups={groups}")
    if x.shape[1] != expected:
        raise RuntimeError(f"{op}: expected input with {expected} channels (weight {w.shape} {layout}, "
                           f"groups={groups}), got input of shape {x.shape}")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"{op}: expected bias of shape ({out_channels},) for {out_channels} output channels, "
                           f"got shape {tuple(bias.shape)}")
    return out_channels


def _empty_output_error(op, x, kernel, stride, padding, dilation, sizes):
    dims = [name for name, n in zip(("height", "width"), sizes) if n <= 0]
    k = "×".join(map(str, kernel))
    raise RuntimeError(
        f"{op}: the output would be empty ({' and '.join(dims)} {sizes[0]}×{sizes[1]}): input {x.shape} with "
        f"padding={padding}, kernel {k}, dilation={dilation}, stride={stride}; the padded input "
        f"({x.shape[2] + 2 * padding[0]}×{x.shape[3] + 2 * padding[1]}) must be at least the dilated kernel "
        f"({dilation[0] * (kernel[0] - 1) + 1}×{dilation[1] * (kernel[1] - 1) + 1}): use more padding, a "
        f"smaller kernel or dilation, or a larger input")


# --- The array kernels -------------------------------------------------------------------------------------
def _extent(out: int, kernel: int, stride: int, dilation: int) -> int:
    """Rows of the padded input that ``out`` outputs read: (out − 1)·s + d·(k − 1) + 1."""
    return (out - 1) * stride + dilation * (kernel - 1) + 1


def _padded_nhwc(x, geom: Geometry, kernel, out_hw):
    """x (N, C, H, W) → zero-padded channels-last x̃ (N, Hb, Wb, C), tall enough for ``out_hw`` outputs."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    (ph, pw), (sh, sw), (dh, dw) = geom.padding, geom.stride, geom.dilation
    Hb = max(ph + H, _extent(out_hw[0], kernel[0], sh, dh))
    Wb = max(pw + W, _extent(out_hw[1], kernel[1], sw, dw))
    nhwc = x.transpose(0, 2, 3, 1)                                   # a view
    if (Hb, Wb) == (H, W) and nhwc.flags.c_contiguous:
        return nhwc               # x is already stored channels-last (a conv's output) and needs no padding
    xb = xp.empty((N, Hb, Wb, C), dtype=x.dtype)
    xb[:, :ph], xb[:, ph + H:], xb[:, ph:ph + H, :pw], xb[:, ph:ph + H, pw + W:] = 0, 0, 0, 0  # the border
    xb[:, ph:ph + H, pw:pw + W, :] = nhwc                            # pad and go channels-last in one copy
    return xb


def _im2col(x, geom: Geometry, kernel, out_hw):
    """x (N, C, H, W) → cols (g, N·Ho·Wo, kh·kw·C/g): row (n, a, b) holds the receptive field of output
    pixel (a, b), ordered (i, j, c)."""
    xp = xp_of(x)
    xb = _padded_nhwc(x, geom, kernel, out_hw)                      # (N, Hb, Wb, C)
    N, C, g = x.shape[0], x.shape[1], geom.groups
    (kh, kw), (Ho, Wo), (sh, sw), (dh, dw) = kernel, out_hw, geom.stride, geom.dilation
    sN, sH, sW, sC = xb.strides
    # every receptive field at once, no copy: (N, Ho, Wo, kh, kw, g, C/g)
    fields = xp.lib.stride_tricks.as_strided(
        xb, (N, Ho, Wo, kh, kw, g, C // g), (sN, sh * sH, sw * sW, dh * sH, dw * sW, (C // g) * sC, sC))
    fields = fields.transpose(5, 0, 1, 2, 3, 4, 6)                   # (g, N, Ho, Wo, kh, kw, C/g)
    cols = xp.ascontiguousarray(fields)                              # the one big copy
    return cols.reshape(g, N * Ho * Wo, kh * kw * (C // g))


def _col2im(cols, geom: Geometry, kernel, out_hw, x_shape):
    """The adjoint of _im2col: cols (g, N·Ho·Wo, kh·kw·C/g) → x̄ (N, C, H, W), each pixel summing the entries
    that copied it. Returned as a channels-last view (see conv2d_array)."""
    xp = xp_of(cols)
    N, C, H, W = x_shape
    g, Cg = geom.groups, C // geom.groups
    (kh, kw), (Ho, Wo), (sh, sw), (dh, dw), (ph, pw) = kernel, out_hw, geom.stride, geom.dilation, geom.padding
    Hb, Wb = max(ph + H, _extent(Ho, kh, sh, dh)), max(pw + W, _extent(Wo, kw, sw, dw))
    cols = cols.reshape(g, N, Ho, Wo, kh, kw, Cg)
    xb = xp.zeros((N, Hb, Wb, g, Cg), dtype=cols.dtype)              # padded channels-last x̄
    # Windows m apart do not overlap when m·s ≥ d·(k − 1) + 1, so the windows a = q, q + m, q + 2m, ... (and
    # likewise for columns) add all their taps into distinct pixels: one strided add per (q_h, q_w).
    # (With m = 1 for both, the windows tile the image; with s = 1 this is the loop over the k² taps.)
    mh, mw = -(-_extent(1, kh, sh, dh) // sh), -(-_extent(1, kw, sw, dw) // sw)
    sN, sH, sW, sG, sC = xb.strides
    for qh in range(min(mh, Ho)):
        for qw in range(min(mw, Wo)):
            na, nb = len(range(qh, Ho, mh)), len(range(qw, Wo, mw))
            windows = xp.lib.stride_tricks.as_strided(                    # (N, na, kh, nb, kw, g, C/g)
                xb[:, qh * sh:, qw * sw:], (N, na, kh, nb, kw, g, Cg),
                (sN, mh * sh * sH, dh * sH, mw * sw * sW, dw * sW, sG, sC))
            windows += cols[:, :, qh::mh, qw::mw].transpose(1, 2, 4, 3, 5, 0, 6)
    return xb[:, ph:ph + H, pw:pw + W].reshape(N, H, W, C).transpose(0, 3, 1, 2)  # crop: a view


def _weight_matrix(w, groups):
    """w (O, C/g, kh, kw) → (g, O/g, kh·kw·C/g), columns ordered (i, j, c) like the rows of cols."""
    O, Cg, kh, kw = w.shape
    return xp_of(w).ascontiguousarray(
        w.reshape(groups, O // groups, Cg, kh, kw).transpose(0, 1, 3, 4, 2)).reshape(groups, O // groups, -1)


def _channels_last(y, groups):
    """y (N, O, Ho, Wo) → (g, N·Ho·Wo, O/g), the layout the matrix products use (a view when y is already
    stored that way, as a conv's output is)."""
    xp = xp_of(y)
    N, O, Ho, Wo = y.shape
    view = y.reshape(N, groups, O // groups, Ho, Wo).transpose(1, 0, 3, 4, 2)  # (g, N, Ho, Wo, O/g)
    return xp.ascontiguousarray(view).reshape(groups, N * Ho * Wo, O // groups)  # a copy only if needed


def _matmul(a, b):
    """(g, m, k) @ (g, k, n): one BLAS call per group (a plain 2-D product when g = 1)."""
    if a.shape[0] == 1:
        return xp_of(a).matmul(a[0], b[0])[None]
    return xp_of(a).matmul(a, b)


# Winograd's F(2×2, 3×3) for the 3×3 stride-1 float32 convolutions that ``use_winograd`` accepts, in place of
# the passes (module docstring). Off: measured slower than the passes on this project's 2-core machines.
WINOGRAD = False


def use_winograd(x, w, geom: Geometry) -> bool:
    """Whether a 3×3 conv can go through Winograd's F(2×2, 3×3) (``winograd.py``, split over the CPU's cores by
    ``threads.py``), when ``WINOGRAD`` is on: float32 on the CPU, stride 1, no dilation, one group, and at least 16
    channels in and out (with fewer, the transforms cost more than the products they save). Measured on a quiet
    2-core machine for the U-Net's 3×3 layers (batch 256, 32–256 channels, 7×7 to 28×28): 0.68–0.91 of the time
    of one unfolding and one product, but 1.05–1.7 of the passes' (``use_passes``). float64 never takes it."""
    return (x.dtype == np.float32 and xp_of(x) is np and tuple(w.shape[2:]) == (3, 3) and geom.groups == 1
            and geom.stride == (1, 1) and geom.dilation == (1, 1) and min(w.shape[0], w.shape[1]) >= 16)


def use_passes(x, w, geom: Geometry) -> bool:
    """Whether a conv and its gradients go through ``passes.py`` (the products in cache-sized passes of a few
    images, on all cores) rather than one unfolding of the whole batch and one product: NumPy arrays, one group,
    no dilation, a kernel larger than 1×1 (a 1×1 kernel's cols is x itself: nothing to keep in cache). Any
    float dtype: float64 (the gradient checks) takes the same path."""
    return (xp_of(x) is np and geom.groups == 1 and geom.dilation == (1, 1)
            and tuple(w.shape[2:]) != (1, 1))


def _plus_bias(y, bias):
    """y += b[o] in place (y: a fresh result of this module) and y."""
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * (y.ndim - 2))
    return y


def conv2d_array(x, w, geom: Geometry, out_hw, cols=None, fast: bool = True, bias=None):
    """The convolution on arrays: x (N, C, H, W), w (O, C/g, kh, kw), bias (O,) or None → y (N, O, Ho, Wo)
    and cols (None when a fast path, passes or Winograd, made y; ``fast=False`` always unfolds x, for a caller
    that wants cols and as the plain twin the tests compare the fast paths with)."""
    xp = xp_of(x)
    N, O, g = x.shape[0], w.shape[0], geom.groups
    Ho, Wo = out_hw
    if cols is None and fast and WINOGRAD and use_winograd(x, w, geom):
        return _plus_bias(winograd_conv3x3(x, w, geom.padding, out_hw), bias), None
    if cols is None and fast and use_passes(x, w, geom):     # the bias is added pass by pass, in cache
        return conv_in_passes(x, _weight_matrix(w, 1)[0].T, w.shape[2:], geom.stride, geom.padding, geom.dilation,
                              out_hw, bias), None
    if cols is None:
        cols = _im2col(x, geom, w.shape[2:], out_hw)                # (g, N·Ho·Wo, K)
    wm = _weight_matrix(w, g)                                        # (g, O/g, K)
    y = _matmul(cols, wm.transpose(0, 2, 1))                         # (g, N·Ho·Wo, O/g)
    if g == 1:  # (N·Ho·Wo, O) is (N, Ho, Wo, O) in memory: return it as an (N, O, Ho, Wo) view, no copy.
        # NumPy handles any strides; elementwise ops keep this channels-last order, and the next conv's
        # channels-last copy (_padded_nhwc, _channels_last) becomes a contiguous one, or no copy at all.
        return _plus_bias(y[0].reshape(N, Ho, Wo, O).transpose(0, 3, 1, 2), bias), cols
    out = xp.ascontiguousarray(y.reshape(g, N, Ho, Wo, O // g).transpose(1, 0, 4, 2, 3))  # (N, g, O/g, Ho, Wo)
    return _plus_bias(out.reshape(N, O, Ho, Wo), bias), cols


def conv2d_input_grad_array(gy, w, geom: Geometry, x_hw, gy_cl=None, fast: bool = True):
    """x̄ for gy (N, O, Ho, Wo) → (N, C, H, W): the conv's input gradient and the transposed convolution's forward.

    Two ways, with the same matrix-product flops: gather (``_input_grad_polyphase``: windows of gy, k²·O numbers
    per pixel of x̄, copied then multiplied) or scatter (``_input_grad_col2im``, the plain twin the tests compare it
    with: multiply first, giving k²·C numbers per pixel of gy, then add them into x̄ pass after pass). Gathering
    copies O-wide rows, scattering C-wide ones and then re-reads x̄ for every group of windows. Measured on a quiet
    2-core machine, float32, batch 128-256: gathering is 1.3-2.5× faster for the 3×3 convolutions of a U-Net
    (stride 1 and 2, O = C/2 … 2C), 1.0-1.1× for DCGAN's 5×5 stride-2 ones (O = 2C), and 3× slower into an
    image's one channel (O = 64C). So: gather while O ≤ 2C. Dilation and groups always scatter.
    ``gy_cl``: _channels_last(gy), if the caller has it. With ``fast`` (the default) and stride 1, the gradient is
    a convolution again, done in passes (``use_passes``) or by Winograd (``WINOGRAD``); ``fast=False`` is the
    plain twin for the tests."""
    O, C = w.shape[0], w.shape[1] * geom.groups
    if fast and WINOGRAD and use_winograd(gy, w, geom):  # a 3×3 stride-1 conv again
        return winograd_conv3x3_input_grad(gy, w, geom.padding, x_hw)
    kh, kw = w.shape[2:]
    (ph, pw) = geom.padding
    if fast and geom.stride == (1, 1) and use_passes(gy, w, geom) and ph < kh and pw < kw:
        # stride 1: x̄ is the conv of gy, padded by k − 1 − p, with the kernel flipped and its channels swapped
        w_flipped = xp_of(w).ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(kh * kw * O, C)
        return conv_in_passes(gy, w_flipped, (kh, kw), (1, 1), (kh - 1 - ph, kw - 1 - pw), (1, 1), tuple(x_hw))
    if geom.dilation == (1, 1) and geom.groups == 1 and O <= 2 * C:
        return _input_grad_polyphase(gy, w, geom, x_hw)
    return _input_grad_col2im(gy, w, geom, x_hw, gy_cl)


def _input_grad_col2im(gy, w, geom: Geometry, x_hw, gy_cl=None):
    """x̄ = col2im(gy @ W): one matrix product, then each pixel sums the k² entries that copied it (a scatter)."""
    g = geom.groups
    N, O, Ho, Wo = gy.shape
    C = w.shape[1] * g
    gy_cl = _channels_last(gy, g) if gy_cl is None else gy_cl     # (g, N·Ho·Wo, O/g)
    gcols = _matmul(gy_cl, _weight_matrix(w, g))                    # (g, N·Ho·Wo, K)
    return _col2im(gcols, geom, w.shape[2:], (Ho, Wo), (N, C) + tuple(x_hw))


def _phase(phi: int, stride: int, padding: int, kernel: int, out: int):
    """One output phase of a strided conv's input gradient, along one axis (dilation 1).

    Input pixel h = s·a + φ receives gy[m]·w[i] wherever h + p − i = s·m, i.e. from the taps i ≡ φ + p (mod s)
    only: i = r + s·t with r = (φ + p) mod s, at m = a + q − t with q = ⌊(φ + p)/s⌋. Reversing the taps,
    t' = T − 1 − t, turns this into a stride-1 correlation:
        x̄[s·a + φ] = Σ_t' gy[a + q − T + 1 + t'] · w[r + s·(T − 1 − t')].
    Returns (taps i in t' order, the gy row read for a = 0 and t' = 0, how many a)."""
    r, q = (phi + padding) % stride, (phi + padding) // stride
    taps = list(range(r, kernel, stride))[::-1]                     # w's taps for t' = 0, 1, …, T − 1
    count = len(range(phi, out, stride))                            # input pixels of this phase
    return taps, q - len(taps) + 1, count


def _input_grad_polyphase(gy, w, geom: Geometry, x_hw):
    """x̄ by gathering: for a stride s, the input pixels split into s×s phases (h mod s, w mod s); each phase is a
    stride-1 correlation of gy with a sub-kernel of w (``_phase``), done as im2col + one matrix product, and
    written to its own pixels x̄[:, φh::s, φw::s]. No zero is multiplied, nothing is scattered (with s = 1 it is
    the full correlation of gy with the flipped kernel). On the CPU the images go through in passes of a few,
    each phase's unfolding small enough to stay in cache, the passes shared out over the cores (as in
    ``passes.py``); on a GPU, one pass. x̄ is returned as an NCHW view of channels-last memory."""
    xp = xp_of(gy)
    N, O, Ho, Wo = gy.shape
    C, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    (H, W), (sh, sw), (ph, pw) = x_hw, geom.stride, geom.padding
    rows = [_phase(f, sh, ph, kh, H) for f in range(min(sh, H))]
    cols = [_phase(f, sw, pw, kw, W) for f in range(min(sw, W))]
    # one zero-padded channels-last copy of gy that every phase's windows fit in
    top = max([0] + [-start for taps, start, n in rows if taps and n])
    left = max([0] + [-start for taps, start, n in cols if taps and n])
    Hp = max([top + Ho] + [top + start + n + len(taps) - 1 for taps, start, n in rows if taps and n])
    Wp = max([left + Wo] + [left + start + n + len(taps) - 1 for taps, start, n in cols if taps and n])
    gp = xp.empty((N, Hp, Wp, O), dtype=gy.dtype)
    gp[:, :top], gp[:, top + Ho:], gp[:, top:top + Ho, :left], gp[:, top:top + Ho, left + Wo:] = 0, 0, 0, 0
    gp[:, top:top + Ho, left:left + Wo] = gy.transpose(0, 2, 3, 1)  # (N, Hp, Wp, O): pad, channels-last
    sN, sH, sW, sO = gp.strides
    out = xp.empty((N, H, W, C), dtype=gy.dtype)                    # x̄, channels-last
    phases = []                  # (phase φh, φw; its rows, columns; taps Th, Tw; first gp row, column; sub-kernel)
    for fh, (taps_h, start_h, nh) in enumerate(rows):
        for fw, (taps_w, start_w, nw) in enumerate(cols):
            if not (taps_h and taps_w):
                out[:, fh::sh, fw::sw] = 0                           # no tap of w reaches these pixels
                continue
            sub = w[:, :, taps_h][:, :, :, taps_w]                   # (O, C, Th, Tw)
            sub = xp.ascontiguousarray(sub.transpose(2, 3, 0, 1)).reshape(-1, C)   # rows (t'h, t'w, o)
            phases.append((fh, fw, nh, nw, len(taps_h), len(taps_w), top + start_h, left + start_w, sub))
    if not phases:
        return out.transpose(0, 3, 1, 2)
    widest = max(nh * nw * Th * Tw * O for _, _, nh, nw, Th, Tw, _, _, _ in phases)   # numbers per image
    step = max(N, 1) if xp is not np else images_per_pass(N, widest * gy.dtype.itemsize)   # a GPU: one pass

    def work(buffer, n0, n):
        """Every phase of images n0 … n0 + n − 1, unfolded into this thread's buffer."""
        for fh, fw, nh, nw, Th, Tw, r0, c0, sub in phases:
            fields = xp.lib.stride_tricks.as_strided(               # (n, nh, nw, Th, Tw, O), no copy
                gp[n0:n0 + n, r0:, c0:], (n, nh, nw, Th, Tw, O), (sN, sH, sW, sH, sW, sO))
            phase_cols = buffer[:n * nh * nw * Th * Tw * O].reshape(n * nh * nw, Th * Tw * O)
            phase_cols.reshape(n, nh, nw, Th, Tw, O)[...] = fields
            out[n0:n0 + n, fh::sh, fw::sw] = (phase_cols @ sub).reshape(n, nh, nw, C)

    threads.run_passes(N, step, work, lambda k: xp.empty(step * widest, dtype=gy.dtype))
    return out.transpose(0, 3, 1, 2)                                 # (N, C, H, W) view


def conv2d_weight_grad_array(x, gy, geom: Geometry, kernel, cols=None, gy_cl=None, fast: bool = True):
    """w̄ = gyᵀ @ cols: x (N, C, H, W), gy (N, O, Ho, Wo) → (O, C/g, kh, kw).

    With ``fast`` (the default), on the CPU, one group and a kernel larger than 1×1, and no cols given: the same
    product summed over passes of a few images, each unfolded in cache, the passes shared out over the cores
    (``passes.py``); ``fast=False`` is its plain twin, one unfolding and one product, for the tests."""
    g = geom.groups
    N, O, Ho, Wo = gy.shape
    Cg = x.shape[1] // g
    gy_cl = _channels_last(gy, g) if gy_cl is None else gy_cl     # (g, N·Ho·Wo, O/g)
    if fast and cols is None and g == 1 and kernel[0] * kernel[1] > 1 and xp_of(x) is np:
        gw_t = weight_grad_in_passes(x, gy_cl[0], kernel, geom.stride, geom.padding, geom.dilation,
                                     (Ho, Wo))[None]                  # (1, K, O)
    else:
        if cols is None:
            cols = _im2col(x, geom, kernel, (Ho, Wo))               # (g, N·Ho·Wo, K)
        # w̄ᵀ = colsᵀ @ gy rather than w̄ = gyᵀ @ cols: the same product; OpenBLAS ran this orientation up to
        # 1.4× faster for the U-Net's 28×28 layers (shared dimension N·Ho·Wo = 100,352), within ±20 % elsewhere
        gw_t = _matmul(cols.transpose(0, 2, 1), gy_cl)              # (g, K, O/g)
    gw = gw_t.reshape(g, kernel[0], kernel[1], Cg, O // g).transpose(0, 4, 3, 1, 2)   # (g, O/g, Cg, kh, kw)
    return xp_of(gw).ascontiguousarray(gw).reshape(O, Cg, kernel[0], kernel[1])


def fused_backward(x, w, geom: Geometry) -> bool:
    """Whether a conv's plain backward gets both gradients from one unfolding of ȳ: stride 1 with padding below
    the kernel, where x̄ is a conv of ȳ done in passes (``passes.py``), on the CPU with Winograd off (the same
    choice ``conv2d_input_grad_array`` makes for x̄). Strided convs keep the two apart (module docstring)."""
    kh, kw = w.shape[2:]
    if xp_of(x) is not np or (WINOGRAD and use_winograd(x, w, geom)):
        return False
    return geom.stride == (1, 1) and use_passes(x, w, geom) and geom.padding[0] < kh and geom.padding[1] < kw


def conv2d_input_and_weight_grad_array(x, gy, w, geom: Geometry):
    """A conv's x̄ and w̄ together, where ``fused_backward`` allows: the numbers of ``conv2d_input_grad_array``
    and ``conv2d_weight_grad_array`` (up to the order of additions; the tests hold them to each other) with ȳ
    unfolded once per pass for both products instead of ȳ for x̄ and x again for w̄."""
    if not fused_backward(x, w, geom):
        raise ValueError(f"conv2d_input_and_weight_grad_array: stride {geom.stride}, padding {geom.padding}, "
                         f"kernel {tuple(w.shape[2:])}: only a stride-1 conv's gradients come from one unfolding "
                         "(see fused_backward)")
    O, C, kh, kw = w.shape
    w_flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(kh * kw * O, C)
    gx, gw_flipped = conv_and_weight_grad_in_passes(gy, w_flipped, (kh, kw), (1, 1), (kh - 1 - geom.padding[0],
                                                    kw - 1 - geom.padding[1]), (1, 1), tuple(x.shape[2:]), x)
    gw = gw_flipped.reshape(kh, kw, O, C)[::-1, ::-1].transpose(2, 3, 0, 1)   # (O, C, kh, kw), taps unflipped
    return gx, np.ascontiguousarray(gw)


def transposed_backward_fuses(gy, w, geom: Geometry) -> bool:
    """Whether a transposed conv's plain backward takes both products from one unfolding of ȳ per pass: where
    its input gradient, a conv of ȳ, goes through the CPU passes (Winograd off)."""
    return use_passes(gy, w, geom) and not (WINOGRAD and use_winograd(gy, w, geom))


def conv_transpose2d_input_and_weight_grad_array(x, gy, w, geom: Geometry, x_hw):
    """A transposed conv's x̄ = conv(ȳ, w) (of size ``x_hw``) and w̄ = ∂/∂w ⟨x, conv(ȳ, w)⟩ together: both products
    read the unfolding of ȳ, made once per pass. The numbers of ``conv2d_array`` and ``conv2d_weight_grad_array``
    up to the order of additions."""
    O, C, kh, kw = w.shape
    gx, gw_t = conv_and_weight_grad_in_passes(gy, _weight_matrix(w, 1)[0].T, (kh, kw), geom.stride, geom.padding,
                                              geom.dilation, tuple(x_hw), x)
    gw = gw_t.reshape(kh, kw, C, O).transpose(3, 2, 0, 1)              # (O, C, kh, kw)
    return gx, np.ascontiguousarray(gw)


# --- Differentiable functions ------------------------------------------------------------------------------
class ChannelsLast(Function):
    """The identity on values; stores (N, C, H, W) as (N, H, W, C) in memory (an NCHW view of an NHWC array)."""

    def forward(self, x):
        return xp_of(x).ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # copies only if needed

    def backward(self, g):
        return g


class Conv2d(Function):
    """y = conv(x, w) with output size ``out_hw`` (at most the natural size: a crop keeps it linear)."""
    reads_outputs = False                # backward never calls self.output() (autograd.py)

    # ``keep_cols``: the columns of x are k²/s² times x's size (9× for a 3×3 conv): kept from forward to backward
    # in every layer they tripled a U-Net step's peak memory, so by default the weight gradient unfolds x again
    # (one more copy per layer, a few per cent of the step); only a caller that uses them at once keeps them.
    def __init__(self, geom: Geometry, out_hw, keep_cols: bool = False):
        self.geom, self.out_hw, self.keep_cols, self.cols = geom, tuple(out_hw), keep_cols, None

    def forward(self, x, w, b=None):
        self.x_hw = x.shape[2:]
        y, cols = conv2d_array(x, w, self.geom, self.out_hw, fast=not self.keep_cols, bias=b)
        self.cols = cols if self.keep_cols else None                 # x unfolded, for the weight gradient
        return y

    def backward(self, gy):
        x, w = self.inputs[:2]
        dx, dw = self.needs_input_grad[:2]
        if dx and dw and not is_grad_enabled() and fused_backward(x.data, w.data, self.geom):
            # a plain backward (no create_graph): both gradients from one unfolding of gy (in any layout: each
            # pass copies its images anyway), as arrays
            gx, gw = conv2d_input_and_weight_grad_array(x.data, gy.data, w.data, self.geom)
            gx, gw = Tensor(gx), Tensor(gw)
            return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.needs_input_grad[2]))
        if dx and dw and self.geom.groups == 1:
            gy = ChannelsLast()(gy)  # both products below read gy channels-last: reorder it once, not twice
        gx = ConvTranspose2d(self.geom, self.x_hw)(gy, w) if dx else None
        gw = Conv2dWeightGrad(self.geom, w.shape[2:], self.cols)(x, gy) if dw else None
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.needs_input_grad[2]))


class ConvTranspose2d(Function):
    """y = conv_transpose(x, w) of spatial size ``out_hw``: the adjoint of Conv2d(·, w) from out_hw to x's size."""
    reads_outputs = False                # backward never calls self.output() (autograd.py)

    def __init__(self, geom: Geometry, out_hw):
        self.geom, self.out_hw = geom, tuple(out_hw)

    def __call__(self, x, w, *b):
        # x channels-last, kept for the weight gradient of a backward that does not take both products from one
        # unfolding (a GPU, groups, dilation; the CPU passes multiply x's rows directly)
        self.keep_x = (is_grad_enabled() and w.requires_grad
                       and not transposed_backward_fuses(x.data, w.data, self.geom))
        return super().__call__(x, w, *b)

    def forward(self, x, w, b=None):
        self.x_hw = x.shape[2:]
        x_cl = _channels_last(x, self.geom.groups) if self.keep_x else None   # (g, N·H·W, C/g)
        self.x_cl = x_cl
        return _plus_bias(conv2d_input_grad_array(x, w, self.geom, self.out_hw, x_cl), b)

    def backward(self, gy):
        x, w = self.inputs[:2]
        dx, dw = self.needs_input_grad[:2]
        if dx and dw and not is_grad_enabled() and transposed_backward_fuses(gy.data, w.data, self.geom):
            # a plain backward (no create_graph): both products from one unfolding of gy per pass, as arrays
            gx, gw = conv_transpose2d_input_and_weight_grad_array(x.data, gy.data, w.data, self.geom, self.x_hw)
            gx, gw = Tensor(gx), Tensor(gw)
            return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.needs_input_grad[2]))
        # Without passes (a GPU, groups, dilation), the conv unfolds gy once and the weight gradient reuses it;
        # with them (create_graph), each unfolds its own passes in cache: faster than keeping the whole unfolding.
        keep = dw and dx and not use_passes(gy.data, w.data, self.geom)
        conv = Conv2d(self.geom, self.x_hw, keep_cols=keep)
        gx = conv(gy, w) if dx else None
        gw = Conv2dWeightGrad(self.geom, w.shape[2:], conv.cols, self.x_cl)(gy, x) if dw else None
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.needs_input_grad[2]))


class Conv2dWeightGrad(Function):
    """w̄ = ∂/∂w ⟨g, conv(x, w)⟩ for input x and upstream g; bilinear in (x, g)."""

    def __init__(self, geom: Geometry, kernel, cols=None, g_cl=None):
        self.geom, self.kernel, self.cols, self.g_cl = geom, tuple(kernel), cols, g_cl  # cached layouts, if any

    def forward(self, x, g):
        self.x_hw, self.g_hw = x.shape[2:], g.shape[2:]
        gw = conv2d_weight_grad_array(x, g, self.geom, self.kernel, self.cols, self.g_cl)
        self.cols = self.g_cl = None  # done with them (a double backward unfolds x again: rare; memory matters)
        return gw

    def backward(self, gG):
        x, g = self.inputs
        dx, dg = self.needs_input_grad
        gx = ConvTranspose2d(self.geom, self.x_hw)(g, gG) if dx else None  # ⟨g, conv(x, G)⟩ → ∂/∂x
        gg = Conv2d(self.geom, self.g_hw)(x, gG) if dg else None    # ... → ∂/∂g
        return gx, gg


# --- The public functions ----------------------------------------------------------------------------------
def _same_dtype(x, w, bias):
    dtype = result_dtype(x.dtype, w.dtype)
    if bias is not None:
        dtype = result_dtype(dtype, bias.dtype)
    if dtype.kind != "f":
        raise TypeError(f"convolution needs floating-point tensors, got {x.dtype} and {w.dtype}")
    return cast(x, dtype), cast(w, dtype), None if bias is None else cast(bias, dtype)


def _bias_grad(gy, needed):
    """b̄[o] = Σ over n, h, w of ȳ[n, o, h, w], when needed (a tensor op: differentiable again)."""
    return reshape(sum_to(gy, (1, gy.shape[1], 1, 1)), (gy.shape[1],)) if needed else None


def _add_bias(y, bias):
    """y + b[o] at every pixel; its gradient for b is the sum of ȳ over N, H and W (sum_to does it)."""
    return y if bias is None else y + reshape(bias, (1, -1, 1, 1))


def _batched(fn):
    """Accept an unbatched (C, H, W) input as PyTorch does: add a batch of one, then remove it."""
    @functools.wraps(fn)
    def wrapper(input, weight, *args, **kwargs):
        if isinstance(input, Tensor) and input.ndim == 3:
            return squeeze(fn(unsqueeze(input, 0), weight, *args, **kwargs), 0)
        return fn(input, weight, *args, **kwargs)
    return wrapper


def conv_geometry(op, x, w, stride, padding, dilation, groups):
    """Parse conv2d's parameters (PyTorch's rules) → (Geometry, output size (Ho, Wo))."""
    stride = _pair(stride, "stride", op, 1)
    dilation = _pair(dilation, "dilation", op, 1)
    kernel = tuple(w.shape[2:])
    H, W = x.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride})")
            # total padding d·(k − 1) per dim; the odd one out goes after (bottom/right), as in PyTorch
            before = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
            return Geometry(stride, before, dilation, int(groups)), (H, W)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    padding = _pair(padding, "padding", op, 0)
    out = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation))
    if min(out) <= 0:
        _empty_output_error(op, x, kernel, stride, padding, dilation, out)
    return Geometry(stride, padding, dilation, int(groups)), out


@_batched
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library), PyTorch's ``F.conv2d``.

    input (N, C, H, W) or (C, H, W); weight (O, C/groups, kh, kw); bias (O,) or None; stride, padding,
    dilation: int or (h, w); padding may also be 'valid' (0) or 'same' (stride 1; output size = input size).
    Returns (N, O, Ho, Wo) with Ho = ⌊(H + 2p − d·(kh − 1) − 1)/s⌋ + 1.
    """
    _check_inputs("conv2d", input, weight, bias, groups, channels_axis=1)
    geom, out_hw = conv_geometry("conv2d", input, weight, stride, padding, dilation, groups)
    input, weight, bias = _same_dtype(input, weight, bias)
    return Conv2d(geom, out_hw)(input, weight, *([] if bias is None else [bias]))   # bias added inside


def conv_transpose_geometry(op, x, w, stride, padding, output_padding, groups, dilation):
    """Parse conv_transpose2d's parameters (PyTorch's rules) → (Geometry, output size (Hout, Wout))."""
    stride = _pair(stride, "stride", op, 1)
    dilation = _pair(dilation, "dilation", op, 1)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
    padding = _pair(padding, "padding", op, 0)
    output_padding = _pair(output_padding, "output_padding", op, 0)
    for name, op_, s, d in zip(("height", "width"), output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(f"{op}: output_padding must be smaller than stride or dilation; got output_padding="
                             f"{output_padding}, stride={stride}, dilation={dilation} ({name})")
    kernel = tuple(w.shape[2:])
    out = tuple(conv_transpose_output_size(n, k, s, p, d, o) for n, k, s, p, d, o in
                zip(x.shape[2:], kernel, stride, padding, dilation, output_padding))
    if min(out) <= 0:
        raise RuntimeError(
            f"{op}: the output would be empty ({out[0]}×{out[1]}): input {x.shape} with kernel "
            f"{kernel[0]}×{kernel[1]}, stride={stride}, dilation={dilation}, output_padding={output_padding} "
            f"gives (H − 1)·stride + dilation·(k − 1) + output_padding + 1 = "
            f"{out[0] + 2 * padding[0]}×{out[1] + 2 * padding[1]}, which padding={padding} "
            f"(cropped from each side) would remove entirely: use less padding")
    return Geometry(stride, padding, dilation, int(groups)), out


@_batched
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution, PyTorch's ``F.conv_transpose2d``: the adjoint (and input gradient) of
    conv2d with the same weight and parameters.

    input (N, C, H, W) or (C, H, W); weight (C, O/groups, kh, kw); bias (O,) or None. Output size
    Hout = (H − 1)·s − 2p + d·(kh − 1) + output_padding + 1, where output_padding < max(stride, dilation)
    chooses among the input sizes a conv with these parameters maps to H.
    """
    _check_inputs("conv_transpose2d", input, weight, bias, groups, channels_axis=0)
    geom, out_hw = conv_transpose_geometry("conv_transpose2d", input, weight, stride, padding, output_padding,
                                           groups, dilation)
    input, weight, bias = _same_dtype(input, weight, bias)
    return ConvTranspose2d(geom, out_hw)(input, weight, *([] if bias is None else [bias]))
