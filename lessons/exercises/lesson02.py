"""Lesson 02 exercises: the numerical Jacobian, and a softmax backward to fix.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson02`` (or ``check(2, "exercises")``).
"""

import numpy as np

import minigen


def numerical_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Exercise 2.1. The Jacobian of ``f`` at ``x`` by central differences.

    ``f`` maps a float64 array (any shape) to an array (any shape). Return J of shape (y.size, x.size) with
    J[i, j] ≈ (f(x + eps·eⱼ)[i] − f(x − eps·eⱼ)[i]) / 2·eps, indices running over the flattened arrays
    (C order). Perturb a copy, one element at a time; ``x`` itself must be left unchanged."""
    raise NotImplementedError("exercise 2.1: write numerical_jacobian (lessons/exercises/lesson02.py)")


class Softmax(minigen.Function):
    """Exercise 2.2. Softmax along the last axis: yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ}.

    The forward is right. The backward passes a check seeded with ``.sum()`` but is wrong: find the mistake
    with ``minigen.gradcheck`` (a random upstream gradient) and fix it. Hint: ∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ − yⱼ)."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))        # shifted: never overflows
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, g):
        y = self.output()                                    # the forward's result, as a tensor
        return y * (g - g.mean(-1, keepdim=True))


def softmax(x):
    return Softmax()(x)
