"""Lesson 09 exercises: the GAN losses on logits, and one training step of the game.

Check with ``MINIGEN_CHECK=exercises python -m pytest -m lesson09 tests/test_lesson09.py`` (or
``check(9, "exercises")``).
"""

from minigen.nn import functional as F  # noqa: F401  (F.softplus)


def discriminator_loss(real_logits, fake_logits):
    """Exercise 9.1a. D's loss on logits: −mean log σ(r) − mean log(1 − σ(f)) for D's logits r on real points
    (N, 1) and f on generated ones (M, 1) → a scalar tensor.

    Use −log σ(a) = softplus(−a) and −log(1 − σ(a)) = softplus(a) with a stable softplus, so that logits of
    ±1000 give finite losses and gradients: ``F.softplus`` is one (it computes max(a, 0) + log(1 + e^(−|a|)),
    lesson 07's trick), log(1 + exp(a)) is not (e^1000 overflows)."""
    raise NotImplementedError("exercise 9.1: write discriminator_loss (lessons/exercises/lesson09.py)")


def generator_loss(fake_logits, minimax=False):
    """Exercise 9.1b. G's loss on D's logits f (M, 1) for generated points → a scalar tensor.

    The non-saturating loss (default): −mean log σ(f). With ``minimax=True``, the game's own loss, which G
    minimises: mean log(1 − σ(f)) (negative; it saturates when D rejects the fakes)."""
    raise NotImplementedError("exercise 9.1: write generator_loss (lessons/exercises/lesson09.py)")


def train_step(G, D, opt_g, opt_d, real, z):
    """Exercise 9.2. One step of the game, D then G, on real points ``real`` (N, 2) and noise ``z`` (N, latent):

    1. fakes = G(z);
    2. D's step: the loss ``discriminator_loss(D(real), D(fakes))`` with the fakes *detached*, so that this
       backward does not reach G; zero D's gradients, backward, ``opt_d.step()``;
    3. G's step through the *updated* D with D's parameters frozen (``D.requires_grad_(False)``, and back to
       ``True`` at the end), so that backward leaves D's gradients alone: the non-saturating
       ``generator_loss(D(fakes))``; zero G's gradients, backward, ``opt_g.step()``.

    Afterwards D's ``.grad`` must hold the gradient of D's loss only and G's ``.grad`` that of G's loss only.
    Return the two losses as Python floats: ``(loss_d, loss_g)``. Use your losses from exercise 9.1."""
    raise NotImplementedError("exercise 9.2: write train_step (lessons/exercises/lesson09.py)")
