"""Lesson 14's exercise checks: the closed-form forward process q(x_t | x₀) (14.1) and the posterior
q(x_{t−1} | x_t, x₀) behind the reverse step (14.2).

``python -m pytest -m lesson14 tests/test_lesson14.py`` checks ``lessons/solutions/lesson14.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson14.py``. Each check compares with the
reference solution and with something independent of both: minigen's ``diffusion.q_sample`` and ``posterior``,
the one-step kernel iterated as a Markov chain, and the least-squares prediction of x_{t−1} from x_t (the posterior
mean is linear in x_t, its residual variance is β̃). A coarse schedule (ten large steps) makes an off-by-one in ᾱ
visible to the Monte Carlo checks.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen.models import diffusion

from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson14
under_test, reference = checks(14)

COARSE = np.linspace(0.05, 0.4, 10)          # β_t of a ten-step schedule: every ᾱ_t far from ᾱ_{t−1}


def schedule_of(betas):
    """A minigen Schedule with the given β (float64)."""
    s = diffusion.Schedule("linear", T=len(betas))
    s.betas = np.asarray(betas, dtype=np.float64)
    s.alphas = 1 - s.betas
    s.alpha_bar = np.cumprod(s.alphas)
    return s


# --- 14.1 q_sample ---------------------------------------------------------------------------------------------
@given(n=st.integers(1, 5), rest=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2 ** 16))
def test_q_sample_is_the_closed_form_with_one_step_per_example(n, rest, seed):
    rng = np.random.default_rng(seed)
    s = diffusion.default_schedule()
    x0, noise = rng.standard_normal((n, *rest)), rng.standard_normal((n, *rest))
    t = rng.integers(0, s.T, n)
    x_t = np.asarray(under_test().q_sample(x0, t, noise, s.alpha_bar))
    assert x_t.shape == x0.shape, f"x_t has x0's shape {x0.shape}, got {x_t.shape}"
    ab = s.alpha_bar[t].reshape(n, *([1] * len(rest)))
    np.testing.assert_allclose(x_t, np.sqrt(ab) * x0 + np.sqrt(1 - ab) * noise, rtol=1e-6, atol=1e-6,
                               err_msg="x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε with ᾱ_t = alpha_bar[t] (square roots of ᾱ, "
                                       "not ᾱ itself)")
    mine = diffusion.q_sample(minigen.tensor(x0, dtype=minigen.float64), minigen.tensor(t),
                              minigen.tensor(noise, dtype=minigen.float64), s).numpy()
    np.testing.assert_allclose(x_t, mine, rtol=1e-5, atol=1e-5, err_msg="minigen's diffusion.q_sample disagrees")
    np.testing.assert_allclose(x_t, reference().q_sample(x0, t, noise, s.alpha_bar), rtol=1e-6, atol=1e-6)


def test_q_sample_uses_the_batch_axis_even_when_the_last_axis_has_the_same_size():
    alpha_bar = np.array([1.0, 0.25, 0.0])
    x0, noise = np.ones((3, 3)), np.full((3, 3), 2.0)
    x_t = np.asarray(under_test().q_sample(x0, np.array([0, 1, 2]), noise, alpha_bar))
    np.testing.assert_allclose(x_t, [[1.0] * 3, [0.5 + 2 * np.sqrt(0.75)] * 3, [2.0] * 3],
                               err_msg="row i must use alpha_bar[t[i]] everywhere: reshape ᾱ_t to (N, 1, …) "
                                       "before multiplying (an (N,) array times (N, N) broadcasts along the last axis)")


@pytest.mark.parametrize("t", [0, 3, 9])
def test_q_sample_has_the_moments_of_the_iterated_one_step_kernel(t):
    rng = np.random.default_rng(t)
    x0 = np.repeat([[-0.8, 0.3]], 200_000, axis=0)                          # (200000, 2)
    chain = x0.copy()
    for s in range(t + 1):                                                   # steps 0 … t of the Markov chain
        chain = np.sqrt(1 - COARSE[s]) * chain + np.sqrt(COARSE[s]) * rng.standard_normal(chain.shape)
    alpha_bar = np.cumprod(1 - COARSE)
    x_t = np.asarray(under_test().q_sample(x0, np.full(len(x0), t), rng.standard_normal(x0.shape), alpha_bar))
    np.testing.assert_allclose(x_t.mean(0), chain.mean(0), atol=0.01,
                               err_msg=f"the mean of q_sample at step {t} is not that of {t + 1} steps of the chain "
                                       "x ← √α x + √β z: use ᾱ_t = alpha_bar[t] (the product up to and including t)")
    np.testing.assert_allclose(x_t.std(0), chain.std(0), atol=0.01,
                               err_msg=f"the spread of q_sample at step {t} is not that of the chain: the noise's "
                                       "factor is √(1 − ᾱ_t)")


# --- 14.2 posterior --------------------------------------------------------------------------------------------
@given(t=st.integers(0, 999), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
       seed=st.integers(0, 2 ** 16))
def test_posterior_matches_minigen_and_the_reference(t, shape, seed):
    rng = np.random.default_rng(seed)
    s = diffusion.default_schedule()
    x0, x_t = rng.standard_normal(shape), rng.standard_normal(shape)
    mean, var = under_test().posterior(x0, x_t, t, s.betas)
    want_mean, want_var = diffusion.posterior(x0, x_t, t, s)
    np.testing.assert_allclose(np.asarray(mean), want_mean, rtol=1e-6, atol=1e-9,
                               err_msg="μ̃ = √ᾱ_{t−1} β_t/(1 − ᾱ_t) x₀ + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t")
    np.testing.assert_allclose(float(var), want_var, rtol=1e-6, atol=1e-12,
                               err_msg="β̃ = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t), not β_t")
    ref_mean, ref_var = reference().posterior(x0, x_t, t, s.betas)
    np.testing.assert_allclose(np.asarray(mean), ref_mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(float(var), ref_var, rtol=1e-6, atol=1e-12)


def test_posterior_at_the_first_step_returns_the_data():
    x0, x_t = np.array([0.3, -0.7]), np.array([5.0, 5.0])
    mean, var = under_test().posterior(x0, x_t, 0, COARSE)
    np.testing.assert_allclose(np.asarray(mean), x0, atol=1e-12,
                               err_msg="at t = 0, ᾱ_{−1} = 1: the mean is x₀ itself (the x_t coefficient vanishes)")
    assert abs(float(var)) < 1e-12, "at t = 0 the variance is 0 (1 − ᾱ_{−1} = 0)"


@pytest.mark.parametrize("t", [1, 4, 9])
def test_posterior_is_the_best_prediction_of_the_previous_step(t):
    """Draw x_{t−1} ~ q(x_{t−1} | x₀), then x_t from the one-step kernel; regress x_{t−1} on x_t."""
    rng = np.random.default_rng(10 + t)
    alpha_bar = np.cumprod(1 - COARSE)
    x0 = 0.6
    x_prev = np.sqrt(alpha_bar[t - 1]) * x0 + np.sqrt(1 - alpha_bar[t - 1]) * rng.standard_normal(400_000)
    x_t = np.sqrt(1 - COARSE[t]) * x_prev + np.sqrt(COARSE[t]) * rng.standard_normal(400_000)
    slope, intercept = np.polyfit(x_t, x_prev, 1)
    residual = (x_prev - slope * x_t - intercept).var()
    at0, var = under_test().posterior(np.array([x0]), np.array([0.0]), t, COARSE)
    at1, _ = under_test().posterior(np.array([x0]), np.array([1.0]), t, COARSE)
    np.testing.assert_allclose(float(at1[0] - at0[0]), slope, atol=5e-3,
                               err_msg="the coefficient of x_t in μ̃ is not the one the simulated chain shows: "
                                       "√α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)")
    np.testing.assert_allclose(float(at0[0]), intercept, atol=5e-3,
                               err_msg="the coefficient of x₀ in μ̃ is not the one the simulated chain shows: "
                                       "√ᾱ_{t−1} β_t/(1 − ᾱ_t)")
    np.testing.assert_allclose(float(var), residual, rtol=0.02,
                               err_msg="the variance is not the spread the simulated chain leaves around the mean")
