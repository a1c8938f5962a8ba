"""Winograd's minimal filtering F(2×2, 3×3): a 3×3 stride-1 convolution with 2.25× fewer multiplications.

(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016.) Read ``conv.py`` first: this file
computes the same y = conv2d(x, w) for the commonest case (3×3 kernel, stride 1, dilation 1, one group) on
arrays, and gives the same result up to rounding.

**F(2, 3) in one dimension.** Two outputs of a 3-tap correlation read four inputs d₀…d₃:

    y₀ = d₀g₀ + d₁g₁ + d₂g₂
    y₁ = d₁g₀ + d₂g₁ + d₃g₂                                        6 multiplications

Winograd's algorithm does it with 4, by evaluating the two products of polynomials at 0, 1, −1 and ∞:

    m₀ = (d₀ − d₂)·g₀                      m₁ = (d₁ + d₂)·(g₀ + g₁ + g₂)/2
    m₃ = (d₁ − d₃)·g₂                      m₂ = (d₂ − d₁)·(g₀ − g₁ + g₂)/2
    y₀ = m₀ + m₁ + m₂                      y₁ = m₁ − m₂ − m₃

(expand: m₁ + m₂ = d₁g₁ + d₂g₀ + d₂g₂, m₁ − m₂ = d₁g₀ + d₁g₂ + d₂g₁, and the rest cancels). In matrices,
y = Aᵀ[(G g) ⊙ (Bᵀ d)] with ⊙ the elementwise product and

         ⎡1  0 −1  0⎤            ⎡ 1    0    0 ⎤
    Bᵀ = ⎢0  1  1  0⎥        G = ⎢ 1/2  1/2  1/2⎥        Aᵀ = ⎡1  1  1  0⎤
         ⎢0 −1  1  0⎥            ⎢ 1/2 −1/2  1/2⎥             ⎣0  1 −1 −1⎦
         ⎣0  1  0 −1⎦            ⎣ 0    0    1 ⎦

Bᵀ (4×4) transforms a tile of the input, G (4×3) the kernel, Aᵀ (2×4) takes the four products back to outputs;
all their entries are 0, ±1 or ±½, so the transforms are additions (the ½ is exact in binary).

**Nesting to two dimensions.** A 2-D correlation is a 1-D correlation along rows whose "numbers" are 1-D
correlations along columns. Applying F(2, 3) to both axes gives F(2×2, 3×3): a 4×4 input tile d and the 3×3
kernel g give a 2×2 output tile

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A           U = G g Gᵀ (4×4),  V = Bᵀ d B (4×4)

with 16 multiplications, where the direct sum needs 2·2·3·3 = 36: 2.25× fewer. Over channels the sum over c
commutes with Aᵀ·A, so it can happen in the transformed space: for every one of the 16 positions (ξ, ν),

    M[ξ, ν] = V[ξ, ν] @ U[ξ, ν]        (tiles·N, C) @ (C, O)       16 independent matrix products
    Y = Aᵀ M A                          per tile and output channel

and the output transform is paid once per output channel, not once per input channel. The input is cut into
overlapping 4×4 tiles with stride 2 (neighbouring tiles share two rows/columns), padded with zeros at the far
edges when the output size is odd; the extra output row/column is cropped.

**Cost.** The products take 16·N·⌈Ho/2⌉·⌈Wo/2⌉·C·O multiply-adds, against 9·N·Ho·Wo·C·O for im2col: 2.25× fewer
when Ho and Wo are even (1.72× at 7×7, where 16 tiles cover 64 outputs for 49). The price is memory traffic: V is
4× the input and M is 4× the output, and the transforms are 8 and 12 strided additions. So, on the CPU:
- the batch goes through in passes of a few images (``CACHE_BYTES``; on a GPU, one pass), each pass's V and M
  small enough to stay in the processor's caches from the input transform through the products to the output
  transform;
- B is applied along the columns first: those steps read runs of only C contiguous numbers (one pixel), which
  NumPy runs at about half the speed of the long runs (rows of tiles) that the row steps read, so they get the
  smaller array (2× the input rather than 4×);
- the output transform writes each of the four pixels of a 2×2 tile straight into its place in the
  channels-last result, so no separate crop or reorder pass follows;
- the passes are independent, so the cores take turns (``threads.run_split``: thread k runs passes k, k + T, …
  with BLAS on one thread each), and every step of a pass, not only its products, runs on all cores.
Winograd wins when C and O are large enough that the products dominate. Measured on a shared 2-core VM (float32,
N = 128, padding 1, medians of 10 runs) with BLAS on one thread: 1.1–1.9× faster than conv.py's direct path for
C, O ≥ 32 (e.g. 64→64 channels at 14×14: 29–30 ms against 37–41 ms), even at 32→32 (28×28), and far slower with one
input channel (the transforms then cost more than the products they save). With both cores, the direct path's
single large product uses both while the transforms ran on one, and the direct path was as fast or faster for most
shapes, until the passes were shared out over the cores: then, batch 256, 32–256 channels, 7×7 to 28×28, Winograd
took 0.68–0.91 of the direct path's time. Later the direct path itself went into cache-sized passes on both
cores (``passes.py``), and those were faster still, 0.6–0.95 of Winograd's time on the same layers: the 2.25×
fewer multiplications come as sixteen small products (C × O each) and transforms that cost more than they save at
32–256 channels. So Winograd is off by default; ``conv.WINOGRAD = True`` switches it on for the convolutions
``conv.use_winograd`` accepts (float32, ≥ 16 channels).

**Accuracy.** The transforms add numbers of both signs before multiplying. Every step rounds: V (two additions
per entry), U (four), each entry of M (a sum of C products), Y (four additions): at most C + 10 roundings along
any path, so with the usual bound for sums (γ_n = n·u/(1 − n·u), u = 2⁻²⁴ in float32)

    |Ŷ − Y| ≤ γ_{C+10} · Σ_c Aᵀ[ (|G| |g| |Gᵀ|) ⊙ (|Bᵀ| |d| |B|) ] A

the same computation on absolute values. Expanded, it holds the products |g_i||d_i| of the direct sum and also
cross terms |g_i||d_j| (in one dimension, 8 coefficients in place of 3), but each product sums over C numbers
instead of 9·C. Measured on Gaussian data against float64, the largest error of an output relative to its
Σ|x||w| was at most 1.9e-7 (1.6 eps32) for C ≥ 16, the direct path's at most 3.3e-7; with one input channel
1.4e-6, where the cross terms outweigh the nine products of Σ|x||w|. tests/test_winograd.py checks the bound
on drawn shapes.

Only NumPy/CuPy operations that both libraries have are used (``xp_of``), so this runs on the GPU unchanged.
"""

