"""Convolutions in cache-sized passes of a few images, shared out over the CPU's cores.

Read ``conv.py`` first: there a convolution and its weight gradient are each one matrix product with cols
(N·Ho·Wo, kh·kw·C), every receptive field of x unfolded into a row:

    y    = cols @ Wᵀ           (N·Ho·Wo, kh·kw·C) @ (kh·kw·C, O) → (N·Ho·Wo, O)
    w̄ᵀ   = colsᵀ @ ȳ           (kh·kw·C, N·Ho·Wo) @ (N·Ho·Wo, O) → (kh·kw·C, O)

This file computes the same products **image by image**. The rows of cols, y and ȳ that belong to image n
involve only image n, so both products split over groups of images ("passes"):

    yₚ = colsₚ @ Wᵀ            w̄ᵀ = Σₚ colsₚᵀ @ ȳₚ         colsₚ, yₚ, ȳₚ: the rows of the images in pass p

and each pass needs only its own images unfolded. Why that is faster on the CPU: cols is kh·kw/s² times the
size of x (9× for a 3×3 stride-1 conv: 115 MB for a batch of 128 images of 32 channels at 28×28). Unfolding
all of it at once writes those bytes to main memory and the product reads them back; the copy took most of the
time. Unfolding a few images at a time into a buffer of a few MiB (``CACHE_BYTES``) keeps colsₚ in the
processor's caches between the copy that writes it and the product that reads it. The passes are independent,
so the cores take turns (``threads.run_split``): thread k runs passes k, k + T, …; for y each pass writes its
own rows, for w̄ each thread adds its products into a sum of its own (kept as w̄ or as w̄ᵀ, whichever
product runs faster) and the T sums are added at the end. Everything else is as in ``conv.py``: x is padded and
made channels-last per pass (no copy when it is channels-last already and needs no padding), the receptive
fields are one ``as_strided`` view copied once, and y is returned as an NCHW view of channels-last memory. The
input gradient is a convolution too: conv.py sends a stride-1 one here (ȳ with the flipped kernel), and runs
the polyphase gather of strided ones in passes of its own sized by ``images_per_pass``, which also picks how
many images make a pass so that the cores get equal shares. In a stride-1 conv's plain backward both gradients
come from one unfolding (``conv_and_weight_grad_in_passes``): the unfolded ȳ that gives x̄ also gives w̄ when
multiplied by x's rows, so x need not be unfolded again.

Measured on a quiet 2-core machine, float32, batch 128, the 3×3 layers of a small U-Net (32–256 channels, 7×7
to 28×28), medians of interleaved runs: the weight gradient in 0.5–0.75 of the time of conv.py's one unfolding
and one product (e.g. 32 → 32 channels at 28×28: 13 ms against 22 ms); the forward in 0.5–0.85 of it, and in
0.6–0.95 of the time of Winograd's F(2×2, 3×3) (``winograd.py``), whose 2.25× fewer multiplications come with
transforms that cost more than they save at these sizes. Only the order of the additions differs from the
one-product path, so the results agree to rounding; tests/test_threads.py checks them against each other on
drawn shapes. On a GPU there are no CPU caches to fit: conv.py keeps its one product there.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import threads

# Bytes of one pass's unfolded images (colsₚ). Measured on a 2-core VM (1 MiB of L2 per core, 32 MiB of L3):
# 2-4 MiB best, 8 MiB within 10-20 %, 1 MiB slower (more, smaller products), the whole batch at once slowest.
CACHE_BYTES = 4 << 20


def images_per_pass(N: int, bytes_per_image: int) -> int:
    """How many of N images go into one pass: at most CACHE_BYTES of unfolded images, and, among the sizes from
    that down to half of it, the one whose passes the threads share most evenly (thread k takes passes k, k + T,
    …), the larger on a tie. With passes simply as full as the cache allows, 64 images at 13 per pass made 5
    passes, 38 images for one core and 26 for the other; 8 passes of 8 give each core 32."""
    return _images_per_pass(N, bytes_per_image, threads.num_threads(), CACHE_BYTES)


@functools.lru_cache(maxsize=1024)           # a network asks the same few questions at every step
def _images_per_pass(N, bytes_per_image, T, cache_bytes):
    if N < 2:
        return 1                                             # (no images at all: no passes, any size will do)
    full = max(1, min(N, cache_bytes // max(1, bytes_per_image)))

    def busiest(step):                                       # images of the thread with the most
        sizes = [min(step, N - a) for a in range(0, N, step)]
        return max(sum(sizes[k::T]) for k in range(min(T, len(sizes))))

    return min(range(full, max(1, full // 2) - 1, -1), key=busiest)   # min keeps the first (largest) on a tie


class _Unfolding:
    """The receptive fields of a few images at a time: x (N, C, H, W) of any strides, for a kernel (kh, kw)
    with stride, padding, dilation (pairs) and output size (Ho, Wo). ``buffers()`` makes one thread's scratch
    arrays; ``cols(buffers, n0, n)`` unfolds images n0 … n0 + n − 1 into them: (n·Ho·Wo, kh·kw·C), rows
    ordered (n, a, b), columns (i, j, c) like conv.py's."""

    def __init__(self, x, kernel, stride, padding, dilation, out_hw):
        N, C, H, W = x.shape
        (kh, kw), (ph, pw), (Ho, Wo) = kernel, padding, out_hw
        self.kernel, self.stride, self.padding, self.dilation, self.out_hw = kernel, stride, padding, dilation, out_hw
        # padded size: the input, and at least what the last output reads (conv.py's _padded_nhwc)
        self.Hb = max(ph + H, (Ho - 1) * stride[0] + dilation[0] * (kh - 1) + 1)
        self.Wb = max(pw + W, (Wo - 1) * stride[1] + dilation[1] * (kw - 1) + 1)
        self.nhwc = x.transpose(0, 2, 3, 1)                                # (N, H, W, C), a view
        self.as_is = (self.Hb, self.Wb) == (H, W) and self.nhwc.flags.c_contiguous   # no copy needed
        self.C, self.K, self.rows = C, kh * kw * C, Ho * Wo              # columns of cols; its rows per image
        self.step = images_per_pass(N, self.rows * self.K * x.dtype.itemsize)

    def buffers(self, k=None):
        """Scratch arrays for one thread (``k``: which, unused; ``threads.run_passes`` passes it)."""
        dtype, n = self.nhwc.dtype, self.step
        padded = None if self.as_is else np.zeros((n, self.Hb, self.Wb, self.C), dtype)  # its border stays 0
        return padded, np.empty((n * self.rows, self.K), dtype)

    def cols(self, buffers, n0, n):
        padded, cols = buffers
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = (self.kernel, self.stride, self.padding, self.dilation,
                                                          self.out_hw)
        if self.as_is:
            xb = self.nhwc[n0:n0 + n]
        else:
            xb = padded[:n]
            H, W = self.nhwc.shape[1:3]
            xb[:, ph:ph + H, pw:pw + W] = self.nhwc[n0:n0 + n]             # pad and go channels-last in one copy
        sN, sH, sW, sC = xb.strides
        fields = np.lib.stride_tricks.as_strided(                          # (n, Ho, Wo, kh, kw, C), no copy
            xb, (n, Ho, Wo, kh, kw, self.C), (sN, sh * sH, sw * sW, dh * sH, dw * sW, sC))
        out = cols[:n * self.rows]
        out.reshape(n, Ho, Wo, kh, kw, self.C)[...] = fields                # the pass's unfolding, in cache
        return out


