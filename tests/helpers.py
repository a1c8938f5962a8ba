"""Helpers shared by the test files (tests/ is on the import path: ``from helpers import f64``)."""

import numpy as np

import minigen


def f64(values, requires_grad=True, device="cpu"):
    """``values`` (a number, a nested list or a NumPy array) as a float64 tensor on ``device``.

    float64 because gradient checks compare against finite differences, which float32 rounding would drown;
    requiring grad by default because that is what most tests check. Random inputs: ``f64(rng.standard_normal(
    shape))`` with a seeded ``rng = np.random.default_rng(seed)``."""
    return minigen.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad, device=device)