from __future__ import annotations

import numpy as np

from .. import threads
from ..backend import xp_of


def _output_size(n: int, padding: int) -> int:
    """Output size of a 3×3 stride-1 conv: n + 2p − 2."""
    return n + 2 * padding - 2


def _tiles_size(out_hw):
    """(th, tw) tiles of 2×2 outputs and the padded size (Hb, Wb) = (2·th + 2, 2·tw + 2) they read."""
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    return th, tw, 2 * th + 2, 2 * tw + 2


def _padded(x, before, out_hw, buffer):
    """x (N, C, H, W) → x̃ (N, Hb, Wb, C) channels-last, with x placed at offset ``before`` (rows, columns;
    negative offsets crop x) and zeros elsewhere, written into ``buffer`` (N·Hb·Wb·C numbers). No copy when x
    is already stored channels-last (a conv's output) and needs no padding."""
    N, C, H, W = x.shape
    _, _, Hb, Wb = _tiles_size(out_hw)
    bh, bw = before
    nhwc = x.transpose(0, 2, 3, 1)                                    # a view
    if (bh, bw) == (0, 0) and (H, W) == (Hb, Wb) and nhwc.flags.c_contiguous:
        return nhwc
    xb = buffer[:N * Hb * Wb * C].reshape(N, Hb, Wb, C)
    # the part of x that lands inside x̃: rows r0 ≤ r < r1 of x go to rows bh + r
    r0, c0 = max(0, -bh), max(0, -bw)
    r1, c1 = min(H, Hb - bh), min(W, Wb - bw)
    top, left, bottom, right = bh + r0, bw + c0, bh + r1, bw + c1
    xb[:, :top], xb[:, bottom:], xb[:, top:bottom, :left], xb[:, top:bottom, right:] = 0, 0, 0, 0  # the border
    xb[:, top:bottom, left:right] = nhwc[:, r0:r1, c0:c1]            # pad and go channels-last in one copy
    return xb


