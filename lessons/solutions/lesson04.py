"""Lesson 04 reference answers (try the exercises in ``lessons/exercises/lesson04.py`` first)."""

import numpy as np


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """The kernel covers span = d·(k − 1) + 1 rows. Its first row may sit at 0, s, 2s, ... as long as
    start + span ≤ size + 2p, that is start ≤ size + 2p − span: ⌊(size + 2p − span) / s⌋ + 1 positions."""
    span = dilation * (kernel - 1) + 1
    return (size + 2 * padding - span) // stride + 1


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    N, C, H, W = x.shape
    Ho = conv_output_size(H, kh, stride, padding)
    Wo = conv_output_size(W, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))     # (N, C, H + 2p, W + 2p)
    cols = np.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # tap (i, j) of output pixel (a, b) reads x̃[a·s + i, b·s + j]: rows i, i + s, ..., Ho of them
            cols[:, :, i, j] = xp[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride]
    return cols.reshape(N, C * kh * kw, Ho * Wo)
