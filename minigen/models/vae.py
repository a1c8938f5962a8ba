"""The variational autoencoder (Kingma & Welling, 2014), MLP and convolutional.

An encoder maps an image x to a Gaussian q(z|x) = N(μ(x), diag σ²(x)) over latent codes; a decoder maps a code
z to Bernoulli pixel probabilities p(x|z) = Bern(sigmoid(logits(z))); the prior is p(z) = N(0, I). Training
maximises the evidence lower bound on log p(x):

    ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))
    log p(x|z) = −BCE_with_logits(logits(z), x) summed over the 784 pixels
    KL = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²)            (closed form for two Gaussians)

Reparameterisation: z = μ + σ·ε with ε ~ N(0, I) drawn outside the graph, so gradients flow into μ and σ.
σ = exp(½ log σ²): the encoder outputs log σ², and the *half* matters (a classic bug uses exp(log σ²)).

Loss = −ELBO in nats per image (PyTorch's examples report the sum over a batch divided by its size).
Test NLL: the importance-weighted bound (Burda et al., 2016) with k samples z_i ~ q(z|x),
    log p(x) ≥ log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x),
tightens toward log p(x) as k grows; −(that) is the reported NLL.
"""

from __future__ import annotations

import math

from .. import nn
from ..autograd import Tensor, no_grad
from ..creation import randn
from ..nn import functional as F
from ..ops import cat, exp, logsumexp, sum as tsum

LOG_2PI = math.log(2 * math.pi)


class VAE(nn.Module):
    """MLP VAE: 784 → hidden… (ReLU) → μ, log σ²;  z → …hidden (ReLU) → 784 logits."""

    def __init__(self, latent_dim: int = 20, hidden=(400,), image_size: int = 784):
        super().__init__()
        self.latent_dim, self.image_size = latent_dim, image_size
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        sizes = (image_size,) + hidden
        self.encoder = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.mu = nn.Linear(hidden[-1], latent_dim)
        self.logvar = nn.Linear(hidden[-1], latent_dim)
        sizes = (latent_dim,) + hidden[::-1]
        self.decoder = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())],
                                     nn.Linear(hidden[0], image_size))

    def encode(self, x):
        h = self.encoder(F.flatten(x, 1))                                  # (N, 784) → (N, hidden)
        return self.mu(h), self.logvar(h)                                  # (N, latent) each

    def decode(self, z):
        return self.decoder(z)                                             # (N, latent) → (N, 784) logits

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class ConvVAE(VAE):
    """Convolutional VAE for 28×28: two stride-2 convs down to 7×7, two 4/2/1 transposed convs back up."""

    def __init__(self, latent_dim: int = 20, channels: int = 32, hidden: int = 256):
        nn.Module.__init__(self)
        self.latent_dim, self.image_size = latent_dim, 784
        c = channels
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, c, 4, 2, 1), nn.ReLU(),                            # → (N, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),                        # → (N, 2c, 7, 7)
            nn.Flatten(), nn.Linear(2 * c * 49, hidden), nn.ReLU())         # → (N, hidden)
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * c * 49), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),               # → (N, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, 2, 1),                              # → (N, 1, 28, 28) logits
            nn.Flatten())                                                   # → (N, 784)


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """z = μ + σ·ε, σ = exp(½ log σ²), ε ~ N(0, I) from the device's generator."""
    eps = randn(*mu.shape, dtype=mu.dtype, device=mu.device)
    return mu + exp(0.5 * logvar) * eps


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) summed over latent dims: (N, latent) → (N,)"""
    return -0.5 * tsum(1.0 + logvar - mu * mu - exp(logvar), 1)


def loss_function(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """−ELBO summed over the batch (BCE sum + KL), as in PyTorch's example; divide by N for nats per image."""
    bce = F.binary_cross_entropy_with_logits(logits, F.flatten(x, 1), reduction="sum")
    return bce + tsum(kl_divergence(mu, logvar))


@no_grad()
def importance_weighted_nll(model: VAE, x: Tensor, k: int = 500, chunk: int = 100) -> Tensor:
    """−log p(x) estimated with k importance samples per image: (N, 784) → (N,) nats."""
    mu, logvar = model.encode(x)                                           # (N, latent)
    std = exp(0.5 * logvar)
    target = F.flatten(x, 1)
    log_w = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        eps = randn(m, *mu.shape, dtype=mu.dtype, device=mu.device)        # (m, N, latent)
        z = mu + std * eps
        logits = model.decode(z.reshape(-1, model.latent_dim)).reshape(m, x.shape[0], -1)   # (m, N, 784)
        log_px_z = -tsum(F.binary_cross_entropy_with_logits(logits, target.expand(m, *target.shape),
                                                            reduction="none"), 2)          # (m, N)
        log_pz = -0.5 * tsum(z * z + LOG_2PI, 2)
        log_qz = -0.5 * tsum(eps * eps + LOG_2PI + logvar, 2)              # log N(z; μ, σ²)
        log_w.append(log_px_z + log_pz - log_qz)
    log_w = cat(log_w, 0)                                                  # (k, N)
    return -(logsumexp(log_w, 0) - math.log(k))
