"""Lesson 01 reference answers (try the exercises in ``lessons/exercises/lesson01.py`` first)."""

import numpy as np

import minigen


def topological_order(root) -> list:
    """Depth-first with an explicit stack. A node is pushed twice: once to expand it (push its inputs), and
    once, below its inputs, to be appended when everything above it (its inputs, recursively) is done."""
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._prev)
    return order


class SiLU(minigen.Function):
    """y = x·σ(x);  dy/dx = σ(x) + x·σ(x)(1 − σ(x)) = σ(x)·(1 + x·(1 − σ(x)))."""

    def forward(self, x):
        return x * (0.5 * (1 + np.tanh(0.5 * x)))       # Python floats keep float32 float32 (NEP 50)

    def backward(self, g):
        x, = self.inputs
        s = minigen.sigmoid(x)
        return g * s * (1 + x * (1 - s))


def silu(x):
    return SiLU()(x)