def conv_in_passes(x, w_t, kernel, stride, padding, dilation, out_hw, bias=None):
    """y for a conv with one group, on NumPy arrays: x (N, C, H, W) any strides; w_t (kh·kw·C, O) the weight
    as a matrix, rows ordered (i, j, c); the geometry as (h, w) pairs; out_hw = (Ho, Wo); bias (O,) or None,
    added to each pass's rows while they are in cache. Returns y (N, O, Ho, Wo) as an NCHW view of
    channels-last memory."""
    unfold = _Unfolding(x, kernel, stride, padding, dilation, out_hw)
    N, rows = x.shape[0], unfold.rows
    y = np.empty((N * rows, w_t.shape[1]), dtype=x.dtype)                  # (N·Ho·Wo, O): channels-last

    def work(buffers, n0, n):
        """One pass, through its thread's buffers: it writes its images' rows of y."""
        out = y[n0 * rows:(n0 + n) * rows]
        np.matmul(unfold.cols(buffers, n0, n), w_t, out=out)
        if bias is not None:
            out += bias

    threads.run_passes(N, unfold.step, work, unfold.buffers)
    return y.reshape((N,) + tuple(out_hw) + (w_t.shape[1],)).transpose(0, 3, 1, 2)


def weight_grad_in_passes(x, gy_cl, kernel, stride, padding, dilation, out_hw):
    """w̄ for a conv with one group, on NumPy arrays: x (N, C, H, W) any strides; gy_cl (N·Ho·Wo, O) the upstream
    gradient channels-last, contiguous; the geometry as (h, w) pairs; out_hw = (Ho, Wo).
    Returns w̄ᵀ (kh·kw·C, O), rows ordered (i, j, c) like conv.py's columns: Σₚ colsₚ(x)ᵀ @ ȳₚ, the second
    product of ``conv_and_weight_grad_in_passes`` alone."""
    N, O = x.shape[0], gy_cl.shape[1]
    gy = gy_cl.reshape((N,) + tuple(out_hw) + (O,)).transpose(0, 3, 1, 2)      # (N, O, Ho, Wo), a view
    return conv_and_weight_grad_in_passes(x, None, kernel, stride, padding, dilation, out_hw, gy)[1]


