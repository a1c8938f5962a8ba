"""The generative adversarial network (Goodfellow et al., 2014): the MLP version and its losses.

A generator G maps noise z ~ N(0, I) to an image; a discriminator D maps an image to one logit, its belief that
the image is real. They play a two-player game:

    D maximises   E_x[log σ(D(x))] + E_z[log(1 − σ(D(G(z))))]       (tell real from generated)
    G minimises   E_z[log(1 − σ(D(G(z))))]                          (the minimax loss)

For a fixed G the best D is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and against D* the minimax loss is
2·JS(p_data ‖ p_G) − log 4: the game's equilibrium is p_G = p_data, where D says ½ everywhere.

**The non-saturating loss.** Early on D rejects G's images easily, σ(D(G(z))) ≈ 0, and the minimax loss is flat
there: ∂/∂a log(1 − σ(a)) = −σ(a) ≈ 0, so G learns nothing. G instead *maximises* log σ(D(G(z))), whose
gradient 1 − σ(a) ≈ 1 is largest exactly when G is worst. Same fixed point, far better gradients.

**Logits, not probabilities.** log σ(a) computed as log(sigmoid(a)) is log(0) = −∞ once σ(a) rounds to 0 in
float32 (a < −88). The losses below use ``binary_cross_entropy_with_logits``, i.e. softplus:

    −log σ(a) = softplus(−a),        −log(1 − σ(a)) = softplus(a)            (finite for every a)

    discriminator loss = BCE(D(x), 1) + BCE(D(G(z)), 0)     (each a batch mean; 2·log 2 ≈ 1.386 at equilibrium)
    generator loss     = BCE(D(G(z)), 1)                    (non-saturating)

The MLP GAN here: G 100 → 256 → 512 → 1024 → 784 (ReLU, tanh out, so images live in [−1, 1]);
D 784 → 1024 → 512 → 256 → 1 (LeakyReLU 0.2, Dropout 0.3; a leaky slope keeps gradients flowing to G where
ReLU would zero them, dropout keeps D from memorising the training set). The toy pair (``ToyGenerator``,
``ToyDiscriminator``) is the same idea on 2-D points, for the ring of 8 Gaussians.

**Walking the latent space** (``slerp``): a straight line between two samples of N(0, I) in 100 dimensions passes
through points of norm ≈ 0.7·√100, where the prior has almost no mass (its samples have norm ≈ √100); the great
circle between them keeps the norm typical, so every point on the walk is a z that G was trained on.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..creation import ones_like, zeros_like
from ..nn import functional as F


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between latent points a and b (D,) at fractions t (S, 1) → (S, D):
    (sin((1 − t)Ω)·a + sin(tΩ)·b) / sin Ω, with Ω the angle between a and b (a straight line when Ω ≈ 0)."""
    omega = np.arccos(np.clip(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)), -1, 1))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def discriminator_loss(real_logits, fake_logits):
    """BCE(D(x), 1) + BCE(D(G(z)), 0), on logits: (N, 1) and (M, 1) → a scalar."""
    return (F.binary_cross_entropy_with_logits(real_logits, ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits)))


def generator_loss(fake_logits):
    """The non-saturating generator loss BCE(D(G(z)), 1) = mean softplus(−D(G(z)))."""
    return F.binary_cross_entropy_with_logits(fake_logits, ones_like(fake_logits))


def mlp(sizes, activation, dropout: float = 0.0, last=None):
    """Linear layers ``sizes[0] → … → sizes[-1]`` with ``activation`` (and dropout) between, ``last`` after."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
            if dropout:
                layers.append(nn.Dropout(dropout))
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """z (N, 100) → 256 → 512 → 1024 → 784 → image (N, 1, 28, 28) in [−1, 1]."""

    def __init__(self, latent_dim: int = 100, hidden=(256, 512, 1024), image_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        size = 1
        for s in image_shape:
            size *= s
        self.net = mlp((latent_dim, *hidden, size), nn.ReLU, last=nn.Tanh())   # → (N, 784)

    def forward(self, z):
        return self.net(z).reshape((z.shape[0],) + self.image_shape)           # → (N, 1, 28, 28)


class Discriminator(nn.Module):
    """image (N, 1, 28, 28) → 784 → 1024 → 512 → 256 → 1 logit (N, 1)."""

    def __init__(self, hidden=(1024, 512, 256), image_size: int = 784, dropout: float = 0.3):
        super().__init__()
        self.net = mlp((image_size, *hidden, 1), lambda: nn.LeakyReLU(0.2), dropout)

    def forward(self, x):
        return self.net(F.flatten(x, 1))                                       # (N, 784) → (N, 1)


class ToyGenerator(nn.Module):
    """The ring's generator: z (N, latent) → 128 → 128 → a point (N, 2) (ReLU; no squashing at the end)."""

    def __init__(self, latent_dim: int = 2, hidden: int = 128, out: int = 2):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = mlp((latent_dim, hidden, hidden, out), nn.ReLU)

    def forward(self, z):
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """The ring's discriminator (or critic): a point (N, 2) → 128 → 128 → 1 (LeakyReLU 0.2)."""

    def __init__(self, hidden: int = 128, inp: int = 2):
        super().__init__()
        self.features = mlp((inp, hidden, hidden), lambda: nn.LeakyReLU(0.2), last=nn.LeakyReLU(0.2))  # → (N, 128)
        self.feature_dim = hidden
        self.head = nn.Linear(hidden, 1)                                       # → (N, 1)

    def forward(self, x):
        return self.head(self.features(x))
