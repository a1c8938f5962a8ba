"""Lesson 10 reference answers (try the exercises in ``lessons/exercises/lesson10.py`` first)."""

import numpy as np


def classifier_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    p = np.asarray(probs, dtype=np.float64)                          # (N, K): p(y|x), one row per image
    marginal = p.mean(axis=0, keepdims=True)                         # (1, K): p(y)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps))).sum(axis=1)  # (N,): KL(p(y|x) ‖ p(y))
    return float(np.exp(kl.mean()))


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """V diag(√w) Vᵀ from a = V diag(w) Vᵀ (symmetrised first: rounding can make a covariance a hair asymmetric)."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Σ₁Σ₂ = Σ₁^½ (Σ₁^½ Σ₂ Σ₁^½) Σ₁^−½ is similar to M = Σ₁^½ Σ₂ Σ₁^½, which is symmetric positive
    semi-definite: same eigenvalues, all ≥ 0, so tr (Σ₁Σ₂)^½ = Σ √λᵢ(M)."""
    root = _sqrt_psd(sigma1)
    m = root @ sigma2 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = np.asarray(mu1, dtype=np.float64) - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)