def conv_and_weight_grad_in_passes(a, w_t, kernel, stride, padding, dilation, out_hw, b):
    """y = conv(a, w) and Σ colsᵀ @ b: two products of one unfolding of a per pass, while it is in cache.

    Two backward passes multiply the same unfolding twice. A conv's (stride 1): x̄ is the conv of ȳ, padded by
    k − 1 − p, with the flipped kernel (conv.py), so a pass unfolds ȳ around every pixel of x,
    colsₚ[(n, h, w), (i', j', o)] = ȳ[n, o, h + p − i, w + p − j] with i = k − 1 − i' (zero outside ȳ), and
    the weight gradient sums the same pairs the other way round:
        w̄[o, c, i, j] = Σ_{n,a,b} ȳ[n, o, a, b] · x[n, c, a + i − p, b + j − p]
                      = Σ_{n,h,w} colsₚ[(n, h, w), (k−1−i, k−1−j, o)] · x[n, c, h, w]
    i.e. x̄ₚ = colsₚ @ W_flipped and w̄ (taps flipped) = Σₚ colsₚᵀ @ xₚ, xₚ the pass's images as channels-last
    rows. A transposed conv's (any stride): its input gradient is the conv of ȳ with w and its weight gradient
    Σ cols(ȳ)ᵀ @ x, the same unfolding again. ``weight_grad_in_passes`` would unfold a second array (9× the
    activation for a 3×3 kernel) for the second product.

    a (N, C, H, W) any strides; w_t (kh·kw·C, O), rows (i, j, c), or None for the second product alone; the
    geometry as (h, w) pairs; b (N, Ob, Ho, Wo), out_hw = (Ho, Wo), any strides. Returns y (N, O, Ho, Wo), an
    NCHW view of channels-last memory (None without w_t), and Σ colsᵀ @ b as (kh·kw·C, Ob), rows (i, j, c)
    (possibly a transposed view of (Ob, kh·kw·C) memory: callers reshape it, which copies when needed)."""
    unfold = _Unfolding(a, kernel, stride, padding, dilation, out_hw)
    N, rows, Ob = a.shape[0], unfold.rows, b.shape[1]
    y = None if w_t is None else np.empty((N * rows, w_t.shape[1]), dtype=a.dtype)   # (N·Ho·Wo, O)
    b_nhwc = b.transpose(0, 2, 3, 1)
    b_rows = b_nhwc.reshape(N * rows, Ob) if b_nhwc.flags.c_contiguous else None   # channels-last: no copy
    # Each thread sums bₚᵀ @ colsₚ, (Ob, K), the transpose of Σ colsₚᵀ @ bₚ (the same numbers), unless cols is
    # the narrower (K < Ob: a one-channel image's 5×5 kernel, K = 25). Measured on one core, the two alternated, on
    # every such product of the benchmarks' convolutions: bᵀ @ cols 1.0-1.1× as fast, 1.46× for the U-Net's 14×14
    # 32 → 64 conv (3,136 × 576 × 32) and 0.94× for its 28×28 32 → 32 one; colsᵀ @ b 1.2× as fast where K = 25.
    transposed = unfold.K >= Ob
    sums = {}                                                              # thread k → its sum of products

    def scratch(k):
        sums[k] = np.zeros((Ob, unfold.K) if transposed else (unfold.K, Ob), dtype=a.dtype)
        own_b = None if b_rows is not None else np.empty((unfold.step * rows, Ob), dtype=b.dtype)
        return unfold.buffers(), sums[k], own_b

    def work(buffers, n0, n):
        cols_buffers, own, own_b = buffers
        cols = unfold.cols(cols_buffers, n0, n)                            # (n·Ho·Wo, K), in cache
        if w_t is not None:
            np.matmul(cols, w_t, out=y[n0 * rows:(n0 + n) * rows])
        if b_rows is not None:
            bp = b_rows[n0 * rows:(n0 + n) * rows]
        else:                                                              # b stored otherwise: its rows, copied
            bp = own_b[:n * rows]
            bp.reshape((n,) + tuple(out_hw) + (Ob,))[...] = b_nhwc[n0:n0 + n]
        own += (bp.T @ cols) if transposed else (cols.T @ bp)              # (Ob, K) or (K, Ob)

    threads.run_passes(N, unfold.step, work, scratch)
    total = functools.reduce(np.add, [sums[k] for k in sorted(sums)])  # in thread order: reproducible
    total = total.T if transposed else total                               # (K, Ob)
    if w_t is None:
        return None, total
    return y.reshape((N,) + tuple(out_hw) + (w_t.shape[1],)).transpose(0, 3, 1, 2), total
