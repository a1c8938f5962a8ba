"""Lesson 12's exercise checks: interpolates with one α per example (12.1) and the gradient penalty, whose gradient
with respect to the critic's weights is a derivative of a derivative (12.2).

``python -m pytest -m lesson12 tests/test_lesson12.py`` checks ``lessons/solutions/lesson12.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson12.py``. Each check compares with the
reference solution and with something independent of both: the mixing formula in float64 NumPy, minigen's own
``interpolate`` and ``gradient_penalty``, a linear critic f(x) = w·x whose penalty and gradient are known in closed
form, the penalty of a batch as the mean of one-example penalties, and finite differences (``gradcheck``) of the
penalty's gradient with respect to a critic's weights.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen.models import wgan_gp
from minigen.nn import functional as F

from helpers import f64
from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson12
under_test, reference = checks(12)


def as_alpha(u, ndim):
    """u (N,) → (N, 1, …, 1) with ndim axes in all, for minigen's ``interpolate`` and ``gradient_penalty``."""
    return u.reshape(u.shape[0], *([1] * (ndim - 1)))


def linear_critic(w):
    """f(x) = flatten(x)·w: the gradient with respect to x is w at every point."""
    return lambda x: F.flatten(x, 1) @ w.reshape(-1, 1)                    # (N, …) → (N, D) → (N, 1)


def mlp_critic(W1, b1, W2):
    """(N, 2) → tanh(8 units) → (N, 1). Smooth, so its second derivatives are not zero."""
    return lambda x: F.linear(F.tanh(F.linear(x, W1, b1)), W2)


def conv_critic(w1, b1, w2):
    """(N, 1, 4, 4) → conv 3×3 stride 2 → tanh → leaky ReLU → (N, 1), as tests/test_gan.py's."""
    return lambda x: F.flatten(F.leaky_relu(F.tanh(F.conv2d(x, w1, b1, stride=2, padding=1)), 0.2), 1) @ w2


def critic_case(kind, seed, n=4):
    """Real and fake batches, mixing weights u (N,), and a critic's float64 weights (requiring grad)."""
    rng = np.random.default_rng(seed)
    shape = (n, 2) if kind == "mlp" else (n, 1, 4, 4)
    real, fake = f64(rng.standard_normal(shape), False), f64(rng.standard_normal(shape), False)
    u = f64(rng.uniform(size=n), False)
    sizes = ((8, 2), (8,), (1, 8)) if kind == "mlp" else ((2, 1, 3, 3), (2,), (8, 1))
    weights = [f64(rng.standard_normal(s)) for s in sizes]
    return real, fake, u, weights, (mlp_critic if kind == "mlp" else conv_critic)


