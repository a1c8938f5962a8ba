"""A convolution's weight gradient in cache-sized passes of a few images, shared out over the CPU's cores.

Read ``conv.py`` first: there the weight gradient of y = conv(x, w) is one matrix product,

    w̄ᵀ = colsᵀ @ ȳ          (kh·kw·C, N·Ho·Wo) @ (N·Ho·Wo, O) → (kh·kw·C, O)

where cols (N·Ho·Wo, kh·kw·C) holds every receptive field of x, and ȳ is the upstream gradient channels-last.
This file computes the same product. **The sum over N·Ho·Wo splits over images**: rows of cols and ȳ belonging
to image n pair only with each other, so

    w̄ᵀ = Σ_passes colsₚᵀ @ ȳₚ           colsₚ, ȳₚ: the rows of the images in pass p

and each pass needs only its own images unfolded. Why that is faster on the CPU: cols is kh·kw/s² times the
size of x (9× for a 3×3 stride-1 conv: 115 MB for a batch of 128 images of 32 channels at 28×28). Unfolding all
of it at once writes those bytes to main memory and the product reads them back; the copy alone took most of the
time of the whole weight gradient. Unfolding a few images at a time into a buffer of a few MiB
(``CACHE_BYTES``) keeps colsₚ in the processor's caches between the copy that writes it and the product that
reads it. The passes are independent, so the cores take turns (``threads.run_split``): thread k runs passes
k, k + T, …, adds its products into a (kh·kw·C, O) sum of its own, and the T sums are added at the end.
Everything else is as in ``conv.py``: x is padded and made channels-last per pass (a view when it already is
channels-last and needs no padding), and the receptive fields are one ``as_strided`` view copied once.

Measured on a quiet 2-core machine, float32, batch 128, the 3×3 layers of a small U-Net (32–128 channels, 7×7
to 28×28), medians of interleaved runs: 0.5–0.75 of the time of conv.py's one unfolding and one product on
BLAS's two threads (e.g. 32 → 32 channels at 28×28: 13 ms against 22 ms). Only the order of the additions
differs from the one-product path, so the results agree to rounding; tests/test_conv.py checks the two against
each other on drawn shapes. On a GPU there are no CPU caches to fit: conv.py keeps its one product there.
"""

from __future__ import annotations

import numpy as np

from .. import threads

# Bytes of one pass's unfolded images (colsₚ). Measured on a 2-core VM (1 MiB of L2 per core, 32 MiB of L3):
# 2-8 MiB all within a few per cent of each other, 1 MiB slower (more, smaller products), the whole batch at once
# (conv.py) slowest.
CACHE_BYTES = 4 << 20


def weight_grad_in_passes(x, gy_cl, kernel, stride, padding, dilation, out_hw):
    """w̄ for a conv with one group, on NumPy arrays: x (N, C, H, W) any strides; gy_cl (N·Ho·Wo, O) the upstream
    gradient channels-last, contiguous; kernel, stride, padding, dilation (h, w) pairs; out_hw = (Ho, Wo).
    Returns w̄ᵀ (kh·kw·C, O), rows ordered (i, j, c) like conv.py's columns."""
    N, C, H, W = x.shape
    O = gy_cl.shape[1]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = kernel, stride, padding, dilation, out_hw
    # padded size: the input, and at least what the last output reads (conv.py's _padded_nhwc)
    Hb = max(ph + H, (Ho - 1) * sh + dh * (kh - 1) + 1)
    Wb = max(pw + W, (Wo - 1) * sw + dw * (kw - 1) + 1)
    K, rows = kh * kw * C, Ho * Wo                                    # columns of cols; its rows per image
    step = max(1, min(N, CACHE_BYTES // (rows * K * x.dtype.itemsize)))   # images per pass
    starts = range(0, N, step)
    T = min(threads.num_threads(), len(starts))
    sums = np.zeros((T, K, O), dtype=x.dtype)                          # one w̄ᵀ per thread
    nhwc = x.transpose(0, 2, 3, 1)                                     # (N, H, W, C), a view
    as_is = (Hb, Wb) == (H, W) and nhwc.flags.c_contiguous             # already channels-last, no padding

    def passes(k, T):
        """Passes k, k + T, … of ``step`` images each, unfolded into buffers of this thread's own."""
        xb_buf = None if as_is else np.zeros((step, Hb, Wb, C), dtype=x.dtype)   # its border stays 0
        cols_buf = np.empty((step, Ho, Wo, kh, kw, C), dtype=x.dtype)
        for n0 in starts[k::T]:
            n = min(step, N - n0)
            if as_is:
                xb = nhwc[n0:n0 + n]
            else:
                xb = xb_buf[:n]
                xb[:, ph:ph + H, pw:pw + W] = nhwc[n0:n0 + n]          # pad and go channels-last in one copy
            sN, sH, sW, sC = xb.strides
            fields = np.lib.stride_tricks.as_strided(                  # (n, Ho, Wo, kh, kw, C), no copy
                xb, (n, Ho, Wo, kh, kw, C), (sN, sh * sH, sw * sW, dh * sH, dw * sW, sC))
            cols = cols_buf[:n]
            cols[...] = fields                                         # the pass's unfolding, in cache
            sums[k] += cols.reshape(n * rows, K).T @ gy_cl[n0 * rows:(n0 + n) * rows]   # (K, O)

    threads.run_split(passes, len(starts))
    return sums[0] if T == 1 else sums.sum(axis=0)
