"""Recipe for the classifier of noisy images (``noisy-classifier``) that guides a flow's sampler.

One training step: draw t ~ U(0, t_max) and ε ~ N(0, I) for every image of the batch, move the images along the
flow's path to x_t = (1 − t) x₀ + t ε (pixels in [-1, 1], as the flow sees them), and take one Adam step on the
cross-entropy of p(y | x_t, t). ``t_max`` (default 0.9) below 1: near pure noise nothing can be told apart, and
guidance is not used there (``models/noisy_classifier.py`` derives the guidance and why it stops below t = 1); the
sampler refuses a classifier interval that reaches past the classifier's ``t_max``.

The test accuracy is measured at a few fixed noise levels (``EVAL_TIMES``, the same noise every epoch), since how
well the classifier reads half-noisy digits is what guidance relies on. Used by ``minigen sample``/``eval`` of a
flow run conditioned on classes with ``--classifier RUN --classifier-scale S``.
"""

from __future__ import annotations

from .. import backend, data, optim
from ..autograd import Tensor, no_grad
from ..creation import full, rand, randn
from ..models import NoisyClassifier, flow
from ..nn import functional as F
from ..runs import run_checkpoint, run_config
from ..serialization import load
from .base import Recipe, update

EVAL_TIMES = (0.0, 0.3, 0.6)


class NoisyClassifierRecipe(Recipe):
    name = "noisy-classifier"
    defaults = dict(epochs=8, batch_size=128, lr=2e-3, width=32, t_max=0.9)
    best = ("none", "max")       # keep the last epoch
    samples_per_epoch = 0        # nothing to draw from noise
    pixel_range = (-1.0, 1.0)

    def __init__(self, config, device):
        super().__init__(config, device)
        if not 0 < config["t_max"] <= 1:
            raise ValueError(f"{self.name}: --t-max must lie in (0, 1], got {config['t_max']}")
        self.model = NoisyClassifier(width=config["width"]).to(device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])

    def transform(self, train):
        return data.Compose([data.ToFloat(), data.ScaleTo(-1.0, 1.0), data.AddChannel()])   # (N, 1, 28, 28)

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"optimizer": self.optimizer}

    def train_step(self, x, y, step):
        t = rand(x.shape[0], device=self.device) * self.config["t_max"]                  # (N,) in [0, t_max)
        eps = randn(*x.shape, device=self.device)
        logits = self.model(flow.path(x, t, eps), t)                                     # (N, 10)
        loss = F.cross_entropy(logits, y)
        update(self.optimizer, loss)
        accuracy = Tensor((logits.data.argmax(axis=1) == y.data).mean())    # on the device: read when logged
        return {"loss": loss, "accuracy": accuracy}

    @no_grad()
    def evaluate(self, loader, n: int = 2000):
        """Accuracy on the first n test images at each of ``EVAL_TIMES``, ε from a fixed generator."""
        state = backend.get_rng_state()
        backend.manual_seed(12345)
        correct, count = {t: 0 for t in EVAL_TIMES}, 0
        for x, y in loader:
            for t in EVAL_TIMES:
                tt = full((x.shape[0],), t, dtype=x.dtype, device=self.device)
                eps = randn(*x.shape, device=self.device)
                logits = self.model(flow.path(x, tt, eps), tt)
                correct[t] += int((logits.data.argmax(axis=1) == y.data).sum())
            count += x.shape[0]
            if count >= n:
                break
        backend.set_rng_state(state)
        return {f"test_accuracy_t{t:g}": correct[t] / max(count, 1) for t in EVAL_TIMES}

    def sample(self, noise, labels=None, rng=None):
        raise ValueError("a classifier does not generate images; `minigen sample` needs a generative run")


def load_noisy_classifier(run_dir, dataset: str, device: str) -> NoisyClassifier:
    """The trained network of a ``noisy-classifier`` run directory (its best checkpoint, else its last), in
    evaluation mode, checked: that kind of run, trained on ``dataset``."""
    config = run_config(run_dir, "--classifier ")
    if config.get("model") != NoisyClassifierRecipe.name:
        raise ValueError(f"--classifier {run_dir} is a {config.get('model')!r} run, not a "
                         f"{NoisyClassifierRecipe.name!r} run")
    if config.get("dataset") != dataset:
        raise ValueError(f"--classifier {run_dir} was trained on {config.get('dataset')!r}, this run on {dataset!r}")
    checkpoint = run_checkpoint(run_dir, "--classifier ")
    model = NoisyClassifier(width=config["width"]).to(device)
    model.load_state_dict(load(checkpoint)["modules"]["model"])
    for p in model.parameters():             # guidance differentiates with respect to the image only
        p.requires_grad_(False)
    model.t_max = config["t_max"]
    return model.eval()
