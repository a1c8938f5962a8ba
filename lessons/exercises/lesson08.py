"""Lesson 08 exercises: the reparameterization trick, and the KL term of the ELBO.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson08`` (or ``check(8, "exercises")``).
"""

import minigen


def reparameterize(mu, logvar, eps):
    """Exercise 8.1. z = μ + σ·ε, where the encoder gives log σ² (``logvar``) and ``eps`` ~ N(0, I) is passed in.
    All three have shape (N, d). Use minigen ops so that gradients reach ``mu`` and ``logvar``."""
    raise NotImplementedError("exercise 8.1: write reparameterize (lessons/exercises/lesson08.py)")


def kl_divergence(mu, logvar):
    """Exercise 8.2. KL(N(μ, diag σ²) ‖ N(0, I)) for each row: (N, d), (N, d) → (N,), summed over the d latent
    dimensions; per dimension ½(σ² + μ² − 1 − log σ²). Use minigen ops (``.exp()``, ``*``, ``.sum(1)``)."""
    raise NotImplementedError("exercise 8.2: write kl_divergence (lessons/exercises/lesson08.py)")
