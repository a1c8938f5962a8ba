"""Lesson 14 reference answers (try the exercises in ``lessons/exercises/lesson14.py`` first)."""

import numpy as np


def q_sample(x0, t, noise, alpha_bar):
    """ᾱ_t picked per example and shaped (N, 1, …, 1), then the closed form."""
    ab = np.asarray(alpha_bar)[np.asarray(t)].reshape(-1, *([1] * (np.ndim(x0) - 1)))     # (N, 1, …, 1)
    return np.sqrt(ab) * x0 + np.sqrt(1 - ab) * noise


def posterior(x0, x_t, t, betas):
    """ᾱ from the cumulative product, ᾱ_{−1} = 1; then Bayes' rule's mean and variance."""
    betas = np.asarray(betas, dtype=np.float64)
    alpha_bar = np.cumprod(1 - betas)
    ab_t, ab_prev = alpha_bar[t], (alpha_bar[t - 1] if t > 0 else 1.0)
    mean = (np.sqrt(ab_prev) * betas[t] / (1 - ab_t)) * x0 + (np.sqrt(1 - betas[t]) * (1 - ab_prev) / (1 - ab_t)) * x_t
    return mean, float(betas[t] * (1 - ab_prev) / (1 - ab_t))
