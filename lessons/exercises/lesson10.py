"""Lesson 10 exercises: the two numbers that measure a generator, the classifier score and the Fréchet distance.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson10 tests/test_lesson10.py`` (or
``check(10, "exercises")``). Plain NumPy here: these are measurements, nothing needs a gradient.
"""

import numpy as np


def classifier_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """Exercise 10.1. The classifier (Inception) score exp(E_x[KL(p(y|x) ‖ p(y))]) of class probabilities
    ``probs`` (N, K), one row p(y|x) per image, where p(y) = the mean of the rows (the marginal, (K,)).

    KL(p ‖ q) = Σ_k p_k·(log p_k − log q_k); add ``eps`` inside each log so that probabilities of exactly 0 give
    0·log(eps) = 0 rather than NaN. Return a Python float, between 1 and K."""
    raise NotImplementedError("exercise 10.1: write classifier_score (lessons/exercises/lesson10.py)")


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Exercise 10.2. The squared Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂), means (D,), covariances (D, D):

        d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr (Σ₁Σ₂)^½

    For tr (Σ₁Σ₂)^½ use symmetric eigendecompositions (``np.linalg.eigh``), as the lesson derives: with
    Σ₁ = V diag(w) Vᵀ, Σ₁^½ = V diag(√w) Vᵀ; the symmetric M = Σ₁^½ Σ₂ Σ₁^½ has the same eigenvalues λᵢ as Σ₁Σ₂,
    and tr (Σ₁Σ₂)^½ = Σᵢ √λᵢ. Clip eigenvalues that rounding makes slightly negative to 0 before √.
    Return a Python float."""
    raise NotImplementedError("exercise 10.2: write frechet_distance (lessons/exercises/lesson10.py)")
