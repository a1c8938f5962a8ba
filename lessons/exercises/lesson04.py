"""Lesson 04 exercises: the output size of a convolution, and im2col with stride and padding.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson04`` (or ``check(4, "exercises")``).
"""

import numpy as np


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Exercise 4.1. The output height (or width) of a convolution of an input of height ``size``.

    The padded input has ``size + 2·padding`` rows; a kernel with dilation d spans d·(kernel − 1) + 1 of them;
    count the positions 0, stride, 2·stride, ... where it still fits. (May be ≤ 0 when it never fits.)"""
    raise NotImplementedError("exercise 4.1: write conv_output_size (lessons/exercises/lesson04.py)")


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Exercise 4.2. x (N, C, H, W) → cols (N, C·kh·kw, Ho·Wo), rows ordered (c, i, j), columns (a, b):

        cols[n, (c, i, j), (a, b)] = x̃[n, c, a·stride + i, b·stride + j]

    where x̃ is x with ``padding`` zeros on every side. Loop over the kh·kw taps (i, j), not over pixels:
    tap (i, j) of every patch is one strided slice of x̃."""
    raise NotImplementedError("exercise 4.2: write im2col (lessons/exercises/lesson04.py)")