def _input_transform(xb, th, tw, t, v):
    """x̃ (N, 2th + 2, 2tw + 2, C) → V (16, N·th·tw, C): V[ξ, ν] = Bᵀ d B for every 4×4 tile d (stride 2).

    B along columns first, on whole strided planes (tile b's columns are 2b … 2b + 3) into t (4, N, Hb, tw, C):
    half the width of x̃ four times; then Bᵀ along rows into v (4, 4, N, th, tw, C). Each of the 8 steps is one
    strided add or subtract written into the buffers t and v. This order because the column steps read runs of
    only C contiguous numbers (one pixel), which NumPy does at about half the speed of the long runs (whole
    rows of tiles) the row steps read: better on t (2× the input) than on v (4×)."""
    xp = xp_of(xb)
    d = [xb[:, :, k:k + 2 * tw:2] for k in range(4)]                 # column k of every tile: (N, Hb, tw, C)
    xp.subtract(d[0], d[2], out=t[0])                                 # Bᵀ's rows: d₀ − d₂, d₁ + d₂,
    xp.add(d[1], d[2], out=t[1])                                      #            d₂ − d₁, d₁ − d₃
    xp.subtract(d[2], d[1], out=t[2])
    xp.subtract(d[1], d[3], out=t[3])
    e = [t[:, :, k:k + 2 * th:2] for k in range(4)]                  # row k of every tile: (4, N, th, tw, C)
    xp.subtract(e[0], e[2], out=v[0])                                 # v[ξ] holds (ν, N, th, tw, C)
    xp.add(e[1], e[2], out=v[1])
    xp.subtract(e[2], e[1], out=v[2])
    xp.subtract(e[1], e[3], out=v[3])
    N, C = xb.shape[0], xb.shape[3]
    return v.reshape(16, N * th * tw, C)


def _kernel_transform(w):
    """w (O, C, 3, 3) → U (16, C, O): U[ξ, ν] = G g Gᵀ for every (o, c), laid out for V @ U."""
    xp = xp_of(w)
    O, C = w.shape[:2]
    g = w.transpose(2, 3, 1, 0)                                        # (3, 3, C, O), a view

    def rows(a, out):                                                 # G along axis 0 of a (3, ...) → (4, ...)
        out[0] = a[0]
        xp.add(a[0], a[2], out=out[1])
        xp.subtract(out[1], a[1], out=out[2])                         # g₀ − g₁ + g₂
        out[1] += a[1]                                                # g₀ + g₁ + g₂
        out[1:3] *= 0.5
        out[3] = a[2]

    t = xp.empty((4, 3, C, O), dtype=w.dtype)
    rows(g, t)
    u = xp.empty((4, 4, C, O), dtype=w.dtype)                         # (ν, ξ, C, O): Gᵀ along the columns
    rows(t.transpose(1, 0, 2, 3), u)
    return xp.ascontiguousarray(u.transpose(1, 0, 2, 3)).reshape(16, C, O)


def _output_transform(m, th, tw, s, y):
    """M (16, N·th·tw, O) → y (N, Ho, Wo, O) channels-last: Y = Aᵀ M A per tile, each of the four pixels of a
    2×2 output tile written straight into its place in y (odd sizes cropped on the way). s: a buffer
    (2, 4, N, th, tw, O) for Aᵀ M."""
    xp = xp_of(m)
    N, Ho, Wo, O = y.shape
    m = m.reshape(4, 4, N, th, tw, O)
    xp.add(m[0], m[1], out=s[0])                                      # Aᵀ along ξ: (r, ν, N, th, tw, O)
    s[0] += m[2]                                                      # m₀ + m₁ + m₂
    xp.subtract(m[1], m[2], out=s[1])
    s[1] -= m[3]                                                      # m₁ − m₂ − m₃
    for r in range(2):
        for q in range(2):                                            # output pixel (2a + r, 2b + q) of tile (a, b)
            nr, nq = len(range(r, Ho, 2)), len(range(q, Wo, 2))       # tiles that have it (crop odd sizes)
            out = y[:, r::2, q::2]
            a = s[r][:, :, :nr, :nq]                                  # (4, N, nr, nq, O)
            if q == 0:
                xp.add(a[0], a[1], out=out)
                out += a[2]
            else:
                xp.subtract(a[1], a[2], out=out)
                out -= a[3]


# On the CPU the batch goes through in passes of a few images, so that one pass's numbers (V and M: 16·th·tw·(C + O)
# per image) stay in the processor's caches from the padding to the output transform. Measured best at 2–8 MiB on a
# 2-core VM (1 MiB of L2 per core, 32 MiB of L3).
CACHE_BYTES = 4 << 20


