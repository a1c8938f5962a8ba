"""Lesson 17's exercise checks: the replacement step of inpainting (17.1) and the consistency projection of
super-resolution (17.2).

``python -m pytest -m lesson17 tests/test_lesson17.py`` checks ``lessons/solutions/lesson17.py``; with
``MINIGEN_CHECK=exercises`` it checks the learner's ``lessons/exercises/lesson17.py``. Each check compares with the
reference solution and with something independent of both: ``np.where`` on the mask, minigen's own
``models.restoration.downsample`` and ``upsample``, the properties that define a projection (down ∘ project = y,
idempotence, the detail that block means cannot see left untouched), and the library's restorers
``models.restoration.inpaint`` and ``upscale``, replayed step by step with the learner's function and a stand-in
network.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
from minigen.models import restoration as R

from helpers import f64
from lesson_checks import checks  # tests/lesson_checks.py

pytestmark = pytest.mark.lesson17
under_test, reference = checks(17)

MASK_SHAPES = {"(H, W)": lambda n, c, h, w: (h, w), "(1, 1, H, W)": lambda n, c, h, w: (1, 1, h, w),
               "(N, 1, H, W)": lambda n, c, h, w: (n, 1, h, w), "(N, C, H, W)": lambda n, c, h, w: (n, c, h, w)}


def case(seed, n, c, h, w, kind):
    """x and y_noised (N, C, H, W) float64 with no equal entries, and a 0/1 mask of the shape ``kind`` names."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    y = rng.standard_normal((n, c, h, w)) + 10.0                   # far from x: a mix-up cannot pass by chance
    mask = (rng.random(MASK_SHAPES[kind](n, c, h, w)) < 0.5).astype(np.float64)
    return x, y, mask


# --- 17.1 replace ----------------------------------------------------------------------------------------------
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5),
       kind=st.sampled_from(sorted(MASK_SHAPES)), seed=st.integers(0, 2 ** 16))
def test_replace_takes_known_pixels_from_y_and_the_rest_from_x(n, c, h, w, kind, seed):
    x, y, mask = case(seed, n, c, h, w, kind)
    out = np.asarray(under_test().replace(x, y, mask))
    assert out.shape == x.shape, (f"replace returns x's shape {x.shape} (the mask {mask.shape} broadcasts over it), "
                                  f"got {out.shape}")
    known = np.broadcast_to(mask, x.shape).astype(bool)
    np.testing.assert_allclose(out[~known], x[~known], rtol=0, atol=1e-12,
                               err_msg="where the mask is 0 (unknown) the result is x, the network's state: "
                                       "mask 1 means known, so (1 − mask) ⊙ x fills the rest")
    np.testing.assert_allclose(out[known], y[known], rtol=0, atol=1e-12,
                               err_msg="where the mask is 1 (known) the result is y_noised: mask ⊙ y_noised")
    np.testing.assert_allclose(out, np.where(known, y, x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out, reference().replace(x, y, mask), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(MASK_SHAPES))
def test_replace_with_an_all_known_or_all_unknown_mask(kind):
    x, y, mask = case(0, 2, 2, 4, 4, kind)
    np.testing.assert_allclose(under_test().replace(x, y, np.ones_like(mask)), y, atol=1e-12,
                               err_msg="a mask of ones (everything known) must return y_noised everywhere")
    np.testing.assert_allclose(under_test().replace(x, y, np.zeros_like(mask)), x, atol=1e-12,
                               err_msg="a mask of zeros (nothing known) must return x unchanged")


def test_replace_uses_one_mask_for_every_image_and_channel():
    x, y = np.zeros((3, 2, 4, 4)), np.ones((3, 2, 4, 4))
    mask = np.zeros((4, 4))
    mask[:2] = 1                                                   # the top two rows known
    out = np.asarray(under_test().replace(x, y, mask))
    assert out.shape == (3, 2, 4, 4), f"a (H, W) mask broadcasts to x's shape (3, 2, 4, 4), got {out.shape}"
    np.testing.assert_array_equal(out[:, :, :2], 1.0, err_msg="the top rows (mask 1) of every image and channel "
                                                             "come from y_noised")
    np.testing.assert_array_equal(out[:, :, 2:], 0.0, err_msg="the bottom rows (mask 0) of every image and "
                                                             "channel come from x")


class StandIn:
    """A deterministic 'network' v(x, t) for replaying the library's loops without a trained model."""

    def __call__(self, x, t):
        return 0.7 * x + 0.05 * t.reshape(-1, 1, 1, 1) / 1000.0 - 0.1


def noise_stream(seed):
    """The standard normal draws of ``models.restoration``'s restorers, in the same order (float32)."""
    rng = np.random.default_rng(seed)
    return lambda shape: rng.standard_normal(shape, dtype=np.float32)


@pytest.mark.parametrize("spec", ["bottom", "center", "random:0.5"])
@pytest.mark.parametrize("repaint", [None, (2, 2)])
def test_the_library_inpainting_is_a_loop_of_your_replacements(spec, repaint):
    process = R.FlowProcess(StandIn())
    rng = np.random.default_rng(1)
    y = rng.uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32)
    mask = R.make_mask(spec, 2, rng)                               # (2, 1, 28, 28), 1 = known
    steps, seed = 6, 4
    with minigen.no_grad():
        expected = R.inpaint(process, minigen.tensor(y), mask, steps, seed, repaint=repaint).numpy()
        noise = noise_stream(seed)
        levels = process.levels(steps)
        order = R.repaint_schedule(len(levels), *repaint) if repaint else list(range(len(levels)))
        x = noise(y.shape)
        for a, b in zip(order, order[1:]):
            if b > a:
                x = process.step(minigen.tensor(x), levels[a], levels[b], minigen.tensor(noise(y.shape))).numpy()
                y_noised = process.noise_to(minigen.tensor(y), levels[b], minigen.tensor(noise(y.shape))).numpy()
                x = np.asarray(under_test().replace(x, y_noised, mask))
            else:
                x = process.renoise(minigen.tensor(x), levels[a], levels[b], minigen.tensor(noise(y.shape))).numpy()
        mine = np.asarray(under_test().replace(x, y, mask))
    np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-5,
                               err_msg="models.restoration.inpaint replayed with your replace gives other images: "
                                       "after each step, known pixels (mask 1) from the noised y, the rest from x")


