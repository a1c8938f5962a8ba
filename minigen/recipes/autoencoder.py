"""Recipes for the autoencoder (``ae``) and the variational autoencoder (``vae``).

The autoencoder minimises the Bernoulli cross-entropy of its reconstruction: x (N, 28, 28) in [0, 1] → logits
(N, 784), BCE with logits summed over pixels and averaged over the batch (nats per image, models/autoencoder.py).
The VAE minimises −ELBO summed over the batch, BCE(logits, x) summed over pixels + KL(N(μ, σ²) ‖ N(0, I)) summed
over latent dimensions (models/vae.py derives both terms), and reports it per image in nats, as pytorch/examples
does; ``--binarize`` draws each pixel as 1 with probability equal to its intensity, afresh every batch (the usual
protocol for Bernoulli likelihoods), and ``--iw-samples k`` adds the importance-weighted bound
log (1/k) Σ p(x, zᵢ)/q(zᵢ|x), a tighter estimate of −log p(x), to the test numbers. Pictures (drawn by
``minigen.pictures`` from ``encode``, ``decode`` and ``reconstruct``): samples from fixed codes each epoch,
reconstructions, interpolations between the codes of test images, and for a 2-D code the decoder's map of the code
space and the test images' codes.
"""

from __future__ import annotations

import numpy as np

from .. import data, optim
from ..autograd import no_grad
from ..creation import tensor
from ..models import VAE, Autoencoder, ConvAutoencoder, ConvVAE, importance_weighted_nll, loss_function
from ..models.autoencoder import reconstruction_loss
from ..ops import sigmoid
from .base import Recipe, update


class AERecipe(Recipe):
    name = "ae"
    defaults = dict(epochs=10, batch_size=128, lr=1e-3, latent_dim=16, arch="mlp")
    pictures = ("reconstructions", "code_interpolation", "latent_map")

    def __init__(self, config, device):
        super().__init__(config, device)
        self.model = self.build().to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def build(self):
        cls = ConvAutoencoder if self.config["arch"] == "conv" else Autoencoder
        return cls(self.config["latent_dim"])

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"optimizer": self.optimizer}

    def loss(self, x):
        """The training loss of a batch x (N, 28, 28) in [0, 1], and the number to report (nats per image)."""
        loss = reconstruction_loss(self.model(x), x)
        return loss, loss

    def train_step(self, x, y, step):
        loss, reported = self.loss(x)
        update(self.optimizer, loss)
        return {"loss": reported}

    @no_grad()
    def evaluate(self, loader):
        total, n = 0.0, 0
        for x, _ in loader:
            total += reconstruction_loss(self.model(x), x).item() * x.shape[0]
            n += x.shape[0]
        return {"test_loss": total / n}

    # --- what the pictures use ---------------------------------------------------------------------------
    @no_grad()
    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images (N, 28, 28) → codes (N, latent_dim) (the VAE: the means μ(x))."""
        return self.model.encode(tensor(images, device=self.device)).numpy()

    @no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Codes (N, latent_dim) → images (N, 28, 28) in [0, 1]."""
        return sigmoid(self.model.decode(tensor(z, device=self.device))).numpy().reshape(-1, 28, 28)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(images))

    def sample(self, noise, labels=None, rng=None):
        return self.decode(noise)


class VAERecipe(AERecipe):
    """The pytorch/examples VAE by default: 784-400-20, Adam 1e-3, batch 128, BCE sum + KL, pixels in [0, 1]."""
    name = "vae"
    defaults = dict(epochs=10, batch_size=128, lr=1e-3, latent_dim=20, hidden=[400], arch="mlp",
                    binarize=False, iw_samples=0)

    def build(self):
        if self.config["arch"] == "conv":
            return ConvVAE(self.config["latent_dim"])
        return VAE(self.config["latent_dim"], tuple(self.config["hidden"]))

    def transform(self, train):
        steps = [data.ToFloat()] + ([data.Binarize()] if self.config["binarize"] else [])
        return data.Compose(steps)

    def loss(self, x):
        logits, mu, logvar = self.model(x)
        loss = loss_function(logits, x, mu, logvar)   # −ELBO summed over the batch, as PyTorch's example
        # (Adam is nearly scale-free, but its ε is not: keep the example's scale, report nats per image)
        return loss, loss / x.shape[0]

    @no_grad()
    def evaluate(self, loader):
        total, nll, n = 0.0, 0.0, 0
        k = self.config.get("iw_samples", 0)
        for x, _ in loader:
            logits, mu, logvar = self.model(x)
            total += loss_function(logits, x, mu, logvar).item()
            if k:
                nll += float(importance_weighted_nll(self.model, x, k).sum().item())
            n += x.shape[0]
        out = {"test_loss": total / n}
        if k:
            out[f"test_nll_iw{k}"] = nll / n
        return out

    @no_grad()
    def encode(self, images):
        return self.model.encode(tensor(images, device=self.device))[0].numpy()   # the means μ(x)
