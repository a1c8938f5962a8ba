"""Lesson 14 exercises: the closed-form forward process q(x_t | x₀), and the reverse step's posterior.

NumPy arrays in, NumPy arrays out. Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson14
tests/test_lesson14.py`` (or ``check(14, "exercises")``).
"""

import numpy as np


def q_sample(x0, t, noise, alpha_bar):
    """Exercise 14.1. x_t = √ᾱ_t · x₀ + √(1 − ᾱ_t) · ε, one step per example.

    ``x0`` (N, …) clean data, any number of axes after the first; ``t`` (N,) integer steps in 0 … T − 1;
    ``noise`` ε, the same shape as x0; ``alpha_bar`` (T,) the cumulative products ᾱ_t = α_0 ⋯ α_t (array
    indices, as in the lesson's code: ``alpha_bar[t]`` is ᾱ after t + 1 noising steps). Pick ᾱ_t for
    each example and reshape it to (N, 1, …, 1) so that it multiplies the whole example (an (N,) array times an
    (N, D) array would broadcast along the *last* axis instead). Return x_t, shaped like x0."""
    raise NotImplementedError("exercise 14.1: write q_sample (lessons/exercises/lesson14.py)")


def posterior(x0, x_t, t, betas):
    """Exercise 14.2. The mean and variance of q(x_{t−1} | x_t, x₀) for one integer step t (0 … T − 1):

        μ̃ = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x₀ + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t,
        β̃ = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t),

    with α_t = 1 − β_t, ᾱ_t = α_0 ⋯ α_t (``np.cumprod``; array indices as in 14.1) and ᾱ_{−1} = 1 (at t = 0 the
    step returns x₀ exactly: mean x₀, variance 0; beware: in NumPy ``alpha_bar[t - 1]`` at t = 0 silently reads
    the *last* entry). ``x0`` and ``x_t`` are arrays of the same shape, ``betas`` (T,). Return (mean, variance):
    an array like x0 and a float."""
    raise NotImplementedError("exercise 14.2: write posterior (lessons/exercises/lesson14.py)")
