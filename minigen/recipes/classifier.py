"""Recipe for the evaluator classifier (``classifier``): a LeNet-style CNN trained with cross-entropy.

Its run directory is an ordinary run (checkpoints, metrics.jsonl, losses.png) that ``minigen eval`` of a GAN run
loads to score generated images (see ``minigen.evaluation``). The best checkpoint is the epoch with the highest test
accuracy; ``errors.png`` shows the test images it gets wrong.
"""

from __future__ import annotations

import numpy as np

from .. import backend, data, optim
from ..autograd import Tensor, no_grad
from ..creation import tensor
from ..models import Classifier
from ..nn import functional as F
from .base import Recipe, update


class ClassifierRecipe(Recipe):
    name = "classifier"
    defaults = dict(epochs=4, batch_size=128, lr=1e-3, lr_decay=0.7, width=32)
    best = ("test_accuracy", "max")
    samples_per_epoch = 0        # nothing to draw from noise
    pictures = ("errors",)       # the test images it gets wrong

    def __init__(self, config, device):
        super().__init__(config, device)
        self.model = Classifier(width=config["width"]).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def transform(self, train):
        return data.Compose([data.ToFloat(), data.AddChannel()])     # (N, 28, 28) uint8 → (N, 1, 28, 28) in [0, 1]

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"optimizer": self.optimizer}

    def train_step(self, x, y, step):
        logits = self.model(x)                                        # (N, 10)
        loss = F.cross_entropy(logits, y)
        update(self.optimizer, loss)
        accuracy = Tensor((logits.data.argmax(axis=1) == y.data).mean())  # on the device: read when logged
        return {"loss": loss, "accuracy": accuracy}

    @no_grad()
    def evaluate(self, loader):
        total, correct, n = 0.0, 0, 0
        for x, y in loader:
            logits = self.model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.data.argmax(axis=1) == y.data).sum())
            n += x.shape[0]
        return {"test_loss": total / n, "test_accuracy": correct / n}

    def sample(self, noise, labels=None, rng=None):
        raise ValueError("a classifier does not generate images; `minigen sample` needs a generative run")

    @no_grad()
    def predict(self, images: np.ndarray, batch_size: int = 500):
        """Images (N, [1,] 28, 28) in [0, 1] → (features φ (N, 256), class probabilities (N, 10)), as arrays on
        the model's device."""
        xp = backend.array_module(self.device)
        feats, probs = [], []
        for i in range(0, len(images), batch_size):
            x = tensor(images[i:i + batch_size], device=self.device).reshape(-1, 1, 28, 28)
            h = self.model.features(x)                                 # (B, 256)
            feats.append(h.data)
            probs.append(F.softmax(self.model.head(h), dim=1).data)    # (B, 10)
        return xp.concatenate(feats), xp.concatenate(probs)
