"""Lesson 16 reference answers (try the exercises in ``lessons/exercises/lesson16.py`` first)."""

import numpy as np


def flow_pair(x0, eps, t):
    """t as (N, 1, …, 1) so that example i is mixed with its own t[i]; the velocity is the path's slope in t."""
    x0, eps = np.asarray(x0), np.asarray(eps)
    tb = np.asarray(t).reshape((-1,) + (1,) * (x0.ndim - 1))                     # (N,) → (N, 1, …, 1)
    return (1 - tb) * x0 + tb * eps, eps - x0                                       # (N, …), (N, …)


def heun_step(velocity, x, t, t_next):
    """The trapezoid rule with an Euler guess for the far end; h is signed, so either direction of time works."""
    h = t_next - t                                                                  # < 0 when sampling (1 → 0)
    v = velocity(x, t)                                                              # the slope where we stand
    x_guess = x + h * v                                                             # Euler's guess of x(t_next)
    return x + (h / 2) * (v + velocity(x_guess, t_next))                            # the mean of the two slopes
