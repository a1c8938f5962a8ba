"""The autoencoder: an encoder squeezes an image into a small code, a decoder rebuilds the image from it.

Trained to minimise the reconstruction error, here the Bernoulli cross-entropy of the pixels given the decoder's
logits (summed over the 784 pixels, averaged over the batch). Nothing makes the codes of a plain autoencoder
fill the space evenly, so decoding random codes gives poor images: the VAE fixes that (see vae.py).
"""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


class Autoencoder(nn.Module):
    """MLP: 784 → 512 → 128 → latent → 128 → 512 → 784 logits (ReLU between)."""

    def __init__(self, latent_dim: int = 16, hidden=(512, 128)):
        super().__init__()
        self.latent_dim = latent_dim
        sizes = (784,) + tuple(hidden) + (latent_dim,)
        layers = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*layers[:-1])                          # (N, 784) → (N, latent)
        sizes = sizes[::-1]
        layers = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*layers[:-1])                          # (N, latent) → (N, 784) logits

    def encode(self, x):
        return self.encoder(F.flatten(x, 1))

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class ConvAutoencoder(Autoencoder):
    """Conv: (1, 28, 28) → 32×14×14 → 64×7×7 → latent, and back with 4/2/1 transposed convs."""

    def __init__(self, latent_dim: int = 16, channels: int = 32):
        nn.Module.__init__(self)
        self.latent_dim = latent_dim
        c = channels
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, c, 4, 2, 1), nn.ReLU(),                            # → (N, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),                        # → (N, 2c, 7, 7)
            nn.Flatten(), nn.Linear(2 * c * 49, latent_dim))                # → (N, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 2 * c * 49), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),               # → (N, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Flatten())                # → (N, 784) logits


def reconstruction_loss(logits, x):
    """Bernoulli cross-entropy summed over pixels, averaged over the batch (nats per image)."""
    return F.binary_cross_entropy_with_logits(logits, F.flatten(x, 1), reduction="sum") / x.shape[0]
