"""Lesson 17 exercises: the two steering steps of restoration, replacement (inpainting) and the consistency
projection (super-resolution).

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson17 tests/test_lesson17.py`` (or
``check(17, "exercises")``).

Both functions take and return NumPy arrays (float32 or float64). They use only
arithmetic, reshaping and broadcasting, so the same code would also run on minigen tensors, but the checks call
them with arrays.
"""

import numpy as np


def replace(x, y_noised, mask):
    """Exercise 17.1. One replacement step of inpainting: mask ⊙ y_noised + (1 − mask) ⊙ x.

    ``x`` (N, C, H, W): the current state of the reverse process (what the network made at this level).
    ``y_noised`` (N, C, H, W): the observation already noised to the same level (``Process.noise_to``: not this
    function's job). ``mask``: 1 on the *known* pixels, 0 on the pixels to fill, of any shape that broadcasts to
    (N, C, H, W): (H, W), (1, 1, H, W) for one mask for the whole batch, (N, 1, H, W) for one per image.
    Return an array of x's shape that holds y_noised where the mask is 1 and x where it is 0."""
    raise NotImplementedError("exercise 17.1: write replace (lessons/exercises/lesson17.py)")


def project(x, y_low, scale):
    """Exercise 17.2. The consistency projection of super-resolution: x − up(down(x)) + up(y_low).

    ``x`` (N, C, H, W) with H and W multiples of ``scale``; ``y_low`` (N, C, H/scale, W/scale).
    down: the mean over each scale×scale block, (N, C, H, W) → (N, C, H/scale, W/scale) (reshape to
    (N, C, H/scale, scale, W/scale, scale) and average over the two block axes);
    up: each value repeated scale×scale times, (N, C, h, w) → (N, C, h·scale, w·scale) (``np.repeat`` along
    both axes: no interpolation, no zeros in between).
    The result keeps everything of x that block means cannot see and takes its block means from y_low:
    down(project(x, y_low)) equals y_low."""
    raise NotImplementedError("exercise 17.2: write project (lessons/exercises/lesson17.py)")
