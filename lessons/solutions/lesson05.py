"""Lesson 05 reference answers (try the exercises in ``lessons/exercises/lesson05.py`` first)."""

import numpy as np


def output_padding_for(size_in: int, size_out: int, kernel: int, stride: int, padding: int,
                       dilation: int = 1) -> int:
    natural = (size_in - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1   # with output_padding 0
    output_padding = size_out - natural
    if not 0 <= output_padding < max(stride, dilation):
        raise ValueError(f"no output_padding maps {size_in} to {size_out} with kernel {kernel}, stride {stride}, "
                         f"padding {padding}, dilation {dilation}: without it the output has {natural} rows, "
                         f"and output_padding can add 0 to {max(stride, dilation) - 1}")
    return output_padding


def conv_transpose2d_stamps(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0,
                            output_padding: int = 0) -> np.ndarray:
    N, C, H, W = x.shape
    _, O, kh, kw = w.shape
    Ho = (H - 1) * stride - 2 * padding + kh + output_padding
    Wo = (W - 1) * stride - 2 * padding + kw + output_padding
    full = np.zeros((N, O, (H - 1) * stride + kh + output_padding, (W - 1) * stride + kw + output_padding),
                    dtype=np.result_type(x, w))                         # the output before cropping the padding
    for a in range(H):
        for b in range(W):
            stamp = np.tensordot(x[:, :, a, b], w, axes=(1, 0))        # (N, C) · (C, O, kh, kw) → (N, O, kh, kw)
            full[:, :, a * stride:a * stride + kh, b * stride:b * stride + kw] += stamp
    return full[:, :, padding:padding + Ho, padding:padding + Wo]