# --- 17.2 project -----------------------------------------------------------------------------------------------
def low_pass(x, scale):
    """P x = up(down(x)) with minigen's own average pooling and nearest upsampling (float64 tensors)."""
    return R.upsample(R.downsample(f64(x, False), scale), scale).numpy()


def down(x, scale):
    return R.downsample(f64(x, False), scale).numpy()


def sr_case(seed, n, c, hb, wb, scale):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c, hb * scale, wb * scale)), rng.standard_normal((n, c, hb, wb))


SR = dict(n=st.integers(1, 2), c=st.integers(1, 2), hb=st.integers(1, 4), wb=st.integers(1, 4),
          scale=st.sampled_from([1, 2, 3, 4]), seed=st.integers(0, 2 ** 16))

WRONG_PROJECTION = ("down must be the *mean* of each scale×scale block (not one pixel of it, x[..., ::k, ::k]), "
                    "up must repeat each value scale×scale times (no interpolation, no zeros in between), and "
                    "x's own block means must be subtracted: x − up(down(x)) + up(y_low)")


@given(**SR)
def test_project_matches_minigen_downsample_and_upsample(n, c, hb, wb, scale, seed):
    x, y_low = sr_case(seed, n, c, hb, wb, scale)
    out = np.asarray(under_test().project(x, y_low, scale))
    assert out.shape == x.shape, f"project returns x's shape {x.shape}, got {out.shape}"
    expected = x - low_pass(x, scale) + R.upsample(f64(y_low, False), scale).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10, err_msg=WRONG_PROJECTION)
    np.testing.assert_allclose(out, reference().project(x, y_low, scale), rtol=1e-10, atol=1e-10)


@given(**SR)
def test_the_block_means_of_the_projection_are_the_observation(n, c, hb, wb, scale, seed):
    x, y_low = sr_case(seed, n, c, hb, wb, scale)
    out = np.asarray(under_test().project(x, y_low, scale))
    np.testing.assert_allclose(down(out, scale), y_low, rtol=1e-10, atol=1e-10,
                               err_msg="down(project(x, y_low)) must equal y_low (block means, minigen's "
                                       "downsample): " + WRONG_PROJECTION)


@given(**SR)
def test_project_is_idempotent_and_keeps_the_detail_block_means_cannot_see(n, c, hb, wb, scale, seed):
    x, y_low = sr_case(seed, n, c, hb, wb, scale)
    once = np.asarray(under_test().project(x, y_low, scale))
    twice = np.asarray(under_test().project(once, y_low, scale))
    np.testing.assert_allclose(twice, once, rtol=1e-10, atol=1e-10,
                               err_msg="projecting twice must change nothing (P² = P): " + WRONG_PROJECTION)
    np.testing.assert_allclose(once - low_pass(once, scale), x - low_pass(x, scale), rtol=1e-10, atol=1e-10,
                               err_msg="the part of x orthogonal to block-constant images, x − up(down(x)), must "
                                       "be unchanged: the projection only replaces the block means")
    np.testing.assert_allclose(under_test().project(x, down(x, scale), scale), x, rtol=1e-10, atol=1e-10,
                               err_msg="an x that already has the observed block means must come back unchanged")


def test_project_on_a_case_worked_by_hand():
    x = np.array([[[[1.0, 3.0], [5.0, 7.0]]]])                    # one 2×2 block, mean 4
    out = np.asarray(under_test().project(x, np.array([[[[10.0]]]]), 2))
    np.testing.assert_allclose(out, [[[[7.0, 9.0], [11.0, 13.0]]]],
                               err_msg="x = [[1, 3], [5, 7]] (block mean 4) projected onto the mean 10 is x + 6: "
                                       "subtract the block's mean, add the observed one")


@pytest.mark.parametrize("scale", [2, 4])
def test_the_library_upscaling_is_a_loop_of_your_projections(scale):
    process = R.FlowProcess(StandIn())
    rng = np.random.default_rng(2)
    y_low = rng.uniform(-1, 1, (2, 1, 28 // scale, 28 // scale)).astype(np.float32)
    steps, seed = 6, 3
    with minigen.no_grad():
        expected = R.upscale(process, minigen.tensor(y_low), scale, steps, seed).numpy()
        up = R.upsample(minigen.tensor(y_low), scale)
        noise = noise_stream(seed)
        levels = process.levels(steps)
        x = noise(up.shape)
        for a, b in zip(levels, levels[1:]):
            x = process.step(minigen.tensor(x), a, b, minigen.tensor(noise(up.shape))).numpy()
            target = process.noise_to(up, b, minigen.tensor(noise(up.shape)))          # noise_to(up y, level)
            x = np.asarray(under_test().project(x, R.downsample(target, scale).numpy(), scale))
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-5,
                               err_msg="models.restoration.upscale replayed with your project gives other images: "
                               + WRONG_PROJECTION)
    np.testing.assert_allclose(down(x.astype(np.float64), scale), y_low, atol=1e-5,
                               err_msg="at the data level the result's block means are the observation")
