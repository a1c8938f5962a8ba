"""Lesson 16's exercise checks: the straight path and its velocity (16.1) and one Heun step (16.2).

``python -m pytest -m lesson16 tests/test_lesson16.py`` checks ``lessons/solutions/lesson16.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson16.py``. Each check compares with the
reference solution and with something independent of both: minigen's ``flow.flow_loss`` (a network that outputs
your v must score a loss of 0) and ``flow.sample`` (its Heun steps), the derivative of the path in t by finite
differences, the marginal velocity of Gaussian data in closed form (a least-squares fit of v on x_t must find it),
a point-mass velocity field that Heun follows exactly, and the convergence order on dx/dt = a·x (the error of
Heun's method must fall four times when the step halves), in both directions of time.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen.models import flow

from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson16
under_test, reference = checks(16)


def pair(x0, eps, t):
    """The learner's (x_t, v) as NumPy arrays, after checking that they are."""
    out = under_test().flow_pair(x0, eps, t)
    assert isinstance(out, tuple) and len(out) == 2, "flow_pair returns a pair (x_t, v)"
    x_t, v = out
    assert isinstance(x_t, np.ndarray) and isinstance(v, np.ndarray), \
        f"flow_pair returns NumPy arrays, got {type(x_t).__name__} and {type(v).__name__}"
    assert x_t.shape == np.shape(x0) and v.shape == np.shape(x0), \
        f"x_t and v have x0's shape {np.shape(x0)}, got {x_t.shape} and {v.shape}"
    return x_t, v


# --- 16.1 flow_pair --------------------------------------------------------------------------------------------
@given(n=st.integers(1, 5), rest=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2 ** 16))
def test_flow_pair_matches_the_formula_and_the_reference(n, rest, seed):
    rng = np.random.default_rng(seed)
    x0, eps, t = rng.standard_normal((n, *rest)), rng.standard_normal((n, *rest)), rng.uniform(size=n)
    x_t, v = pair(x0, eps, t)
    tb = t.reshape(n, *([1] * len(rest)))
    np.testing.assert_allclose(x_t, (1 - tb) * x0 + tb * eps, rtol=1e-12, atol=1e-12,
                               err_msg="x_t = (1 − t) x0 + t ε, with t[i] for every element of example i")
    np.testing.assert_allclose(v, eps - x0, rtol=1e-12, atol=1e-12, err_msg="v = ε − x0")
    want_x, want_v = reference().flow_pair(x0, eps, t)
    np.testing.assert_allclose(x_t, want_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v, want_v, rtol=1e-12, atol=1e-12)


def test_flow_pair_puts_the_data_at_t_0_and_the_noise_at_t_1():
    x0, eps = np.full((2, 3), 5.0), np.full((2, 3), -1.0)
    x_t, _ = pair(x0, eps, np.array([0.0, 1.0]))
    np.testing.assert_allclose(x_t[0], x0[0], err_msg="at t = 0 the path is at the data x0 (minigen's convention: "
                                                      "t = 0 data, t = 1 noise; x_t = (1 − t) x0 + t ε)")
    np.testing.assert_allclose(x_t[1], eps[1], err_msg="at t = 1 the path is at the noise ε")


