"""Lesson 17 reference answers (try the exercises in ``lessons/exercises/lesson17.py`` first)."""

import numpy as np


def replace(x, y_noised, mask):
    """Known pixels (mask 1) from y_noised, the rest from x; the mask broadcasts over batch and channels."""
    return mask * y_noised + (1 - mask) * x                                       # (N, C, H, W)


def down(x, scale):
    """(N, C, H, W) → (N, C, H/scale, W/scale): the mean of each scale×scale block."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // scale, scale, w // scale, scale).mean(axis=(3, 5))


def up(y, scale):
    """(N, C, h, w) → (N, C, h·scale, w·scale): each value repeated scale×scale times."""
    return np.repeat(np.repeat(y, scale, axis=2), scale, axis=3)


def project(x, y_low, scale):
    """Remove x's block means, put y_low's in: P = up ∘ down is the projection onto block-constant images."""
    return (x - up(down(x, scale), scale) + up(y_low, scale)).astype(x.dtype)
