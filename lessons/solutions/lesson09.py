"""Lesson 09 reference answers (try the exercises in ``lessons/exercises/lesson09.py`` first)."""

from minigen.nn import functional as F


def discriminator_loss(real_logits, fake_logits):
    """−log σ(r) = softplus(−r) on the real points, −log(1 − σ(f)) = softplus(f) on the fakes; each a mean.

    F.softplus computes log(1 + eᵃ) as max(a, 0) + log(1 + e^(−|a|)), so no exponent is positive and ±1000 is
    fine; its backward is σ(a) everywhere, 0 included."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits, minimax=False):
    """Non-saturating: −log σ(f) = softplus(−f), gradient −(1 − σ(f)): largest where D rejects the fakes.
    Minimax: log(1 − σ(f)) = −softplus(f), gradient −σ(f): vanishes there."""
    if minimax:
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def train_step(G, D, opt_g, opt_d, real, z):
    fakes = G(z)                                                   # (N, 2)
    # D: real → 1, fake → 0. detach(): D's loss must not send gradients into G
    loss_d = discriminator_loss(D(real), D(fakes.detach()))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    # G: through the updated D, whose parameters are frozen so that backward leaves their .grad alone
    D.requires_grad_(False)
    loss_g = generator_loss(D(fakes))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    D.requires_grad_(True)
    return loss_d.item(), loss_g.item()