def test_flow_pair_uses_the_batch_axis_even_when_the_last_axis_has_the_same_size():
    x0, eps = np.zeros((3, 3)), np.ones((3, 3))
    x_t, _ = pair(x0, eps, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(x_t, [[0.0] * 3, [0.5] * 3, [1.0] * 3],
                               err_msg="row i must be mixed with t[i] everywhere: reshape t to (N, 1, …, 1) first "
                                       "(t of shape (N,) times (N, N) broadcasts along the last axis)")


@given(seed=st.integers(0, 2 ** 16))
def test_v_is_the_time_derivative_of_the_path(seed):
    rng = np.random.default_rng(seed)
    x0, eps, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.uniform(0.1, 0.9, size=4)
    delta = 1e-6
    (ahead, v), (behind, _) = pair(x0, eps, t + delta), pair(x0, eps, t - delta)
    np.testing.assert_allclose(v, (ahead - behind) / (2 * delta), rtol=1e-6, atol=1e-6,
                               err_msg="v must be dx_t/dt, the path's velocity in t: for x_t = (1 − t) x0 + t ε that "
                                       "is ε − x0 (not x0 − ε)")


@pytest.mark.parametrize("shape", [(8, 2), (3, 1, 4, 4)])
def test_a_network_that_outputs_your_v_scores_zero_on_minigens_flow_loss(shape):
    rng = np.random.default_rng(len(shape))
    x0 = rng.standard_normal(shape).astype(np.float32)
    t = rng.uniform(size=shape[0]).astype(np.float32)
    minigen.manual_seed(7)
    eps = minigen.randn(*shape).numpy()                            # the noise flow_loss will draw after this seed
    x_t, v = pair(x0, eps, t)
    seen = {}

    def network(x, t_model, y=None):
        seen["x_t"], seen["t"] = x.numpy(), t_model.numpy()
        return minigen.tensor(v.astype(np.float32))

    minigen.manual_seed(7)
    loss = flow.flow_loss(network, minigen.tensor(x0), t=minigen.tensor(t)).item()
    np.testing.assert_allclose(x_t, seen["x_t"], rtol=1e-5, atol=1e-5,
                               err_msg="your x_t differs from the point minigen's flow_loss gives the network")
    assert loss < 1e-10, (f"minigen's flow_loss of a network that outputs your v is {loss:.3g}, not 0: "
                          "its regression target is ε − x0")


@pytest.mark.parametrize("t", [0.2, 0.5, 0.8])
def test_least_squares_of_v_on_x_t_finds_the_marginal_velocity_of_gaussian_data(t):
    mu, s, n = 1.5, 0.5, 200_000
    rng = np.random.default_rng(int(10 * t))
    x0, eps = mu + s * rng.standard_normal((n, 1)), rng.standard_normal((n, 1))
    x_t, v = pair(x0, eps, np.full(n, t))
    slope, intercept = np.polyfit(x_t[:, 0], v[:, 0], 1)                 # v ≈ slope·x_t + intercept
    want_slope = (t - (1 - t) * s ** 2) / ((1 - t) ** 2 * s ** 2 + t ** 2)
    want_intercept = -mu - want_slope * (1 - t) * mu                     # v*(x, t) = −μ + slope·(x − (1 − t)μ)
    np.testing.assert_allclose([slope, intercept], [want_slope, want_intercept], atol=0.02, err_msg=(
        f"for data N({mu}, {s}²) the best prediction of v from x_t at t = {t} is the line "
        "−μ + (t − (1 − t)s²)/((1 − t)²s² + t²)·(x − (1 − t)μ); a least-squares fit to your (x_t, v) found "
        "another: check the ends of the path (data at t = 0) and the sign of v = ε − x0"))


# --- 16.2 heun_step -------------------------------------------------------------------------------------------
def swirl(x, t):
    """A smooth nonlinear, time-dependent velocity field on any shape."""
    return np.sin(x) * (1 + t) - 0.5 * np.roll(x, 1, axis=-1) * t


class Recorder:
    """A velocity field that records the times it is asked about."""

    def __init__(self, field):
        self.field, self.times = field, []

    def __call__(self, x, t):
        self.times.append(float(t))
        return self.field(x, t)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), t=st.floats(0.05, 1.0),
       h=st.floats(-0.5, 0.5).filter(lambda h: abs(h) > 1e-3), seed=st.integers(0, 2 ** 16))
