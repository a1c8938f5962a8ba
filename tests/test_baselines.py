"""The trivial restorers (minigen.baselines): interpolation matrices against minigen's own F.interpolate, against
hand-computed values, and against PyTorch's bicubic where torch is installed; the blur's tuning and the mean fill."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigen
from minigen import baselines as B
from minigen.nn import functional as F

RNG = np.random.default_rng(0)


@settings(max_examples=25)
@given(n=st.integers(1, 9), scale=st.integers(1, 4), mode=st.sampled_from(["nearest", "bilinear", "bicubic"]))
def test_interpolation_rows_sum_to_one_and_keep_constants(n, scale, mode):
    m = B.UPSAMPLERS[mode](n, scale)
    assert m.shape == (n * scale, n)
    np.testing.assert_allclose(m.sum(axis=1), 1, atol=1e-12)


@settings(max_examples=25)
@given(h=st.integers(1, 8), w=st.integers(1, 8), scale=st.integers(1, 4), mode=st.sampled_from(["nearest",
                                                                                                  "bilinear"]))
def test_nearest_and_bilinear_match_minigens_interpolate(h, w, scale, mode):
    x = RNG.uniform(-1, 1, (2, 1, h, w)).astype(np.float32)
    ours = B.upsample(x, scale, mode)
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    theirs = F.interpolate(minigen.tensor(x), scale_factor=scale, mode=mode, **kwargs).numpy()
    np.testing.assert_allclose(ours, np.clip(theirs, -1, 1), atol=1e-6)


def test_bicubic_by_hand():
    # ×2 from 4 pixels, output 3 sits at s = 3.5/2 − 0.5 = 1.25: pixels 0..3 with f = 0.25
    w = B.cubic_weight(np.array([1.25, 0.25, -0.75, -1.75]))
    np.testing.assert_allclose(B.bicubic_matrix(4, 2)[3], w, atol=1e-12)
    assert abs(B.cubic_weight(np.array(0.0)) - 1) < 1e-12 and abs(B.cubic_weight(np.array(1.0))) < 1e-12
    # output 0 sits at s = −0.25: pixels −2..1 clamp to 0, 0, 0, 1
    f = 0.75
    w = B.cubic_weight(np.array([1 + f, f, 1 - f, 2 - f]))
    np.testing.assert_allclose(B.bicubic_matrix(4, 2)[0], [w[0] + w[1] + w[2], w[3], 0, 0], atol=1e-12)


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_matches_pytorch(scale):
    torch = pytest.importorskip("torch")
    x = RNG.uniform(-0.5, 0.5, (3, 1, 28 // scale, 28 // scale))
    theirs = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=scale, mode="bicubic",
                                             align_corners=False).numpy()
    ours = B.separable(x, B.bicubic_matrix(x.shape[2], scale), B.bicubic_matrix(x.shape[3], scale))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_upsampling_of_a_block_mean_image_is_close_to_it():
    # a smooth image: every interpolation gets back most of it from its 2×2 block means
    i, j = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    x = (np.sin(i / 5.0) * np.cos(j / 7.0))[None, None].astype(np.float32)
    low = x.reshape(1, 1, 14, 2, 14, 2).mean(axis=(3, 5))
    err = {m: float(((B.upsample(low, 2, m) - x) ** 2).mean()) for m in ("nearest", "bilinear", "bicubic")}
    assert err["bilinear"] < err["nearest"] and err["bicubic"] < err["nearest"], err
    assert max(err.values()) < 0.01, err


def test_mean_fill_keeps_known_pixels_and_fills_the_rest():
    y = RNG.uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32)
    mask = (RNG.random((2, 1, 28, 28)) < 0.5).astype(np.float32)
    mean = RNG.uniform(-1, 1, (28, 28)).astype(np.float32)
    out = B.mean_fill(y, mask, mean)
    np.testing.assert_array_equal(out[mask == 1], y[mask == 1])
    np.testing.assert_array_equal(out[mask == 0], np.broadcast_to(mean, y.shape)[mask == 0])


def test_blur_width_grows_with_the_noise_and_zero_width_is_the_identity():
    x = RNG.uniform(-1, 1, (2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(B.blur(x, 0.0), x)
    np.testing.assert_allclose(B.gaussian_matrix(7, 1.3).sum(axis=1), 1)
    i, j = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    clean = np.stack([np.sin(i / (3 + k) + j / (4 + k)) for k in range(20)])[:, None].astype(np.float32) * 0.8
    widths = [B.tune_blur(clean, s) for s in (0.05, 0.5, 1.0)]
    assert widths[0] <= widths[1] <= widths[2] and widths[2] > 0, widths
    # the tuned blur beats the noisy image itself
    noisy = clean + 0.5 * RNG.standard_normal(clean.shape).astype(np.float32)
    assert ((B.blur(noisy, widths[1]) - clean) ** 2).mean() < ((noisy - clean) ** 2).mean()


def test_baseline_names_its_choices():
    y = np.zeros((1, 1, 14, 14), np.float32)
    with pytest.raises(ValueError, match="upscale has no baseline 'lanczos'.*nearest, bilinear, bicubic"):
        B.baseline("upscale", "lanczos", y)
    with pytest.raises(ValueError, match="mode must be one of"):
        B.upsample(y, 2, "area")
    out, details = B.baseline("upscale", "bicubic", y, scale=2)
    assert out.shape == (1, 1, 28, 28) and details == {}
