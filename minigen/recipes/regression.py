"""Recipe for a task-specific restorer (``regression``): the U-Net of the diffusion models trained to map a degraded
image straight to the clean one, with the mean squared error.

This is what a user would train if they knew the degradation in advance: one network per task and setting
(``--task inpaint --mask bottom``, ``--task upscale --scale 4``, ``--task denoise --sigma 0.5``). Every batch is
degraded afresh (a new random mask, new noise), so the network sees each clean image under many degradations. Its
input is the observation on the 28×28 grid: the masked image (unknown pixels 0, mid-grey on the [−1, 1] scale),
the low-resolution image repeated k×k times, or the noisy image; the U-Net's time input is fixed at 0.

Minimising the mean squared error makes the output the *mean* of the clean images that agree with the observation,
E[x | y]: the best possible PSNR, but where the observation leaves the digit open (a missing lower half: a 3 or a
5?) that mean is a blur of the candidates, which no real image looks like. The generative restorers draw *one*
candidate instead; ``minigen restore`` measures both (PSNR, the evaluator's accuracy and uncertain share, FID).
"""

from __future__ import annotations

import numpy as np

from .. import data, optim
from ..autograd import no_grad
from ..creation import tensor
from ..models import restoration as R
from ..models.unet import UNet
from ..nn import functional as F
from .base import Recipe, update

TASKS = ("inpaint", "upscale", "denoise")


class RegressionRecipe(Recipe):
    name = "regression"
    defaults = dict(epochs=3, batch_size=64, lr=1e-3, channels=[32, 64, 64], task="inpaint", mask="bottom", scale=2,
                    sigma=0.5)
    pixel_range = (-1.0, 1.0)
    samples_per_epoch = 0
    curves = {"mean squared error": {"loss": "training batches", "test_loss": "test set"}}

    def __init__(self, config, device):
        super().__init__(config, device)
        task = config["task"]
        if task not in TASKS:
            raise ValueError(f"regression: --task must be one of {', '.join(TASKS)}, got {task!r}")
        if task == "upscale" and 28 % config["scale"]:
            raise ValueError(f"regression: --scale must divide 28, got {config['scale']}")
        if task == "denoise" and config["sigma"] < 0:
            raise ValueError(f"regression: --sigma must be ≥ 0, got {config['sigma']}")
        if task == "inpaint":
            R.make_mask(config["mask"], 1, np.random.default_rng(0))          # a clear error for a bad spec
        self.model = UNet(tuple(config["channels"]), attention=False).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])
        self.rng = np.random.default_rng([config["seed"], 99])

    def transform(self, train):
        return data.Compose([data.ToFloat(), data.ScaleTo(-1.0, 1.0), data.AddChannel()])   # → (N, 1, 28, 28)

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"optimizer": self.optimizer}

    def setting(self) -> dict:
        """The degradation this network undoes, as ``minigen restore`` names it."""
        c = self.config
        return {"task": c["task"], **({"mask": c["mask"]} if c["task"] == "inpaint" else {}),
                **({"scale": c["scale"]} if c["task"] == "upscale" else {}),
                **({"sigma": c["sigma"]} if c["task"] == "denoise" else {})}

    def observe(self, clean: np.ndarray, rng) -> np.ndarray:
        """A fresh degradation of clean images (N, 1, 28, 28) in [−1, 1], on the 28×28 grid."""
        c = self.config
        mask = R.make_mask(c["mask"], len(clean), rng) if c["task"] == "inpaint" else None
        y = R.degrade(c["task"], clean, rng, mask, c["scale"], c["sigma"])
        return self.lift(y)

    def lift(self, y: np.ndarray) -> np.ndarray:
        """An observation onto the network's 28×28 input grid (low resolution: each pixel repeated)."""
        if self.config["task"] == "upscale":
            return np.repeat(np.repeat(y, self.config["scale"], axis=2), self.config["scale"], axis=3)
        return y

    def predict(self, y):
        """The restoration of lifted observations y (N, 1, 28, 28), a Tensor on the device."""
        t = tensor(np.zeros(y.shape[0], dtype=np.float32), device=self.device)
        return self.model(y, t)

    def loss(self, x, rng):
        y = tensor(self.observe(np.asarray(x.numpy()), rng), device=self.device)
        return F.mse_loss(self.predict(y), x)

    def train_step(self, x, y, step):
        rng = np.random.default_rng([self.config["seed"], 99, step])   # per step: a resume sees the same draws
        loss = self.loss(x, rng)
        update(self.optimizer, loss)
        return {"loss": loss}

    @no_grad()
    def evaluate(self, loader, n: int = 2000):
        rng = np.random.default_rng(12345)                               # the same degradations every epoch
        total, count = 0.0, 0
        for x, _ in loader:
            total += float(self.loss(x, rng).item()) * x.shape[0]
            count += x.shape[0]
            if count >= n:
                break
        return {"test_loss": total / max(count, 1)}

    @no_grad()
    def restore(self, observation: np.ndarray, batch: int = 200) -> np.ndarray:
        """Restorations (N, 1, 28, 28) in [−1, 1] of observations as ``models.restoration.degrade`` makes them."""
        lifted = self.lift(observation)
        out = [self.predict(tensor(lifted[i:i + batch], device=self.device)).numpy()
               for i in range(0, len(lifted), batch)]
        return np.clip(np.concatenate(out), -1, 1)

    def sample(self, noise, labels=None, rng=None):
        raise ValueError("a regression network restores a degraded image (`minigen restore`); it draws nothing "
                         "from noise")
