"""Lesson 16 exercises: the straight path between data and noise with its velocity, and one Heun step.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson16 tests/test_lesson16.py`` (or
``check(16, "exercises")``).
"""

import numpy as np  # noqa: F401  (you will need it)


def flow_pair(x0, eps, t):
    """Exercise 16.1. The point x_t on the straight path from data to noise, and the velocity to regress on.

    NumPy arrays in, NumPy arrays out. ``x0`` (data) and ``eps`` (noise) have the same shape (N, …), any number of
    axes: (N, 2) ring points, (N, 1, 28, 28) images. ``t`` holds one time per example, shape (N,), values in
    [0, 1]; minigen's convention: t = 0 is the data, t = 1 the noise. Return the pair (x_t, v), both shaped like
    x0:

        x_t = (1 − t) x0 + t ε,      v = dx_t/dt = ε − x0.

    Reshape t to (N, 1, …, 1), as many 1s as x0 has axes after the first, so that example i is mixed with its own
    t[i]: a t of shape (N,) times an (N, D) batch would broadcast along the *last* axis instead."""
    raise NotImplementedError("exercise 16.1: write flow_pair (lessons/exercises/lesson16.py)")


def heun_step(velocity, x, t, t_next):
    """Exercise 16.2. One step of Heun's method (the trapezoid rule) for dx/dt = velocity(x, t), from t to t_next.

    ``velocity(x, t)`` takes an array x (any shape) and a float t and returns an array shaped like x; ``x`` is a
    NumPy array, ``t`` and ``t_next`` floats. With h = t_next − t (negative when sampling, which runs from t = 1
    to t = 0; the step must work in both directions):

    1. the slope where we stand, v₁ = velocity(x, t);
    2. Euler's guess of the far end, x̃ = x + h v₁;
    3. the slope there, v₂ = velocity(x̃, t_next);
    4. return x + h (v₁ + v₂)/2: the step with the mean of the two slopes.

    Two velocity evaluations per step. Return the new x, shaped like x."""
    raise NotImplementedError("exercise 16.2: write heun_step (lessons/exercises/lesson16.py)")
