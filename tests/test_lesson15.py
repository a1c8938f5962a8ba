"""Lesson 15's exercise checks: one DDIM step (15.1) and the classifier-free guidance combination (15.2).

``python -m pytest -m lesson15 tests/test_lesson15.py`` checks ``lessons/solutions/lesson15.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson15.py``. Each check compares with the
reference solution and with something independent of both: minigen's ``diffusion.ddim_step`` and ``guided``, the
exact Gaussian case (data N(μ, s²), whose noise estimate E[ε | x_t] is known in closed form: deterministic DDIM
must carry N(0, 1) to mean μ and spread s), the posterior variance β̃ that η = 1 reproduces, and the two ends of
guidance (w = 0 unconditional, w = 1 conditional).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen.models import diffusion

from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson15
under_test, reference = checks(15)
S = diffusion.default_schedule()


# --- 15.1 ddim_step --------------------------------------------------------------------------------------------
@given(t=st.integers(1, 999), data=st.data(), eta=st.sampled_from([0.0, 0.5, 1.0]),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2 ** 16))
def test_ddim_step_matches_minigen_and_the_reference(t, data, eta, shape, seed):
    s = data.draw(st.integers(-1, t - 1), label="the earlier step s (−1: the data)")
    rng = np.random.default_rng(seed)
    x_t, eps, z = (rng.standard_normal(shape) for _ in range(3))
    mine = np.asarray(under_test().ddim_step(x_t, eps, S.abar(t), S.abar(s), eta, z))
    assert mine.shape == x_t.shape, f"x_s has x_t's shape {x_t.shape}, got {mine.shape}"
    want = diffusion.ddim_step(minigen.tensor(x_t, dtype=minigen.float64), t, s,
                               minigen.tensor(eps, dtype=minigen.float64), eta, S,
                               noise=minigen.tensor(z, dtype=minigen.float64), clip=False).numpy()
    np.testing.assert_allclose(mine, want, rtol=1e-6, atol=1e-6, err_msg=(
        f"DDIM from step {t} to {s} with η = {eta} disagrees with minigen's diffusion.ddim_step: "
        "x_s = √ᾱ_s x̂₀ + √(1 − ᾱ_s − σ²) ε̂ + σ z, σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s)"))
    np.testing.assert_allclose(mine, reference().ddim_step(x_t, eps, S.abar(t), S.abar(s), eta, z),
                               rtol=1e-6, atol=1e-6)


def test_ddim_with_eta_zero_ignores_z_and_at_the_data_returns_x0_hat():
    rng = np.random.default_rng(0)
    x_t, eps = rng.standard_normal(6), rng.standard_normal(6)
    a = np.asarray(under_test().ddim_step(x_t, eps, S.abar(500), S.abar(300), 0.0, rng.standard_normal(6)))
    b = np.asarray(under_test().ddim_step(x_t, eps, S.abar(500), S.abar(300), 0.0, rng.standard_normal(6)))
    np.testing.assert_array_equal(a, b, err_msg="with η = 0 the step is deterministic: σ = 0, z must not matter")
    x0_hat = (x_t - np.sqrt(1 - S.abar(500)) * eps) / np.sqrt(S.abar(500))
    np.testing.assert_allclose(np.asarray(under_test().ddim_step(x_t, eps, S.abar(500), 1.0, 1.0, eps)), x0_hat,
                               rtol=1e-10, err_msg="to the data (ᾱ_s = 1) the step must return x̂₀ exactly, "
                                                   "whatever η: σ vanishes there")


@pytest.mark.parametrize("t,s", [(999, 600), (400, 100), (50, 10)])
def test_ddim_with_eta_one_has_the_posterior_variance(t, s):
    rng = np.random.default_rng(t)
    x_t, eps = rng.standard_normal(4), rng.standard_normal(4)
    z = rng.standard_normal(4)
    with_z = np.asarray(under_test().ddim_step(x_t, eps, S.abar(t), S.abar(s), 1.0, z))
    without = np.asarray(under_test().ddim_step(x_t, eps, S.abar(t), S.abar(s), 1.0, np.zeros(4)))
    sigma = (with_z - without) / z                                                  # the factor in front of z
    x0_hat = (x_t - np.sqrt(1 - S.abar(t)) * eps) / np.sqrt(S.abar(t))
    mean, var = diffusion.posterior(x0_hat, x_t, t, S, t_prev=s)
    np.testing.assert_allclose(sigma ** 2, var, rtol=1e-6, err_msg=(
        "with η = 1 the noise's variance σ² must equal the posterior's β̃ for the jump from t to s: "
        "σ = √((1 − ᾱ_s)/(1 − ᾱ_t)) · √(1 − ᾱ_t/ᾱ_s)"))
    np.testing.assert_allclose(without, mean, rtol=1e-6, atol=1e-9, err_msg=(
        "with η = 1 and z = 0 the step must land on the posterior mean μ̃(x̂₀, x_t): the ε̂ coefficient is "
        "√(1 − ᾱ_s − σ²), not √(1 − ᾱ_s)"))


def _ddim_on_a_gaussian(step, steps, mu, sd):
    """Deterministic DDIM with the perfect network for data x₀ ~ N(μ, s²):
    E[ε | x_t] = √(1 − ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ). Returns the samples (50000, 2)."""
    x = np.random.default_rng(1).standard_normal((50_000, 2))
    ts = diffusion.timesteps(S.T, steps)
    for i, t in enumerate(ts):
        ab = S.abar(t)
        eps = np.sqrt(1 - ab) * (x - np.sqrt(ab) * mu) / (ab * sd ** 2 + 1 - ab)
        x = np.asarray(step(x, eps, ab, S.abar(ts[i + 1]) if i + 1 < len(ts) else 1.0, 0.0, np.zeros_like(x)))
    return x


def test_deterministic_ddim_carries_noise_to_a_gaussians_moments():
    mu, sd = np.array([0.5, -0.3]), np.array([0.1, 0.3])
    x = _ddim_on_a_gaussian(under_test().ddim_step, 1000, mu, sd)
    np.testing.assert_allclose(x.mean(0), mu, atol=0.005, err_msg=(
        "1,000 deterministic DDIM steps with the exact ε̂ must land on the data's mean μ"))
    np.testing.assert_allclose(x.std(0), sd, atol=0.006, err_msg=(
        "1,000 deterministic DDIM steps with the exact ε̂ must land on the data's spread s"))


def test_deterministic_ddim_is_a_first_order_method():
    """With few steps each step trusts x̂₀ = E[x₀ | x_t], and the samples come out too narrow; the error of the
    spread halves when the number of steps doubles (an Euler method, lesson 16)."""
    mu, sd = np.array([0.5, -0.3]), np.array([0.1, 0.3])
    e50, e100 = (np.abs(_ddim_on_a_gaussian(under_test().ddim_step, n, mu, sd).std(0) - sd) for n in (50, 100))
    ratio = e50 / e100
    assert np.all((ratio > 1.6) & (ratio < 2.4)), (
        f"the spread's error at 50 steps over that at 100 is {ratio}, not about 2: deterministic DDIM is first "
        "order; check the ε̂ coefficient √(1 − ᾱ_s − σ²) and that σ = 0 when η = 0")


# --- 15.2 guide ------------------------------------------------------------------------------------------------
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), w=st.floats(-2, 8), seed=st.integers(0, 2 ** 16))
def test_guide_matches_the_reference_and_is_linear_in_w(shape, w, seed):
    rng = np.random.default_rng(seed)
    eps_c, eps_u = rng.standard_normal(shape), rng.standard_normal(shape)
    mine = np.asarray(under_test().guide(eps_c, eps_u, w))
    np.testing.assert_allclose(mine, reference().guide(eps_c, eps_u, w), rtol=1e-9, atol=1e-9)
    at0, at1 = np.asarray(under_test().guide(eps_c, eps_u, 0.0)), np.asarray(under_test().guide(eps_c, eps_u, 1.0))
    np.testing.assert_allclose(mine, at0 + w * (at1 - at0), rtol=1e-9, atol=1e-9,
                               err_msg="ε̃ must move along the line through ε_u (w = 0) and ε_c (w = 1)")


def test_guide_ends_are_the_unconditional_and_the_conditional_predictions():
    eps_c, eps_u = np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    np.testing.assert_allclose(np.asarray(under_test().guide(eps_c, eps_u, 0.0)), eps_u, err_msg=(
        "w = 0 must give the unconditional prediction ε_u (minigen's convention: ε_u + w (ε_c − ε_u))"))
    np.testing.assert_allclose(np.asarray(under_test().guide(eps_c, eps_u, 1.0)), eps_c, err_msg=(
        "w = 1 must give the plain conditional prediction ε_c (the convention (1 + w) ε_c − w ε_u is the other "
        "one: there w = 0 is conditional)"))
    np.testing.assert_allclose(np.asarray(under_test().guide(eps_c, eps_u, 3.0)), [5.0, 5.0], err_msg=(
        "w = 3 goes past ε_c, away from ε_u: ε_u + 3 (ε_c − ε_u)"))


class _TwoHeads:
    """A stand-in network whose conditional and unconditional outputs differ: ε̂ = x·(1 + y) (y = 10: no label)."""
    n_classes = 10

    def __call__(self, x, t, y):
        factor = np.where(y.numpy() == 10, -0.5, 1.0 + y.numpy())
        return x * minigen.tensor(factor.reshape(-1, 1).astype(np.float64))


@pytest.mark.parametrize("w", [0.0, 1.0, 2.5])
def test_guide_agrees_with_minigens_guided_prediction(w):
    net = _TwoHeads()
    x = minigen.tensor(np.random.default_rng(2).standard_normal((3, 4)))
    y = minigen.tensor(np.array([0, 3, 7]))
    eps_c = net(x, None, y).numpy()
    eps_u = net(x, None, minigen.tensor(np.full(3, 10))).numpy()
    want, _ = diffusion.guided(net, x, minigen.zeros(3), y, w)
    np.testing.assert_allclose(np.asarray(under_test().guide(eps_c, eps_u, w)), want.numpy(), rtol=1e-9,
                               err_msg="disagrees with minigen's diffusion.guided (ε_u + w (ε_c − ε_u))")
