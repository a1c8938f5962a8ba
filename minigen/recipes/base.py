"""A recipe says how to train one kind of model: what it is built from, what one training step does, how to
evaluate it, and which pictures show it. ``minigen.train`` runs every recipe with the same loop.

What the loop asks of a recipe (the whole contract):

    modules()                    {name: Module}: what a checkpoint saves and ``train()``/``eval()`` switch
    optimizers()                 {name: Optimizer}: saved with the modules, so a resume is exact
    transform(train)             raw dataset arrays → what the model sees (floats in ``pixel_range``)
    train_step(x, y, step)       one update on a batch; ``step`` counts the updates before this one (0, 1, …),
                                 so a schedule (e.g. WGAN-GP's critic steps) survives a resume; returns a dict of
                                 metrics, ``loss`` first (watched for NaN, shown in the progress bar)
    evaluate(loader)             {name: number} on the test set after each epoch (``best`` picks one of them)
    prepare(dataset, train)      change a loaded dataset before use (default: nothing; a cluster run relabels it)

and, for the pictures (``minigen.pictures`` draws them; the recipe only names them):

    noise(n, rng), sample(noise, labels=None)   images (N, 28, 28) in [0, 1] (or 2-D points) from noise
    samples_per_epoch            how many fixed-noise samples ``samples_epoch_NNN.png`` shows (0: none)
    curves                       {panel: {metric: label}} for losses.png (None: every metric in one panel)
    pictures                     names of the pictures made at the end of training and by ``minigen eval``
"""

from __future__ import annotations

import numpy as np

from .. import data


class Recipe:
    name = ""
    defaults: dict = {}          # epochs, batch_size, lr and model options; the command line overrides them
    dataset_defaults: dict = {}  # {dataset: {option: value}}: overrides of ``defaults`` for one dataset
    best = ("test_loss", "min")  # the evaluation metric that picks checkpoint_best, and its direction
    pixel_range = (0.0, 1.0)     # what the model sees: [0, 1] (VAE, AE) or [-1, 1] (tanh generators)
    samples_per_epoch = 64       # fixed-noise samples drawn after every epoch (0: the model draws nothing)
    sample_rows = None           # rows of that picture when they mean something (a conditional GAN: one per class)
    curves: dict | None = None   # losses.png panels: {panel title: {metric: label}}
    pictures: tuple = ()         # final pictures, by name (see minigen.pictures)
    run_dir = None               # the run's directory once ``open_run`` opened it (paths in its config are relative)

    def __init__(self, config: dict, device: str):
        self.config, self.device = config, device

    # --- training ----------------------------------------------------------------------------------------
    def modules(self) -> dict:
        raise NotImplementedError

    def optimizers(self) -> dict:
        raise NotImplementedError

    def transform(self, train: bool):
        steps = [data.ToFloat()]
        if self.pixel_range == (-1.0, 1.0):
            steps.append(data.ScaleTo(-1.0, 1.0))
        return data.Compose(steps)

    def train_step(self, x, y, step: int) -> dict:
        raise NotImplementedError

    def evaluate(self, loader) -> dict:
        return {}

    def prepare(self, dataset, train: bool) -> None:
        """Called on a dataset once loaded, before batches are drawn from it: the training loop calls it on the
        training set, then the test set; ``minigen eval`` on the test set only."""

    # --- drawing -----------------------------------------------------------------------------------------
    def noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.config.get("latent_dim", 2))).astype(np.float32)

    def sample(self, noise: np.ndarray, labels=None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Noise (from ``noise``) [and labels] → samples; ``rng`` draws whatever else sampling picks at random
        beyond the noise (the clusters of a diffusion run's requested classes; other recipes ignore it)."""
        raise ValueError(f"{self.name} does not generate images")

    # --- helpers -----------------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        """Training or evaluation mode for every module (dropout, batch-norm statistics), as ``Module.train``."""
        for m in self.modules().values():
            m.train(mode)

    def to_unit(self, images: np.ndarray) -> np.ndarray:
        """Model outputs in ``pixel_range`` → [0, 1] for pictures and the evaluator."""
        lo, hi = self.pixel_range
        return np.clip((images - lo) / (hi - lo), 0, 1)


def update(optimizer, loss) -> None:
    """One optimizer step on ``loss``: clear the old gradients, backpropagate, step."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
