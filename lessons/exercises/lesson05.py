"""Lesson 05 exercises: the output_padding a transposed convolution needs, and the layer written as stamps.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson05`` (or ``check(5, "exercises")``).
"""

import numpy as np


def output_padding_for(size_in: int, size_out: int, kernel: int, stride: int, padding: int,
                       dilation: int = 1) -> int:
    """Exercise 5.1. The output_padding that makes ``conv_transpose2d`` map ``size_in`` rows to ``size_out``.

    Raise ``ValueError`` if no valid output_padding (0 ≤ output_padding < max(stride, dilation)) gives
    ``size_out``. The size formula is in section 3 of the lesson."""
    raise NotImplementedError("exercise 5.1: write output_padding_for (lessons/exercises/lesson05.py)")


def conv_transpose2d_stamps(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0,
                            output_padding: int = 0) -> np.ndarray:
    """Exercise 5.2. The transposed convolution as stamps: x (N, C, H, W), w (C, O, kh, kw) → (N, O, Ho, Wo).

    Every input pixel x[n, c, a, b] adds x[n, c, a, b] · w[c] (O, kh, kw) into the output at rows
    a·stride … a·stride + kh − 1 and columns b·stride … b·stride + kw − 1 of an output that is ``padding``
    rows and columns too big on every side (the extra ``output_padding`` rows and columns at the end stay
    zero); then crop ``padding`` from every side. Ho = (H − 1)·stride − 2·padding + kh + output_padding.
    Hint: for one (a, b), ``np.tensordot(x[:, :, a, b], w, axes=(1, 0))`` is every image's stamp at once."""
    raise NotImplementedError("exercise 5.2: write conv_transpose2d_stamps (lessons/exercises/lesson05.py)")
