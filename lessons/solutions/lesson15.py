"""Lesson 15 reference answers (try the exercises in ``lessons/exercises/lesson15.py`` first)."""

import numpy as np


def ddim_step(x_t, eps, abar_t, abar_s, eta, z):
    """x̂₀ from ε̂, then x_s = √ᾱ_s x̂₀ + √(1 − ᾱ_s − σ²) ε̂ + σ z."""
    x0 = (x_t - np.sqrt(1 - abar_t) * eps) / np.sqrt(abar_t)
    sigma = eta * np.sqrt((1 - abar_s) / (1 - abar_t)) * np.sqrt(1 - abar_t / abar_s)
    return np.sqrt(abar_s) * x0 + np.sqrt(max(1 - abar_s - sigma ** 2, 0.0)) * eps + sigma * z


def guide(eps_c, eps_u, w):
    """Start from the unconditional prediction and move w times the difference towards the conditional one."""
    return eps_u + w * (eps_c - eps_u)
