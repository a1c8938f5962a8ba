"""A recipe says how to train one kind of model: what it is built from, one training step, how to evaluate it,
and which pictures show it. ``minigen.train`` runs any recipe with the same loop, run directory, progress bar,
checkpoints and pictures.
"""

from __future__ import annotations

import numpy as np

from .. import data, viz


class Recipe:
    name = ""
    defaults: dict = {}          # epochs, batch_size, lr and model options; the command line overrides them
    dataset_defaults: dict = {}  # {dataset: {option: value}}: overrides of ``defaults`` for one dataset
    best = ("test_loss", "min")  # the evaluation metric that picks checkpoint_best, and its direction
    pixel_range = (0.0, 1.0)     # what the model sees: [0, 1] (VAE, AE) or [-1, 1] (tanh generators)
    generative = True            # draws samples_epoch_NNN.png (a classifier has nothing to draw)
    n_fixed = 64                 # how many fixed-noise samples the per-epoch picture shows

    def __init__(self, config: dict, device: str):
        self.config, self.device = config, device

    # --- what the loop needs ---------------------------------------------------------------------------
    def transform(self, train: bool):
        steps = [data.ToFloat()]
        if self.pixel_range == (-1.0, 1.0):
            steps.append(data.ScaleTo(-1.0, 1.0))
        return data.Compose(steps)

    def modules(self) -> dict:
        raise NotImplementedError

    def optimizers(self) -> dict:
        raise NotImplementedError

    def train_step(self, x, y) -> dict:
        """One update; returns tensors or floats, 'loss' first (watched for NaN, shown in the progress bar)."""
        raise NotImplementedError

    def evaluate(self, loader) -> dict:
        return {}

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch (before the checkpoint): learning-rate schedules go here."""
        decay = self.config.get("lr_decay")
        if decay:
            for opt in self.optimizers().values():
                for group in opt.param_groups:
                    group["lr"] *= decay

    def sample(self, noise: np.ndarray, labels=None) -> np.ndarray:
        """Images (N, 28, 28) in [0, 1] from fixed noise (the same every epoch, so progress is visible)."""
        raise NotImplementedError

    def noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.config.get("latent_dim", 2))).astype(np.float32)

    def sample_picture(self, samples, title: str, path):
        """The per-epoch picture of ``sample``'s output (a grid of images; the ring draws points)."""
        return viz.image_grid(samples, nrow=8, title=title, path=path)

    def draw_curves(self, curves: dict, title: str, path):
        """losses.png from {name: (steps, values)}."""
        return viz.loss_curves(curves, title=title, path=path)

    def final_pictures(self, run_dir, test_x, test_y) -> list:
        """Pictures made once at the end (and by ``minigen eval``): a list of written paths."""
        return []

    def train(self, mode: bool = True):
        for m in self.modules().values():
            m.train(mode)

    def to_unit(self, images: np.ndarray) -> np.ndarray:
        lo, hi = self.pixel_range
        return np.clip((images - lo) / (hi - lo), 0, 1)