def _images_per_pass(xp, N, th, tw, C, O, itemsize):
    if xp is not np:
        return N                                 # a GPU: one pass, the fewest kernel launches
    return max(1, min(N, CACHE_BYTES // (16 * th * tw * (C + O) * itemsize)))


def _winograd(x, w, before, out_hw):
    """The 3×3 correlation of x (placed at offset ``before`` in a zero background) with w, output ``out_hw``,
    as an (N, O, Ho, Wo) view of channels-last memory."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    O, dtype = w.shape[0], x.dtype
    th, tw, Hb, Wb = _tiles_size(out_hw)
    u = _kernel_transform(w)                                          # (16, C, O)
    y = xp.empty((N,) + tuple(out_hw) + (O,), dtype=dtype)           # (N, Ho, Wo, O)
    step = _images_per_pass(xp, N, th, tw, C, O, dtype.itemsize)

    def scratch(k):
        """One thread's buffers for passes of ``step`` images (see CACHE_BYTES)."""
        return (xp.empty(step * Hb * Wb * C, dtype=dtype), xp.empty(4 * step * Hb * tw * C, dtype=dtype),
                xp.empty(16 * step * th * tw * C, dtype=dtype), xp.empty(16 * step * th * tw * O, dtype=dtype),
                xp.empty(8 * step * th * tw * O, dtype=dtype))

    def work(buffers, n0, n):
        x_buf, t_buf, v_buf, m_buf, s_buf = buffers
        P = n * th * tw                                               # tiles in this pass
        xb = _padded(x[n0:n0 + n], before, out_hw, x_buf)            # (n, Hb, Wb, C)
        v = _input_transform(xb, th, tw, t_buf[:4 * n * Hb * tw * C].reshape(4, n, Hb, tw, C),
                             v_buf[:16 * P * C].reshape(4, 4, n, th, tw, C))           # (16, P, C)
        m = xp.matmul(v, u, out=m_buf[:16 * P * O].reshape(16, P, O))                  # 16 products at once
        _output_transform(m, th, tw, s_buf[:8 * P * O].reshape(2, 4, n, th, tw, O), y[n0:n0 + n])

    # the cores take turns over the passes (minigen/threads.py); a GPU has one pass, run in this thread
    threads.run_passes(N, step, work, scratch)
    return y.transpose(0, 3, 1, 2)                                     # (N, O, Ho, Wo), a view


def _check(x, w, padding):
    if x.ndim != 4 or w.ndim != 4 or tuple(w.shape[2:]) != (3, 3):
        raise ValueError(f"winograd: expected x (N, C, H, W) and w (O, C, 3, 3), got {x.shape} and {w.shape}")
    if x.dtype != w.dtype or x.dtype.kind != "f":
        raise TypeError(f"winograd: x and w must share one floating-point dtype, got {x.dtype} and {w.dtype}")
    ph, pw = padding
    if min(ph, pw) < 0:
        raise ValueError(f"winograd: padding must be ≥ 0, got {padding}")
    return ph, pw


def winograd_conv3x3(x, w, padding, out_hw=None):
    """conv2d(x, w) for a 3×3 kernel, stride 1, dilation 1, one group, by Winograd's F(2×2, 3×3).

    x (N, C, H, W) float32/float64 array (any strides; channels-last memory is read fastest), w (O, C, 3, 3)
    of the same dtype, padding (ph, pw) ≥ 0. Returns y (N, O, Ho, Wo), Ho = H + 2·ph − 2 (or ``out_hw``, at most
    that: the leading part of the output), as an NCHW view of channels-last memory, like conv.conv2d_array.
    """
    ph, pw = _check(x, w, padding)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"winograd: x has {x.shape[1]} channels, w {w.shape} expects {w.shape[1]}")
    natural = (_output_size(x.shape[2], ph), _output_size(x.shape[3], pw))
    out_hw = natural if out_hw is None else tuple(out_hw)
    if min(out_hw) <= 0 or out_hw[0] > natural[0] or out_hw[1] > natural[1]:
        raise ValueError(f"winograd: output size {out_hw} impossible for input {x.shape} and padding {padding}")
    return _winograd(x, w, (ph, pw), out_hw)


def winograd_conv3x3_input_grad(gy, w, padding, x_hw):
    """The input gradient of winograd_conv3x3 (= conv.conv2d_input_grad_array for this geometry).

    gy (N, O, Ho, Wo), w (O, C, 3, 3), padding (ph, pw) of the forward conv, x_hw = (H, W) its input size.
    x̄[n, c, u, v] = Σ_{o,i,j} gy[n, o, u + ph − i, v + pw − j]·w[o, c, i, j] is the correlation of gy, placed at
    offset (2 − ph, 2 − pw) in zeros, with the flipped, transposed kernel w'[c, o] = w[o, c, ::−1, ::−1]: a
    3×3 stride-1 conv again. Returns (N, C, H, W) as an NCHW view of channels-last memory.
    """
    ph, pw = _check(gy, w, padding)
    if w.shape[0] != gy.shape[1]:
        raise ValueError(f"winograd: gy has {gy.shape[1]} channels, w {w.shape} has {w.shape[0]} outputs")
    H, W = x_hw
    if gy.shape[2] > _output_size(H, ph) or gy.shape[3] > _output_size(W, pw):
        raise ValueError(f"winograd: gy {gy.shape} is larger than a conv of a {x_hw} input with padding "
                         f"{padding} gives")
    w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)             # (C, O, 3, 3), a view
    return _winograd(gy, w_flipped, (2 - ph, 2 - pw), (H, W))
