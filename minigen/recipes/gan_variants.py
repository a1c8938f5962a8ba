"""The parts in which GANs differ, as objects the one GAN training step is composed with.

A **conditioning** says what the networks are told besides the noise or the image:

    Unconditional        nothing: G(z), D(x)
    ClassConditional     the class: G(z, y), D(x, y); fakes get labels drawn uniformly, real images their own

Each returns the extra arguments as a tuple, so the step calls ``G(z, *cond)`` and ``D(x, *cond)`` either way.

A **loss** says how D (or the critic) and G are scored, and how often G moves:

    NonSaturating        D: BCE(D(x), 1) + BCE(D(G(z)), 0); G: BCE(D(G(z)), 1), every step, on the same fakes
                         (Goodfellow et al., 2014; the non-saturating form of G's loss)
    WassersteinGP        critic: E f(G(z)) − E f(x) + λ·E (‖∇f(x̂)‖ − 1)²; G: −E f(G(z)) on fresh noise, once every
                         ``n_critic`` steps (Gulrajani et al., 2017)

Each also names what it reports (``curves``: the panels of losses.png) and how D is read on test images.
"""

from __future__ import annotations

import numpy as np

from ..creation import randint, tensor
from ..models import gan as gan_losses
from ..models import wgan_gp
from ..ops import sigmoid


# --- conditioning ------------------------------------------------------------------------------------------
class Unconditional:
    n_classes = None
    rows = None             # the per-epoch sample grid has no meaningful rows

    def real(self, y) -> tuple:
        return ()

    def fake(self, n: int, device) -> tuple:
        return ()

    def sampling(self, name: str, n: int, labels, device) -> tuple:
        if labels is not None:
            raise ValueError(f"{name} is not conditional: --label needs a cgan run")
        return ()


class ClassConditional:
    def __init__(self, n_classes: int):
        self.n_classes = n_classes
        self.rows = n_classes   # the per-epoch sample grid: row k shows class k

    def real(self, y) -> tuple:
        return (y,)

    def fake(self, n: int, device) -> tuple:
        """Labels for n fakes, uniform over the classes: (N,) int64."""
        return (randint(0, self.n_classes, (n,), device=device),)

    def labels(self, name: str, n: int, labels=None) -> np.ndarray:
        """None → n labels in n_classes equal runs (0 0 … 1 1 …), an int → all that class, else as given."""
        if labels is None:
            labels = np.arange(n) * self.n_classes // n
        labels = np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,))
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"{name}: labels must lie in 0..{self.n_classes - 1}, got {labels.min()}.."
                             f"{labels.max()}")
        return labels

    def sampling(self, name: str, n: int, labels, device) -> tuple:
        return (tensor(self.labels(name, n, labels), device=device),)


# --- losses ------------------------------------------------------------------------------------------------
class NonSaturating:
    fresh_noise_for_generator = False   # G's step reuses the fakes D just saw
    curves = {"losses": {"loss": "D loss", "loss_g": "G loss"},
              "discriminator": {"d_real": "mean D(x)", "d_fake": "mean D(G(z))"}}

    def generator_due(self, step: int) -> bool:
        return True

    def discriminator(self, D, real, fake, real_cond, fake_cond):
        """D's loss on real images (→ 1) and detached fakes (→ 0), and what to report: the mean probabilities
        σ(D(x)) and σ(D(G(z))). At the game's equilibrium both are ½."""
        real_logits, fake_logits = D(real, *real_cond), D(fake, *fake_cond)                 # (N, 1) each
        loss = gan_losses.discriminator_loss(real_logits, fake_logits)
        return loss, {"d_real": sigmoid(real_logits.detach()).mean(), "d_fake": sigmoid(fake_logits.detach()).mean()}

    def generator(self, fake_scores):
        return gan_losses.generator_loss(fake_scores)

    def score(self, D, x, cond):
        """D on test images: the probability it gives them of being real."""
        return sigmoid(D(x, *cond))

    def test_record(self, real: float, fake: float) -> dict:
        return {"test_d_real": real, "test_d_fake": fake}


class WassersteinGP:
    fresh_noise_for_generator = True    # as in the paper's algorithm: G's step draws new noise
    curves = {"losses": {"loss": "critic loss", "loss_g": "G loss −E f(G(z))"},
              "critic": {"wasserstein": "W estimate E f(x) − E f(G(z))", "gp": "gradient penalty"}}

    def __init__(self, n_critic: int = 5, gp_lambda: float = 10.0):
        self.n_critic, self.gp_lambda = n_critic, gp_lambda

    def generator_due(self, step: int) -> bool:
        """G moves after every n_critic-th critic step: steps n_critic − 1, 2·n_critic − 1, … (counted from 0)."""
        return (step + 1) % self.n_critic == 0

    def discriminator(self, D, real, fake, real_cond, fake_cond):
        """The critic's loss with the gradient penalty (α drawn once per example), and what to report: the
        critic's Wasserstein estimate E f(x) − E f(G(z)), the penalty, and G's loss −E f(G(z)) on these fakes."""
        real_scores, fake_scores = D(real, *real_cond), D(fake, *fake_cond)                 # (N, 1) each
        penalty = wgan_gp.gradient_penalty(D, real, fake)                   # double backward in loss.backward()
        loss = wgan_gp.critic_loss(real_scores, fake_scores, penalty, self.gp_lambda)
        real_mean, fake_mean = real_scores.detach().mean(), fake_scores.detach().mean()
        return loss, {"loss_g": -fake_mean, "wasserstein": real_mean - fake_mean, "gp": penalty}

    def generator(self, fake_scores):
        return wgan_gp.generator_loss(fake_scores)

    def score(self, D, x, cond):
        return D(x, *cond)

    def test_record(self, real: float, fake: float) -> dict:
        return {"test_wasserstein": real - fake}
