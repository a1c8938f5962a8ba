"""WGAN-GP (Gulrajani et al., 2017): a critic that estimates the Wasserstein-1 distance, kept 1-Lipschitz by a
gradient penalty.

**Why.** When p_data and p_G live on thin, non-overlapping sets (images do), the Jensen–Shannon divergence behind
the original GAN is flat at log 2 and gives G no direction. The Wasserstein-1 (earth mover's) distance keeps
shrinking as p_G moves toward p_data, and Kantorovich–Rubinstein duality turns it into a maximisation over
1-Lipschitz functions f, the *critic*:

    W(p_data, p_G) = max over 1-Lipschitz f of  E_data[f(x)] − E_z[f(G(z))]

**The penalty.** The optimal critic has gradient norm 1 almost everywhere on lines between real and generated
points, so WGAN-GP softly enforces exactly that, at random points on such lines:

    x̂ = α·x + (1 − α)·G(z),      α ~ U[0, 1], one α per *example* (per pixel would leave the lines)
    GP = E[(‖∇f(x̂)‖₂ − 1)²]  (the gradient with respect to x̂),    ‖g‖₂ computed as √(Σ g² + ε)

The ε inside the square root matters: d√u/du = 1/(2√u) is infinite at u = 0, so an exactly zero gradient
(a dead critic region) would put NaN into the weights. Differentiating GP with respect to the critic's weights
differentiates a gradient: ``minigen.grad(f(x̂), x̂, create_graph=True)`` records that gradient as a graph of its
own, which ``backward`` then differentiates again (double backward through linear layers, convolutions and
activations).

    critic loss    = E[f(G(z))] − E[f(x)] + λ·GP        (λ = 10)     minimised by the critic
    generator loss = −E[f(G(z))]

Training: n_critic = 5 critic updates per generator update, Adam lr 1e-4, β = (0.5, 0.9). The critic has **no
batch normalisation**: the penalty is a per-example gradient, and batch norm mixes the examples of a batch
(each output would depend on every input). Nor dropout, which would make f a random function. The critic
returns a score, not a probability: no sigmoid, no log. E[f(x)] − E[f(G(z))] is the running estimate of W,
which should shrink as G improves.
"""

from __future__ import annotations

from ..autograd import grad
from ..creation import rand
from ..ops import sqrt
from .dcgan import DCGANDiscriminator


class Critic(DCGANDiscriminator):
    """The DCGAN discriminator without batch norm and without dropout: (N, 1, 28, 28) → (N, 1)."""

    def __init__(self, arch: str = "5x5", width: int = 64, channels: int = 1, hidden: int = 0):
        super().__init__(arch, width, channels, dropout=0.0, batchnorm=False, hidden=hidden)


def interpolate(real, fake, alpha=None):
    """x̂ = α·x + (1 − α)·x̃ with one α per example: (N, …) and (N, …) → (N, …), a leaf that requires grad."""
    if alpha is None:
        alpha = rand(real.shape[0], *([1] * (real.ndim - 1)), dtype=real.dtype, device=real.device)  # (N, 1, 1, 1)
    x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()
    return x_hat.detach().requires_grad_(True)


def gradient_penalty(critic, real, fake, alpha=None, eps: float = 1e-12):
    """E[(‖∇critic(x̂)‖₂ − 1)²], the gradient taken with respect to x̂, on interpolates of ``real`` and
    ``fake``; differentiable in the critic's weights (``alpha`` fixes the mixing weights, shape (N, 1, …); by
    default one uniform draw per example)."""
    x_hat = interpolate(real, fake, alpha)                                  # (N, 1, 28, 28)
    scores = critic(x_hat)                                                  # (N, 1)
    # Each score depends on its own example only, so the gradient of their sum is every per-example gradient.
    (g,) = grad(scores.sum(), x_hat, create_graph=True)                     # (N, 1, 28, 28)
    norms = sqrt((g * g).reshape(g.shape[0], -1).sum(dim=1) + eps)         # (N,)
    return ((norms - 1) ** 2).mean()


def critic_loss(real_scores, fake_scores, penalty, lam: float = 10.0):
    """E[f(G(z))] − E[f(x)] + λ·GP."""
    return fake_scores.mean() - real_scores.mean() + lam * penalty


def generator_loss(fake_scores):
    """−E[f(G(z))]."""
    return -fake_scores.mean()
