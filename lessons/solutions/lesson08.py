"""Lesson 08 reference answers (try the exercises in ``lessons/exercises/lesson08.py`` first)."""

import minigen


def reparameterize(mu, logvar, eps):
    """σ = exp(½·log σ²): the standard deviation. exp(log σ²) would be the variance."""
    return mu + (0.5 * logvar).exp() * eps


def kl_divergence(mu, logvar):
    """E_q[log q − log p] per dimension: q's log-density is −½((z − μ)/σ)² − log σ − ½ log 2π, p's is −½z² − ½ log 2π;
    under q, E[((z − μ)/σ)²] = 1 and E[z²] = μ² + σ², so KL = −½ − log σ + ½(μ² + σ²) = ½(σ² + μ² − 1 − log σ²)."""
    return 0.5 * (logvar.exp() + mu * mu - 1.0 - logvar).sum(1)
