"""Sample-quality metrics: the Fréchet distance (against closed forms, ≈ 0 for a set against itself, growing with
noise), the classifier score (10 for a perfect balanced classifier, 1 for a constant one), class shares, label
accuracy, and mode counting on the ring."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigen import metrics
from minigen.data import Ring

pytestmark = pytest.mark.lesson10


def test_fid_of_a_set_against_itself_is_zero_and_grows_with_noise():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((2000, 16)) @ rng.standard_normal((16, 16))   # correlated features
    assert abs(metrics.fid(features, features)) < 1e-6
    distances = [metrics.fid(features, features + s * rng.standard_normal(features.shape)) for s in (0.1, 0.5, 2)]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_frechet_distance_matches_closed_forms():
    # 1-D: (μ₁ − μ₂)² + (σ₁ − σ₂)²
    assert metrics.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == \
        pytest.approx(4 + 1)
    # commuting (diagonal) covariances: Σ (√a − √b)² over the diagonal
    a, b = np.diag([1.0, 4.0, 0.0]), np.diag([9.0, 1.0, 4.0])
    assert metrics.frechet_distance(np.zeros(3), a, np.zeros(3), b) == pytest.approx(4 + 1 + 4)
    # covariances that do not commute: tr (Σ₁Σ₂)^½ is the sum of the square roots of the eigenvalues of Σ₁Σ₂
    # (real and ≥ 0: Σ₁Σ₂ is similar to Σ₁^½ Σ₂ Σ₁^½), which tr(Σ₁^½ Σ₂^½) is not
    rng = np.random.default_rng(1)
    s1, s2 = (m @ m.T for m in rng.standard_normal((2, 5, 5)))
    mu1, mu2 = rng.standard_normal((2, 5))
    trace_sqrt = np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(0)).sum()
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(metrics.frechet_distance(mu2, s2, mu1, s1))


def test_gaussian_stats_are_the_mean_and_the_unbiased_covariance():
    features = np.random.default_rng(3).standard_normal((50, 4)).astype(np.float32)
    mu, sigma = metrics.gaussian_stats(features)
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(mu, features.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-12)


def test_matrix_square_root():
    rng = np.random.default_rng(2)
    m = rng.standard_normal((6, 3))
    a = m @ m.T                                                       # rank 3: positive semi-definite, singular
    root = metrics.sqrtm_psd(a)
    assert np.allclose(root @ root, a, atol=1e-10) and np.allclose(root, root.T)


def test_classifier_score_bounds():
    perfect = np.eye(10)[np.arange(1000) % 10]                        # confident and balanced
    assert metrics.classifier_score(perfect) == pytest.approx(10, rel=1e-6)
    constant = np.tile(np.full(10, 0.1), (1000, 1))
    assert metrics.classifier_score(constant) == pytest.approx(1)
    one_class = np.eye(10)[np.zeros(1000, dtype=int)]                 # confident but collapsed
    assert metrics.classifier_score(one_class) == pytest.approx(1)
    five = np.eye(10)[np.arange(1000) % 5]
    assert metrics.classifier_score(five) == pytest.approx(5, rel=1e-6)


def test_classifier_score_is_the_exponential_of_the_mutual_information():
    """exp(E_x KL(p(y|x) ‖ p(y))) = exp(H(p(y)) − E_x H(p(y|x))): the entropy form, on soft, unbalanced rows."""
    logits = np.random.default_rng(4).standard_normal((200, 6)) * [2.0, 1.0, 0.5, 3.0, 1.0, 0.1]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)

    def entropy(p):
        return -(p * np.log(p)).sum(-1)

    expected = np.exp(entropy(probs.mean(0)) - entropy(probs).mean())
    assert 1 < expected < 6
    assert metrics.classifier_score(probs) == pytest.approx(expected, rel=1e-9)


def test_class_shares_and_label_accuracy():
    probs = np.eye(3)[[0, 0, 1, 2]] * 0.8 + 0.2 / 3
    assert metrics.class_shares(probs) == pytest.approx([0.5, 0.25, 0.25])
    assert metrics.label_accuracy(probs, np.array([0, 1, 1, 2])) == pytest.approx(0.75)


def test_uncertain_share_and_least_certain():
    probs = np.array([[0.95, 0.05, 0.0], [0.5, 0.3, 0.2], [0.89, 0.11, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    assert metrics.uncertain_share(probs) == pytest.approx(0.75)              # 0.5, 0.89 and 1/3 are below 0.9
    assert metrics.uncertain_share(probs, threshold=0.5) == pytest.approx(0.25)
    assert metrics.least_certain(probs, k=3).tolist() == [3, 1, 2]            # uniform first, then by entropy
    assert metrics.uncertain_share(np.eye(10)) == 0.0


@given(n=st.integers(1, 30), m=st.integers(1, 40), d=st.integers(1, 12), block=st.integers(1, 7),
       seed=st.integers(0, 2**16))
def test_nearest_distances_match_brute_force(n, m, d, block, seed):
    rng = np.random.default_rng(seed)
    queries, reference = rng.random((n, d)), rng.random((m, d))
    brute = np.sqrt(((queries[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)).min(axis=1)   # (n,)
    got = metrics.nearest_distances(queries, reference, block=block)
    assert got.shape == (n,) and got.dtype == np.float32
    assert np.allclose(got, brute, atol=1e-3)                   # float32 products; rounding clipped at 0 below
    distances, index = metrics.nearest_distances(queries, reference, block=block, return_index=True)
    np.testing.assert_array_equal(distances, got)
    exact = np.sqrt(((queries - reference[index]) ** 2).sum(axis=1))        # the row it names is that near
    assert np.allclose(exact, brute, atol=1e-3)


def test_near_copies_are_counted():
    rng = np.random.default_rng(0)
    train, test = rng.random((200, 16)), rng.random((300, 16))
    copies = train[:50] + 1e-3 * rng.standard_normal((50, 16))             # 50 near-copies of training rows
    d_test = metrics.nearest_distances(test, train)
    assert metrics.nearest_distances(train[:5], train) == pytest.approx(0, abs=1e-3)
    assert metrics.near_copy_share(d_test, d_test) == pytest.approx(0.01, abs=0.004)   # the test set itself
    assert metrics.near_copy_share(metrics.nearest_distances(copies, train), d_test) == 1.0
    assert metrics.near_copy_share(metrics.nearest_distances(rng.random((300, 16)), train), d_test) < 0.05


def test_ring_modes():
    real = Ring(train=False).data
    assert metrics.ring_modes(real, Ring.centers(), Ring.std)["modes"] == 8
    assert metrics.ring_modes(real, Ring.centers(), Ring.std)["high_quality"] > 0.98
    collapsed = Ring.centers()[3] + 0.01 * np.random.default_rng(0).standard_normal((500, 2))
    assert metrics.ring_modes(collapsed, Ring.centers(), Ring.std) == {"modes": 1, "modes_reached": 1,
                                                                       "high_quality": 1.0}
    blurry = real + 0.3 * np.random.default_rng(1).standard_normal(real.shape)   # all modes, none sharp
    found = metrics.ring_modes(blurry, Ring.centers(), Ring.std)
    assert found["modes_reached"] == 8 and found["modes"] < 8 and found["high_quality"] < 0.1


# --- SSIM --------------------------------------------------------------------------------------------------------
def ssim_by_loops(x, y, data_range=1.0, size=11, sigma=1.5):
    """SSIM of one pair of images, window by window, with the weighted statistics written out (the formula of the
    module docstring and nothing else): the plain twin of metrics.ssim."""
    g = np.exp(-(np.arange(size) - (size - 1) / 2) ** 2 / (2 * sigma ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for a in range(x.shape[0] - size + 1):
        for b in range(x.shape[1] - size + 1):
            px, py = x[a:a + size, b:b + size], y[a:a + size, b:b + size]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            values.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return np.mean(values)


@given(st.integers(11, 16), st.integers(11, 15), st.integers(0, 2 ** 16), st.floats(0.05, 1.0))
def test_ssim_equals_the_window_by_window_formula(H, W, seed, noise):
    rng = np.random.default_rng(seed)
    x = rng.random((2, H, W))
    y = np.clip(x + noise * rng.standard_normal((2, H, W)), 0, 1)
    got = metrics.ssim(x, y)
    assert got.shape == (2,)
    for i in range(2):
        assert got[i] == pytest.approx(ssim_by_loops(x[i], y[i]), abs=1e-10)


def test_ssim_properties():
    rng = np.random.default_rng(0)
    x = rng.random((3, 28, 28))
    assert np.allclose(metrics.ssim(x, x), 1.0)                                  # identical: 1
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    assert np.allclose(metrics.ssim(x, y), metrics.ssim(y, x))                  # symmetric
    assert np.allclose(metrics.ssim(255 * x, 255 * y, data_range=255), metrics.ssim(x, y))   # scale-free
    scores = [metrics.ssim(x, np.clip(x + s * rng.standard_normal(x.shape), 0, 1)).mean() for s in (0.05, 0.2, 0.5)]
    assert 1 > scores[0] > scores[1] > scores[2]                                 # more noise, lower
    assert np.all(np.abs(metrics.ssim(x, 1 - x)) <= 1)
    assert metrics.ssim(x, 1 - x).mean() < 0                                    # inverted contrast: negative
    assert metrics.ssim(x[0], y[0]) == pytest.approx(metrics.ssim(x, y)[:1])     # one (H, W) image


def test_ssim_bad_input():
    with pytest.raises(ValueError, match="ssim: the images differ in shape"):
        metrics.ssim(np.zeros((2, 28, 28)), np.zeros((2, 28, 27)))
    with pytest.raises(ValueError, match="H, W ≥ 11"):
        metrics.ssim(np.zeros((2, 10, 28)), np.zeros((2, 10, 28)))
