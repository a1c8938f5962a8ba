"""Recipes for the autoencoder (``ae``) and the variational autoencoder (``vae``).

The autoencoder minimises the Bernoulli cross-entropy of its reconstruction: x (N, 28, 28) in [0, 1] → logits
(N, 784), BCE with logits summed over pixels and averaged over the batch (nats per image, models/autoencoder.py).
The VAE minimises −ELBO summed over the batch, BCE(logits, x) summed over pixels + KL(N(μ, σ²) ‖ N(0, I)) summed
over latent dimensions (models/vae.py derives both terms), and reports it per image in nats, as pytorch/examples
does; ``--binarize`` draws each pixel as 1 with probability equal to its intensity, afresh every batch (the usual
protocol for Bernoulli likelihoods), and ``--iw-samples k`` adds the importance-weighted bound
log (1/k) Σ p(x, zᵢ)/q(zᵢ|x), a tighter estimate of −log p(x), to the test numbers. Pictures: samples from fixed
codes each epoch, reconstructions, interpolations, and for a 2-D code the decoder's map of the code space and the
test images' codes.
"""

from __future__ import annotations

import numpy as np

from .. import data, optim, viz
from ..autograd import no_grad
from ..creation import tensor
from ..models import (VAE, Autoencoder, ConvAutoencoder, ConvVAE, importance_weighted_nll, loss_function)
from ..models.autoencoder import reconstruction_loss
from ..ops import sigmoid
from .base import Recipe


class AERecipe(Recipe):
    name = "ae"
    defaults = dict(epochs=10, batch_size=128, lr=1e-3, latent_dim=16, arch="mlp")

    def __init__(self, config, device):
        super().__init__(config, device)
        cls = ConvAutoencoder if config["arch"] == "conv" else Autoencoder
        self.model = cls(config["latent_dim"]).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"optimizer": self.optimizer}

    def train_step(self, x, y):
        loss = reconstruction_loss(self.model(x), x)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss}

    @no_grad()
    def evaluate(self, loader):
        total, n = 0.0, 0
        for x, _ in loader:
            total += reconstruction_loss(self.model(x), x).item() * x.shape[0]
            n += x.shape[0]
        return {"test_loss": total / n}

    @no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(self.model.decode(tensor(z, device=self.device))).numpy().reshape(-1, 28, 28)

    def sample(self, noise, labels=None):
        return self.decode(noise)

    @no_grad()
    def final_pictures(self, run_dir, test_x, test_y):
        x = tensor(test_x[:16], device=self.device)
        recon = sigmoid(self.model(x)).numpy().reshape(-1, 28, 28)
        paths = [viz.reconstructions(test_x[:16].reshape(-1, 28, 28), recon, path=run_dir / "reconstructions.png")]
        # interpolate between the codes of pairs of test images
        z = self.model.encode(tensor(test_x[:16], device=self.device)).numpy()
        t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]
        rows = [self.decode((1 - t) * z[2 * i] + t * z[2 * i + 1]) for i in range(8)]
        paths.append(viz.interpolation(rows, path=run_dir / "interpolation.png"))
        if z.shape[1] == 2:
            paths += self._latent_pictures(run_dir, test_x, test_y)
        return paths

    def _latent_pictures(self, run_dir, test_x, test_y):
        with no_grad():
            z = self._codes(tensor(test_x[:2000], device=self.device))
        grid = np.linspace(-2.5, 2.5, 15, dtype=np.float32)
        points = np.stack(np.meshgrid(grid, -grid), axis=-1).reshape(-1, 2)  # rows top to bottom: z₂ falls
        return [viz.latent_map(self.decode(points), path=run_dir / "latent_map.png"),
                viz.latent_scatter(z, test_y[:2000], path=run_dir / "latent_scatter.png")]

    def _codes(self, x):
        return self.model.encode(x).numpy()


class VAERecipe(AERecipe):
    """The pytorch/examples VAE by default: 784-400-20, Adam 1e-3, batch 128, BCE sum + KL, pixels in [0, 1]."""
    name = "vae"
    defaults = dict(epochs=10, batch_size=128, lr=1e-3, latent_dim=20, hidden=[400], arch="mlp",
                    binarize=False, iw_samples=0)

    def __init__(self, config, device):
        Recipe.__init__(self, config, device)
        if config["arch"] == "conv":
            self.model = ConvVAE(config["latent_dim"]).to(device)
        else:
            self.model = VAE(config["latent_dim"], tuple(config["hidden"])).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def transform(self, train):
        steps = [data.ToFloat()] + ([data.Binarize()] if self.config["binarize"] else [])
        return data.Compose(steps)

    def train_step(self, x, y):
        logits, mu, logvar = self.model(x)
        loss = loss_function(logits, x, mu, logvar)  # −ELBO summed over the batch, as PyTorch's example
        self.optimizer.zero_grad()
        loss.backward()  # (Adam is nearly scale-free, but its ε is not: keep the example's scale)
        self.optimizer.step()
        return {"loss": loss / x.shape[0]}  # reported in nats per image

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

    def _codes(self, x):
        return self.model.encode(x)[0].numpy()  # the means μ(x)

    @no_grad()
    def final_pictures(self, run_dir, test_x, test_y):
        x = tensor(test_x[:16], device=self.device)
        recon = sigmoid(self.model.decode(self.model.encode(x)[0])).numpy().reshape(-1, 28, 28)
        paths = [viz.reconstructions(test_x[:16].reshape(-1, 28, 28), recon, path=run_dir / "reconstructions.png")]
        mu = self._codes(tensor(test_x[:16], device=self.device))
        t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]
        rows = [self.decode((1 - t) * mu[2 * i] + t * mu[2 * i + 1]) for i in range(8)]
        paths.append(viz.interpolation(rows, path=run_dir / "interpolation.png"))
        if self.config["latent_dim"] == 2:
            paths += self._latent_pictures(run_dir, test_x, test_y)
        return paths

