"""Lesson 15 exercises: the DDIM step, and the classifier-free guidance combination.

NumPy arrays in, NumPy arrays out. Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson15
tests/test_lesson15.py`` (or ``check(15, "exercises")``).
"""

import numpy as np


def ddim_step(x_t, eps, abar_t, abar_s, eta, z):
    """Exercise 15.1. One DDIM step from step t to an earlier step s, without clamping:

        x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t,
        σ  = η · √((1 − ᾱ_s)/(1 − ᾱ_t)) · √(1 − ᾱ_t/ᾱ_s),
        x_s = √ᾱ_s x̂₀ + √(1 − ᾱ_s − σ²) ε̂ + σ z.

    ``x_t``, ``eps`` (the network's ε̂) and ``z`` (standard normal noise) are arrays of one shape; ``abar_t`` and
    ``abar_s`` are the floats ᾱ_t and ᾱ_s (ᾱ_s > ᾱ_t; ᾱ_s = 1 means "the data": then σ = 0 and x_s = x̂₀);
    ``eta`` ≥ 0 (0: deterministic, 1: the ancestral step). Return x_s, shaped like x_t."""
    raise NotImplementedError("exercise 15.1: write ddim_step (lessons/exercises/lesson15.py)")


def guide(eps_c, eps_u, w):
    """Exercise 15.2. Classifier-free guidance: ε̃ = ε_u + w (ε_c − ε_u).

    ``eps_c`` the conditional prediction ε̂(x_t, t, y), ``eps_u`` the unconditional one ε̂(x_t, t, ∅), arrays of one
    shape; ``w`` a float: w = 0 gives the unconditional prediction, w = 1 the conditional one, w > 1 goes past
    it. Return ε̃."""
    raise NotImplementedError("exercise 15.2: write guide (lessons/exercises/lesson15.py)")