# --- 12.1 interpolates -----------------------------------------------------------------------------------------
@given(n=st.integers(1, 5), rest=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2 ** 16))
def test_interpolates_mix_each_example_with_its_own_alpha(n, rest, seed):
    rng = np.random.default_rng(seed)
    real, fake = rng.standard_normal((n, *rest)), rng.standard_normal((n, *rest))
    u = rng.uniform(size=n)
    x_hat = under_test().interpolates(f64(real, False), f64(fake, False), f64(u, False))
    assert x_hat.shape == real.shape, f"x̂ has the batch's shape {real.shape}, got {x_hat.shape}"
    alpha = u.reshape(n, *([1] * len(rest)))
    np.testing.assert_allclose(x_hat.detach().numpy(), alpha * real + (1 - alpha) * fake, rtol=1e-12, atol=1e-12,
                               err_msg="x̂ = α·real + (1 − α)·fake, α = u[i] for every element of example i")
    np.testing.assert_allclose(x_hat.detach().numpy(), wgan_gp.interpolate(
        f64(real, False), f64(fake, False), as_alpha(f64(u, False), real.ndim)).detach().numpy(),
        rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x_hat.detach().numpy(), reference().interpolates(
        f64(real, False), f64(fake, False), f64(u, False)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_interpolates_use_the_batch_axis_even_when_the_last_axis_has_the_same_size():
    real, fake = f64(np.ones((3, 3)), False), f64(np.zeros((3, 3)), False)
    x_hat = under_test().interpolates(real, fake, f64([0.0, 0.5, 1.0], False))
    np.testing.assert_allclose(x_hat.detach().numpy(), [[0.0] * 3, [0.5] * 3, [1.0] * 3],
                               err_msg="row i must be u[i] everywhere: reshape u to (N, 1) before multiplying "
                                       "(u of shape (N,) times (N, N) broadcasts along the last axis)")


def test_interpolates_are_a_leaf_that_requires_grad_and_do_not_reach_real_or_fake():
    real, fake = f64(np.ones((2, 1, 3, 3))), f64(np.zeros((2, 1, 3, 3)))
    x_hat = under_test().interpolates(real, fake, f64([0.25, 0.75], False))
    assert x_hat.requires_grad, "x̂ must require grad: the critic's gradient is taken with respect to it"
    assert x_hat.is_leaf, "x̂ must be a new leaf (detach, then requires_grad_(True)), not part of a graph"
    (x_hat * x_hat).sum().backward()
    assert x_hat.grad is not None
    assert real.grad is None and fake.grad is None, "no graph may lead from x̂ back to real or fake"


# --- 12.2 the gradient penalty --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 2), (3, 1, 4, 4)])
@pytest.mark.parametrize("eps", [1e-12, 1.0])
def test_gradient_penalty_of_a_linear_critic_in_closed_form(shape, eps):
    rng = np.random.default_rng(len(shape))
    size = int(np.prod(shape[1:]))
    w = f64(rng.standard_normal(size))
    real, fake = f64(rng.standard_normal(shape), False), f64(rng.standard_normal(shape), False)
    u = f64(rng.uniform(size=shape[0]), False)
    gp = under_test().gradient_penalty(linear_critic(w), real, fake, u, eps=eps)
    assert gp.shape == (), f"the penalty is a scalar (a mean over the batch), got shape {gp.shape}"
    norm = np.sqrt((w.detach().numpy() ** 2).sum() + eps)                      # ‖∇f‖ = ‖w‖ everywhere, ε inside
    np.testing.assert_allclose(gp.item(), (norm - 1) ** 2, rtol=1e-10,
                               err_msg="f(x) = w·x has ∇f = w at every x̂, so GP = (√(‖w‖² + ε) − 1)²")
    assert gp.requires_grad, ("the penalty must depend on the critic's weights: take the gradient with respect to "
                              "x̂ with minigen.grad(..., create_graph=True)")
    gp.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * (norm - 1) * w.detach().numpy() / norm, rtol=1e-8, atol=1e-12,
                               err_msg="∂GP/∂w = 2(‖w‖ − 1)·w/‖w‖ (with ε inside the norm)")


def test_gradient_penalty_stays_finite_where_the_critic_is_flat():
    w = f64(np.zeros(4))                                                      # ∇f = 0 at every point
    gp = under_test().gradient_penalty(linear_critic(w), f64(np.ones((3, 4)), False), f64(np.zeros((3, 4)), False),
                                       f64([0.1, 0.5, 0.9], False))
    assert gp.requires_grad, ("the penalty must depend on the critic's weights: take the gradient with respect to "
                              "x̂ with minigen.grad(..., create_graph=True)")
    gp.backward()
    assert np.isfinite(w.grad.numpy()).all(), ("a zero gradient gave a non-finite ∂GP/∂w: the norm's derivative "
                                               "g/‖g‖ is 0/0 there; compute the norm as √(Σ g² + ε)")
    np.testing.assert_allclose(w.grad.numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose(gp.item(), (np.sqrt(1e-12) - 1) ** 2, rtol=1e-10,
                               err_msg="a flat critic (∇f = 0) has ‖g‖ = √(0 + ε), so GP = (√ε − 1)² with ε = 1e-12: "
                                       "ε goes inside the square root, √(Σ g² + ε)")


@pytest.mark.parametrize("kind", ["mlp", "conv"])
@pytest.mark.parametrize("seed", range(2))
def test_gradient_penalty_matches_minigen_and_the_reference_values_and_gradients(kind, seed):
    real, fake, u, weights, make = critic_case(kind, seed)
    results = []
    for penalty in (under_test().gradient_penalty, reference().gradient_penalty,
                    lambda critic, r, f, u: wgan_gp.gradient_penalty(critic, r, f, as_alpha(u, r.ndim))):
        for p in weights:
            p.grad = None
        gp = penalty(make(*weights), real, fake, u)
        assert gp.requires_grad, "the penalty must depend on the critic's weights (create_graph=True)"
        gp.backward()
        results.append((gp.item(), [p.grad.numpy().copy() for p in weights]))
    (mine, mine_grads), *others = results
    for value, grads in others:
        np.testing.assert_allclose(mine, value, rtol=1e-10)
        for a, b in zip(mine_grads, grads):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12, err_msg="∂GP/∂(the critic's weights)")


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_gradient_penalty_of_a_batch_is_the_mean_of_one_example_penalties(kind):
    real, fake, u, weights, make = critic_case(kind, seed=3)
    critic = make(*weights)
    gp = under_test().gradient_penalty(critic, real, fake, u).item()
    singles = [under_test().gradient_penalty(critic, real[i:i + 1], fake[i:i + 1], u[i:i + 1]).item()
               for i in range(real.shape[0])]
    np.testing.assert_allclose(gp, np.mean(singles), rtol=1e-10,
                               err_msg="the norm is per example (sum over each example's elements, not the batch)")


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_gradient_penalty_gradient_matches_finite_differences(kind):
    real, fake, u, weights, make = critic_case(kind, seed=4, n=3)
    penalty = under_test().gradient_penalty
    assert minigen.gradcheck(lambda *ws: penalty(make(*ws), real, fake, u), tuple(weights))
