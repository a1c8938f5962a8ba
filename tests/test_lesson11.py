"""Lesson 11's exercise checks: the projection discriminator's logit (11.1) and one-hot label planes stacked on an
image (11.2).

``python -m pytest -m lesson11 tests/test_lesson11.py`` checks ``lessons/solutions/lesson11.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson11.py``. Each check compares with the
reference solution and with something independent of both: the formula written out in float64 NumPy, minigen's
``ConditionalDiscriminator`` itself, finite differences (``gradcheck``), and for the planes, facts any one-hot
encoding must satisfy (the planes sum to 1 at every pixel; weighting plane k by k gives back the label).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
from minigen import nn
from minigen.models import ConditionalDiscriminator

from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson11
under_test, reference = checks(11)


def projection_parts(n, f, k, seed):
    """Features φ(x) (n, f), a head ψ = Linear(f, 1), class vectors e = Embedding(k, f) and labels (n,), all
    float64 so that finite differences can check the gradients."""
    rng = np.random.default_rng(seed)
    features = minigen.tensor(rng.standard_normal((n, f)), requires_grad=True)
    head = nn.Linear(f, 1, dtype=minigen.float64)
    embed = nn.Embedding(k, f, dtype=minigen.float64)
    y = minigen.tensor(rng.integers(0, k, n))
    return features, head, embed, y


# --- 11.1 the projection discriminator ----------------------------------------------------------------------
@given(n=st.integers(1, 5), f=st.integers(1, 6), k=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_projection_logits_match_the_formula_and_the_reference(n, f, k, seed):
    features, head, embed, y = projection_parts(n, f, k, seed)
    logits = under_test().projection_logits(features, head, embed, y)
    assert logits.shape == (n, 1), (f"D(x, y) is one logit per image: expected shape ({n}, 1), got {logits.shape} "
                                    "(φ(x) @ e(y)ᵀ would pair every image with every label)")
    h, w, b = features.detach().numpy(), head.weight.detach().numpy(), head.bias.detach().numpy()
    e = embed.weight.detach().numpy()[y.numpy()]                                       # (n, f): each image's own
    expected = h @ w.T + b + (e * h).sum(axis=1, keepdims=True)                        # ψ(φ(x)) + e(y)ᵀφ(x)
    np.testing.assert_allclose(logits.detach().numpy(), expected, rtol=1e-10, atol=1e-12,
                               err_msg="D(x, y) = ψ(φ(x)) + e(y)ᵀφ(x)")
    np.testing.assert_allclose(logits.detach().numpy(),
                               reference().projection_logits(features, head, embed, y).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_projection_logits_reach_features_head_and_embedding(seed):
    features, head, embed, y = projection_parts(4, 3, 5, seed)
    projection_logits = under_test().projection_logits
    # gradcheck perturbs the parameters in place, and the closure's head and embed see it
    assert minigen.gradcheck(lambda h, *parameters: projection_logits(h, head, embed, y),
                             (features, head.weight, head.bias, embed.weight))


@pytest.mark.parametrize("arch, width", [("421", 4), ("5x5", 2)])
def test_projection_logits_are_what_minigens_conditional_discriminator_computes(arch, width):
    minigen.manual_seed(0)
    D = ConditionalDiscriminator(width=width, arch=arch).eval()      # eval: no dropout, batch norm's running stats
    with minigen.no_grad():                                          # the head and the table start at ±0.02:
        D.embed.weight.data *= 50                                    # make the projection term matter
        x, y = minigen.randn(6, 1, 28, 28), minigen.tensor([0, 3, 9, 3, 1, 7])
        mine = under_test().projection_logits(D.body.features(x), D.body.head, D.embed, y)
        np.testing.assert_allclose(mine.numpy(), D(x, y).numpy(), rtol=1e-5, atol=1e-5)
        other_labels = minigen.tensor([1, 4, 0, 4, 2, 8])
        other = under_test().projection_logits(D.body.features(x), D.body.head, D.embed, other_labels)
    assert not np.allclose(mine.numpy(), other.numpy()), "the logit must depend on the label"


# --- 11.2 one-hot label planes -------------------------------------------------------------------------------
@given(n=st.integers(1, 5), k=st.integers(1, 12), height=st.integers(1, 6), width=st.integers(1, 6),
       seed=st.integers(0, 2 ** 16))
def test_label_planes_are_one_hot_at_every_pixel(n, k, height, width, seed):
    labels = np.random.default_rng(seed).integers(0, k, n)
    planes = under_test().label_planes(minigen.tensor(labels), k, height, width)
    assert planes.shape == (n, k, height, width), f"expected (N, K, H, W) = {(n, k, height, width)}, got {planes.shape}"
    assert planes.dtype == np.float32, f"the default dtype is float32, got {planes.dtype}"
    p = planes.detach().numpy()
    expected = np.broadcast_to(np.eye(k)[labels][:, :, None, None], (n, k, height, width))
    np.testing.assert_array_equal(p, expected, err_msg="plane y[i] of example i all ones, the others all zeros")
    np.testing.assert_array_equal(p.sum(axis=1), 1, err_msg="exactly one plane is on at every pixel")
    np.testing.assert_array_equal((p * np.arange(k)[:, None, None]).sum(axis=1),
                                  np.broadcast_to(labels[:, None, None], (n, height, width)),
                                  err_msg="the plane that is on must be plane y[i]")
    np.testing.assert_array_equal(p, reference().label_planes(minigen.tensor(labels), k, height, width).numpy())
    assert under_test().label_planes(minigen.tensor(labels), k, height, width, dtype=minigen.float64).dtype == \
        np.float64


@given(n=st.integers(1, 4), c=st.integers(1, 3), k=st.integers(1, 5), size=st.integers(1, 5),
       seed=st.integers(0, 2 ** 16))
def test_condition_on_label_stacks_the_planes_after_the_image(n, c, k, size, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, size, size))
    labels = rng.integers(0, k, n)
    out = under_test().condition_on_label(minigen.tensor(x), minigen.tensor(labels), k)
    assert out.shape == (n, c + k, size, size), f"expected (N, C + K, H, W) = {(n, c + k, size, size)}, got {out.shape}"
    assert out.dtype == np.float64, f"the result keeps the image's dtype (float64 here), got {out.dtype}"
    o = out.detach().numpy()
    np.testing.assert_array_equal(o[:, :c], x, err_msg="the image's own channels come first, unchanged")
    np.testing.assert_array_equal(o[:, c:], np.broadcast_to(np.eye(k)[labels][:, :, None, None], (n, k, size, size)),
                                  err_msg="then the K one-hot label planes")
    expected = reference().condition_on_label(minigen.tensor(x), minigen.tensor(labels), k)
    np.testing.assert_array_equal(o, expected.numpy())


def test_condition_on_label_passes_gradients_to_the_image():
    x = minigen.randn(3, 1, 4, 4, dtype=minigen.float64, requires_grad=True)
    y = minigen.tensor([2, 0, 1])
    assert minigen.gradcheck(lambda image: under_test().condition_on_label(image, y, 3), (x,))
