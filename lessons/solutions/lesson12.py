"""Lesson 12 reference answers (try the exercises in ``lessons/exercises/lesson12.py`` first)."""

import minigen


def interpolates(real, fake, u):
    """α = u as (N, 1, …, 1); x̂ built from detached inputs, then made a leaf that requires grad."""
    alpha = u.reshape(u.shape[0], *([1] * (real.ndim - 1)))                       # (N,) → (N, 1, …, 1)
    x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()                   # (N, …)
    return x_hat.detach().requires_grad_(True)


def gradient_penalty(critic, real, fake, u, eps=1e-12):
    """The gradient of the summed scores is every example's own gradient (scores do not mix examples);
    create_graph=True keeps it differentiable in the critic's weights."""
    x_hat = interpolates(real, fake, u)                                           # (N, …)
    (g,) = minigen.grad(critic(x_hat).sum(), x_hat, create_graph=True)            # (N, …)
    norms = ((g * g).reshape(g.shape[0], -1).sum(dim=1) + eps).sqrt()             # (N,)
    return ((norms - 1) ** 2).mean()
