"""Lesson 09's exercise checks: the GAN losses on logits (9.1) and one training step of the game (9.2).

``python -m pytest -m lesson09 tests/test_lesson09.py`` checks ``lessons/solutions/lesson09.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson09.py``. Each check compares with the
reference solution and with something independent of both: a float64 formula written with NumPy
(``np.logaddexp``), minigen's ``binary_cross_entropy_with_logits``, finite differences (``gradcheck``), and for the
training step the gradients of each loss recomputed on separate copies of the networks.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen import optim
from minigen.models import ToyDiscriminator, ToyGenerator
from minigen.nn import functional as F

from helpers import f64
from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson09
under_test, reference = checks(9)


def softplus(a):
    """log(1 + eᵃ) in float64 NumPy, for any a."""
    return np.logaddexp(0.0, a)


# Logits for the finite-difference checks: away from 0, where a softplus written as max(a, 0) + log(1 + e^(−|a|))
# with minigen ops has a kink (relu and abs have subgradient 0 there), and inside ±15, because F.softplus switches
# to its linear form above 20 (PyTorch's threshold), a step of 2e-9 that float64 finite differences would see.
# Huge logits get their own test below.
LOGITS = hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.just(1)),
                    elements=st.floats(-15, 15).filter(lambda v: abs(v) > 1e-3))


# --- 9.1 the losses on logits ------------------------------------------------------------------------------------
@given(real=LOGITS, fake=LOGITS)
def test_discriminator_loss_matches_the_formula_bce_and_the_reference(real, fake):
    loss = under_test().discriminator_loss(f64(real), f64(fake))
    assert loss.shape == (), "the loss must be a scalar (a mean over each batch, then the sum of the two)"
    expected = softplus(-real).mean() + softplus(fake).mean()          # −log σ(r) and −log(1 − σ(f))
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-8,
                               err_msg="D's loss: −mean log σ(real logits) − mean log(1 − σ(fake logits))")
    bce = (F.binary_cross_entropy_with_logits(f64(real), f64(np.ones_like(real)))
           + F.binary_cross_entropy_with_logits(f64(fake), f64(np.zeros_like(fake))))
    # (BCE's (1 − t)·a + softplus(−a) cancels for t = 0, a ≪ 0: an absolute error of about 1e-15)
    np.testing.assert_allclose(loss.item(), bce.item(), rtol=1e-8, atol=1e-12,
                               err_msg="BCE(D(x), 1) + BCE(D(G(z)), 0)")
    np.testing.assert_allclose(loss.item(), reference().discriminator_loss(f64(real), f64(fake)).item(), rtol=1e-8)
    assert minigen.gradcheck(under_test().discriminator_loss, (f64(real), f64(fake)))


@given(fake=LOGITS)
def test_generator_losses_match_their_formulas_and_gradients(fake):
    module = under_test()
    non_saturating = module.generator_loss(f64(fake))
    np.testing.assert_allclose(non_saturating.item(), softplus(-fake).mean(), rtol=1e-8,
                               err_msg="the non-saturating loss is −mean log σ(f)")
    bce = F.binary_cross_entropy_with_logits(f64(fake), f64(np.ones_like(fake)))
    np.testing.assert_allclose(non_saturating.item(), bce.item(), rtol=1e-8, atol=1e-12,
                               err_msg="BCE(D(G(z)), 1)")
    minimax = module.generator_loss(f64(fake), minimax=True)
    np.testing.assert_allclose(minimax.item(), -softplus(fake).mean(), rtol=1e-8,
                               err_msg="the minimax loss is mean log(1 − σ(f)) = −mean softplus(f)")
    for flag in (False, True):
        np.testing.assert_allclose(module.generator_loss(f64(fake), minimax=flag).item(),
                                   reference().generator_loss(f64(fake), minimax=flag).item(), rtol=1e-8)
        assert minigen.gradcheck(lambda f, flag=flag: module.generator_loss(f, minimax=flag), (f64(fake),))


def test_losses_stay_finite_for_huge_logits_and_the_minimax_gradient_saturates():
    module = under_test()
    huge = [[1000.0], [-1000.0]]
    real, fake = f64(huge), f64(huge)
    loss = module.discriminator_loss(real, fake)
    # real: −log σ(1000) = 0, −log σ(−1000) = 1000; fake: −log(1 − σ(1000)) = 1000, −log(1 − σ(−1000)) = 0
    np.testing.assert_allclose(loss.item(), 500.0 + 500.0, rtol=1e-10)
    loss.backward()
    np.testing.assert_allclose(real.grad.numpy(), [[0.0], [-0.5]], atol=1e-12)        # −(1 − σ(r)) / N
    np.testing.assert_allclose(fake.grad.numpy(), [[0.5], [0.0]], atol=1e-12)         # σ(f) / M

    rejected = f64([[-1000.0], [-1000.0]])          # D is sure both fakes are fake: σ(f) = e^(−1000) ≈ 0
    non_saturating = module.generator_loss(rejected)
    np.testing.assert_allclose(non_saturating.item(), 1000.0, rtol=1e-10)
    non_saturating.backward()
    np.testing.assert_allclose(rejected.grad.numpy(), [[-0.5], [-0.5]], atol=1e-12,
                               err_msg="the non-saturating gradient −(1 − σ(f))/M is largest when D wins")
    rejected = f64([[-1000.0], [-1000.0]])
    minimax = module.generator_loss(rejected, minimax=True)
    np.testing.assert_allclose(minimax.item(), 0.0, atol=1e-12)
    minimax.backward()
    np.testing.assert_allclose(rejected.grad.numpy(), [[0.0], [0.0]], atol=1e-12,
                               err_msg="the minimax gradient −σ(f)/M vanishes when D wins: it saturates")


def test_losses_at_the_equilibrium_where_d_says_one_half():
    module = under_test()
    zero = f64(np.zeros((8, 1)), requires_grad=False)                    # σ(0) = ½ for every point
    assert module.discriminator_loss(zero, zero).item() == pytest.approx(2 * np.log(2), rel=1e-12)
    assert module.generator_loss(zero).item() == pytest.approx(np.log(2), rel=1e-12)
    assert module.generator_loss(zero, minimax=True).item() == pytest.approx(-np.log(2), rel=1e-12)


def test_losses_accept_batches_of_different_sizes_and_float32():
    loss = under_test().discriminator_loss(minigen.zeros(5, 1), minigen.full((3, 1), 1000.0))
    assert loss.dtype == minigen.float32 and np.isfinite(loss.item())
    assert loss.item() == pytest.approx(np.log(2) + 1000.0, rel=1e-6)


# --- 9.2 one training step -------------------------------------------------------------------------------------
def _nets(seed, latent=2):
    minigen.manual_seed(seed)
    return ToyGenerator(latent, hidden=16), ToyDiscriminator(hidden=16)


def _copy(module, like):
    module.load_state_dict(like.state_dict())
    return module


def _params(module):
    return [p.detach().numpy().copy() for p in module.parameters()]


def _batch(seed, n=8, latent=2):
    rng = np.random.default_rng(seed)
    real = minigen.tensor(rng.normal(0.0, 1.0, (n, 2)).astype(np.float32))
    z = minigen.tensor(rng.normal(0.0, 1.0, (n, latent)).astype(np.float32))
    return real, z


@pytest.mark.parametrize("seed", range(3))
def test_train_step_uses_each_loss_gradient_only(seed):
    """With SGD every update is −lr·(the gradient left in .grad); we recompute each gradient on fresh copies."""
    G, D = _nets(seed)
    G0, D0 = _copy(ToyGenerator(2, hidden=16), G), _copy(ToyDiscriminator(hidden=16), D)     # the start
    real, z = _batch(seed)
    lr = 0.05
    loss_d, loss_g = under_test().train_step(G, D, optim.SGD(G.parameters(), lr=lr), optim.SGD(D.parameters(), lr=lr),
                                             real, z)
    assert isinstance(loss_d, float) and isinstance(loss_g, float), "return the two losses as Python floats"
    assert all(p.requires_grad for p in D.parameters()), "unfreeze D at the end: D.requires_grad_(True)"

    # D's gradient: D's loss at the start, fakes from the starting G (a constant for D)
    with minigen.no_grad():
        fakes = G0(z)
    expected_d = F.softplus(-D0(real)).mean() + F.softplus(D0(fakes)).mean()
    expected_d.backward()
    np.testing.assert_allclose(loss_d, expected_d.item(), rtol=1e-5, err_msg="loss_d: D's loss before its step")
    for p, p0, after in zip(D0.parameters(), _params(D0), _params(D)):
        np.testing.assert_allclose(after, p0 - lr * p.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg="D's step must follow the gradient of D's loss alone")
    for p, p0 in zip(D.parameters(), D0.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p0.grad.numpy(), rtol=1e-4, atol=1e-7,
                                   err_msg="D's .grad must hold D's loss gradient only: freeze D during G's step")

    # G's gradient: the non-saturating loss through the *updated* D, at the starting G
    D1 = _copy(ToyDiscriminator(hidden=16), D)
    expected_g = F.softplus(-D1(G0(z))).mean()
    expected_g.backward()
    np.testing.assert_allclose(loss_g, expected_g.item(), rtol=1e-5,
                               err_msg="loss_g: the non-saturating loss through D after D's step")
    for p, p0, after in zip(G0.parameters(), _params(G0), _params(G)):
        np.testing.assert_allclose(after, p0 - lr * p.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg="G's step must follow the gradient of G's loss alone (detach the fakes "
                                           "in D's loss, zero G's gradients before G's backward)")
    for p, p0 in zip(G.parameters(), G0.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p0.grad.numpy(), rtol=1e-4, atol=1e-7,
                                   err_msg="G's .grad must hold G's loss gradient only")


def test_train_step_matches_the_reference_with_adam_over_several_steps():
    nets = [_nets(3), _nets(3)]
    opts = [(optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999)),
             optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))) for G, D in nets]
    steps = [under_test().train_step, reference().train_step]
    for s in range(5):
        real, z = _batch(100 + s)
        losses = [step(G, D, opt_g, opt_d, real, z) for step, (G, D), (opt_g, opt_d) in zip(steps, nets, opts)]
        np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    for module in range(2):
        for mine, theirs in zip(_params(nets[0][module]), _params(nets[1][module])):
            np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
