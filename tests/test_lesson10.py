"""Lesson 10's exercise checks: the classifier score (10.1) and the Fréchet distance between Gaussians (10.2).

``python -m pytest -m lesson10 tests/test_lesson10.py`` checks ``lessons/solutions/lesson10.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson10.py``. Each check compares with the
reference solution, with ``minigen.metrics``, and with something independent of all of them: the score as
exp(H(p(y)) − E H(p(y|x))), cases whose answer is known exactly, and tr (Σ₁Σ₂)^½ from the eigenvalues of the
product itself (``np.linalg.eigvals``, no symmetric trick).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigen import metrics

from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson10
under_test, reference = checks(10)


# --- 10.1 the classifier score ----------------------------------------------------------------------------------
@st.composite
def probabilities(draw):
    """Class probabilities (N, K): rows of non-negative numbers normalised to sum to 1."""
    n, k = draw(st.integers(1, 20)), draw(st.integers(2, 10))
    weights = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0, 1)))
    weights[:, 0] += 1e-3                                                # no all-zero row
    return weights / weights.sum(axis=1, keepdims=True)


def entropy(p, axis=-1):
    """−Σ p log p, with 0·log 0 = 0."""
    return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=axis)


@given(probs=probabilities())
def test_classifier_score_matches_metrics_the_entropy_form_and_its_bounds(probs):
    score = under_test().classifier_score(probs)
    assert isinstance(score, float), "return a Python float"
    # E_x KL(p(y|x) ‖ p(y)) = H(p(y)) − E_x H(p(y|x)): the marginal's entropy minus the mean entropy of the rows
    independent = np.exp(entropy(probs.mean(axis=0)) - entropy(probs).mean())
    np.testing.assert_allclose(score, independent, rtol=1e-7, err_msg="exp(E_x KL(p(y|x) ‖ p(y)))")
    np.testing.assert_allclose(score, metrics.classifier_score(probs), rtol=1e-9)
    np.testing.assert_allclose(score, reference().classifier_score(probs), rtol=1e-9)
    k = probs.shape[1]
    assert 1 - 1e-7 <= score <= k + 1e-7, f"the score lies between 1 and the number of classes ({k}), got {score}"


def test_classifier_score_of_known_cases():
    score = under_test().classifier_score
    one_hot = np.eye(10)
    assert score(one_hot[np.arange(1000) % 10]) == pytest.approx(10, rel=1e-6), \
        "confident and balanced over 10 classes: 10"
    assert score(np.full((100, 10), 0.1)) == pytest.approx(1, rel=1e-9), "the same p(y|x) for every image: 1"
    assert score(one_hot[np.zeros(100, dtype=int)]) == pytest.approx(1, rel=1e-6), \
        "confident but always the same class (total mode collapse): 1"
    assert score(one_hot[np.arange(1000) % 4]) == pytest.approx(4, rel=1e-6), "confident over 4 classes: 4"
    assert np.isfinite(score(one_hot[[0, 1]])), "probabilities of exactly 0 must not give NaN"
    assert score(np.array([[0.25, 0.75], [0.75, 0.25]])) == pytest.approx(
        np.exp(np.log(2) - entropy(np.array([0.25, 0.75]))), rel=1e-9)


def test_classifier_score_ignores_the_order_of_images_and_of_classes():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(10, 0.3), size=200)
    score = under_test().classifier_score
    np.testing.assert_allclose(score(probs[rng.permutation(200)]), score(probs), rtol=1e-10)
    np.testing.assert_allclose(score(probs[:, rng.permutation(10)]), score(probs), rtol=1e-10)


# --- 10.2 the Fréchet distance ----------------------------------------------------------------------------------
def trace_sqrt_of_product(sigma1, sigma2):
    """tr (Σ₁Σ₂)^½ from the (real, non-negative in exact arithmetic) eigenvalues of the product itself."""
    eigenvalues = np.linalg.eigvals(sigma1 @ sigma2).real
    return np.sqrt(np.clip(eigenvalues, 0, None)).sum()


@st.composite
def gaussians(draw):
    """Two Gaussians in D dimensions: means (D,), covariances A Aᵀ (D, D), possibly singular."""
    d = draw(st.integers(1, 6))
    floats = st.floats(-3, 3)
    mu1, mu2 = (draw(hnp.arrays(np.float64, d, elements=floats)) for _ in range(2))
    a1, a2 = (draw(hnp.arrays(np.float64, (d, draw(st.integers(1, d + 1))), elements=floats)) for _ in range(2))
    return mu1, a1 @ a1.T, mu2, a2 @ a2.T


@given(params=gaussians())
def test_frechet_distance_matches_metrics_and_the_eigenvalues_of_the_product(params):
    mu1, sigma1, mu2, sigma2 = params
    d2 = under_test().frechet_distance(mu1, sigma1, mu2, sigma2)
    assert isinstance(d2, float), "return a Python float"
    scale = 1 + np.trace(sigma1) + np.trace(sigma2) + ((mu1 - mu2) ** 2).sum()
    independent = ((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) \
        - 2 * trace_sqrt_of_product(sigma1, sigma2)
    assert abs(d2 - independent) <= 1e-6 * scale, f"d² = {d2}, expected {independent}"
    assert abs(d2 - metrics.frechet_distance(mu1, sigma1, mu2, sigma2)) <= 1e-9 * scale
    assert abs(d2 - reference().frechet_distance(mu1, sigma1, mu2, sigma2)) <= 1e-9 * scale
    assert d2 >= -1e-9 * scale, "a squared distance is not negative"
    assert abs(d2 - under_test().frechet_distance(mu2, sigma2, mu1, sigma1)) <= 1e-6 * scale, \
        "the distance is symmetric in its two Gaussians"
    assert abs(under_test().frechet_distance(mu1, sigma1, mu1, sigma1)) <= 1e-6 * scale, \
        "a Gaussian is at distance 0 from itself"


def test_frechet_distance_closed_forms():
    frechet = under_test().frechet_distance
    # 1-D: (μ₁ − μ₂)² + (σ₁ − σ₂)²
    assert frechet(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == \
        pytest.approx(2.0 ** 2 + (2.0 - 3.0) ** 2)
    # diagonal (commuting) covariances: Σ (√aᵢ − √bᵢ)², a zero variance included
    a, b = np.diag([1.0, 4.0, 0.0]), np.diag([9.0, 1.0, 4.0])
    assert frechet(np.zeros(3), a, np.ones(3), b) == pytest.approx(3 + 4 + 1 + 4)
    # the same covariance: only the means differ
    rng = np.random.default_rng(0)
    m = rng.standard_normal((5, 5))
    sigma = m @ m.T
    assert frechet(np.zeros(5), sigma, np.full(5, 2.0), sigma) == pytest.approx(20.0, abs=1e-8)


def test_frechet_distance_of_feature_sets_is_metrics_fid():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 8)) @ rng.standard_normal((8, 8))
    b = 0.5 + rng.standard_normal((400, 8))
    d2 = under_test().frechet_distance(*metrics.gaussian_stats(a), *metrics.gaussian_stats(b))
    assert d2 == pytest.approx(metrics.fid(a, b), rel=1e-9)