def test_heun_step_matches_the_trapezoid_rule_and_the_reference(shape, t, h, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    field = Recorder(swirl)
    mine = np.asarray(under_test().heun_step(field, x, t, t + h))
    assert mine.shape == x.shape, f"the new x has x's shape {x.shape}, got {mine.shape}"
    assert len(field.times) == 2, (f"Heun evaluates the velocity twice per step (at (x, t) and at Euler's guess "
                                   f"(x̃, t_next)), yours called it {len(field.times)} time(s)")
    np.testing.assert_allclose(sorted(field.times), sorted([t, t + h]), rtol=1e-12, atol=1e-12,
                               err_msg="the two slopes are taken at t and at t_next")
    v1 = swirl(x, t)
    want = x + h / 2 * (v1 + swirl(x + h * v1, t + h))
    np.testing.assert_allclose(mine, want, rtol=1e-10, atol=1e-12,
                               err_msg="x + h (v₁ + v₂)/2, v₁ = v(x, t), v₂ = v(x + h v₁, t_next), h = t_next − t")
    np.testing.assert_allclose(mine, reference().heun_step(swirl, x, t, t + h), rtol=1e-10, atol=1e-12)


def test_heun_steps_match_minigens_flow_sample():
    class Network:                                      # flow.sample's network: time on the 0 … 1000 scale
        n_classes = None

        def __call__(self, x, t_model, y=None):
            return minigen.tensor(swirl(x.numpy(), float(t_model.numpy()[0]) / flow.TIME_SCALE))

    x1 = np.random.default_rng(0).standard_normal((3, 5))
    _, nfe, states = flow.sample(Network(), x1.shape, "heun", steps=4, x_T=minigen.tensor(x1, dtype=minigen.float64),
                                 return_trajectory=True)
    x = x1
    for k, (t, t_next) in enumerate([(1.0, 0.75), (0.75, 0.5), (0.5, 0.25)]):   # flow.sample's last step is Euler
        x = np.asarray(under_test().heun_step(swirl, x, t, t_next))
        np.testing.assert_allclose(x, states[k + 1].numpy(), rtol=1e-9, atol=1e-9, err_msg=(
            f"Heun step {k + 1} (t = {t} → {t_next}) disagrees with minigen's flow.sample(..., sampler='heun')"))


@pytest.mark.parametrize("target", [[0.0, 0.0], [1.5, -2.0]])
def test_heun_follows_a_point_mass_field_exactly(target):
    x_star = np.array(target)
    field = lambda x, t: (x - x_star) / t                 # noqa: E731  (E[ε − x0 | x_t] when all data sit at x*)
    x1 = np.array([[3.0, 1.0], [-1.0, 2.5], [0.2, -0.7]])
    x, t = x1, 1.0
    for t_next in (0.8, 0.5, 0.3, 0.1):
        x = np.asarray(under_test().heun_step(field, x, t, t_next))
        np.testing.assert_allclose(x, x_star + t_next * (x1 - x_star), rtol=1e-10, atol=1e-10, err_msg=(
            f"the field v = (x − x*)/t carries x₁ along the straight line x* + t (x₁ − x*), and Heun follows it "
            f"exactly (its Euler guess lands on the line, where the slope is unchanged); at t = {t_next} yours is "
            "off it: is the second slope taken at (x̃, t_next)?"))
        t = t_next


@pytest.mark.parametrize("t0,t1", [(1.0, 0.0), (0.0, 1.0)])
def test_heun_error_falls_four_times_when_the_step_halves_in_either_direction(t0, t1):
    a = -1.3
    field = lambda x, t: a * x                            # noqa: E731  x(t) = x(t0) e^{a (t − t0)}
    x0 = np.array([1.0, -2.0])
    exact = x0 * np.exp(a * (t1 - t0))
    errors = []
    for steps in (8, 16, 32):
        times, x = np.linspace(t0, t1, steps + 1), x0
        for t, t_next in zip(times[:-1], times[1:]):
            x = np.asarray(under_test().heun_step(field, x, float(t), float(t_next)))
        errors.append(np.abs(x - exact).max() / np.abs(exact).max())        # relative
    assert errors[-1] < 1e-3, (f"integrating dx/dt = {a}·x from t = {t0} to {t1} in 32 Heun steps missed the exact "
                               f"e^(a (t1 − t0)) x by {errors[-1]:.3g} (relative): does your step go from t towards "
                               "t_next (h = t_next − t, signed)?")
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    assert all(3.5 < r < 4.5 for r in ratios), (
        f"when the step halves, Heun's error must fall about 4 times (second order); yours fell {ratios[0]:.2f} and "
        f"{ratios[1]:.2f} times (2 is Euler's first order: are both slopes used, the second at Euler's guess?)")
