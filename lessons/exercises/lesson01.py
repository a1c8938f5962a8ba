"""Lesson 01 exercises: a topological order without recursion, and an op of your own.

Replace each ``raise NotImplementedError`` with your code, then check it from the repository root with
``MINIGEN_CHECK=exercises python -m pytest -m lesson01`` (or ``check(1, "exercises")`` in the notebook).
"""

import numpy as np  # noqa: F401  (you will want it)

import minigen


def topological_order(root) -> list:
    """Exercise 1.1. Every node reachable from ``root`` through ``_prev`` (``root`` included), each exactly
    once, each *after* all the nodes in its ``_prev``; so ``reversed(...)`` is the order for backward.

    Use an explicit stack instead of recursion, so that chains of any length work. Compare nodes by identity
    (``id(node)``), not with ``==``: a tensor's ``==`` is elementwise."""
    raise NotImplementedError("exercise 1.1: write topological_order (lessons/exercises/lesson01.py)")


class SiLU(minigen.Function):
    """Exercise 1.2. y = x · σ(x), where σ(x) = 1 / (1 + e^(−x)).

    ``forward(x)`` gets a NumPy array and returns one of the same dtype (float32 in → float32 out). Avoid
    overflow for large |x|: σ(x) = ½·(1 + tanh(x/2)) never overflows.
    ``backward(g)`` gets ∂L/∂y as a tensor and returns ∂L/∂x = g · dy/dx, written with minigen operations
    (``minigen.sigmoid``, ``*``, ``+``, ``-``), so that gradients of gradients work. The input tensor is
    ``self.inputs[0]``."""

    def forward(self, x):
        raise NotImplementedError("exercise 1.2: write SiLU.forward (lessons/exercises/lesson01.py)")

    def backward(self, g):
        raise NotImplementedError("exercise 1.2: write SiLU.backward (lessons/exercises/lesson01.py)")


def silu(x):
    return SiLU()(x)
