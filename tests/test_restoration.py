"""Restoration with a diffusion or flow model (models.restoration), checked with exact models of a one-image data
set: the only clean image is x*, so the exact ε̂ (and velocity) are known in closed form, and every restorer that
agrees with its observation must return x*. Then the guarantees of each method: known pixels kept, block means
equal to the low-resolution input, σ → 0 returns the input, the same seed gives the same result, clear errors."""

import math

import numpy as np
import pytest

import minigen
from minigen.models import diffusion, flow
from minigen.models import restoration as R

RNG = np.random.default_rng(0)
X_STAR = np.tanh(RNG.standard_normal((1, 1, 28, 28))).astype(np.float32)       # the one "clean image", in [−1, 1]


class PointEps:
    """ε̂(x_t, t) = (x_t − √ᾱ_t x*)/√(1 − ᾱ_t): exact when every clean image is x*."""

    def __call__(self, x, t, y=None):
        ab = float(diffusion.default_schedule().alpha_bar[int(t.data[0])])
        return (x - math.sqrt(ab) * minigen.tensor(X_STAR)) * (1 / math.sqrt(1 - ab))


class PointVelocity:
    """v̂(x_t, t) = (x_t − x*)/t: exact when every clean image is x*."""

    def __call__(self, x, t, y=None):
        return (x - minigen.tensor(X_STAR)) * (1 / (float(t.data[0]) / flow.TIME_SCALE))


PROCESSES = {"ddpm": lambda: R.DiffusionProcess(PointEps()), "ddim-eta1": lambda: R.DiffusionProcess(PointEps(),
             eta=1.0), "flow": lambda: R.FlowProcess(PointVelocity())}
MASKS = {"bottom": np.concatenate([np.ones((14, 28)), np.zeros((14, 28))]),
         "random": (RNG.random((28, 28)) < 0.2).astype(np.float32)}


def truth(n=2):
    return minigen.tensor(np.repeat(X_STAR, n, axis=0))


@pytest.mark.parametrize("family", sorted(PROCESSES))
@pytest.mark.parametrize("mask", sorted(MASKS))
@pytest.mark.parametrize("method", ["replace", "repaint", "ddnm", "ddnm+"])
def test_inpainting_recovers_the_image_and_keeps_the_known_pixels(family, mask, method):
    y, m = truth(), MASKS[mask]
    corrupted = minigen.tensor(y.numpy() * m)                                # the unknown pixels are 0
    out = R.inpaint(PROCESSES[family](), corrupted, m, steps=12, seed=1, repaint=(3, 2) if method in ("repaint",
                    "ddnm+") else None, null_space=method.startswith("ddnm")).numpy()
    np.testing.assert_array_equal(out[..., m == 1], corrupted.numpy()[..., m == 1])   # known pixels: the input's
    np.testing.assert_allclose(out, y.numpy(), atol=1e-3)                    # the rest: x*, the only image there is


@pytest.mark.parametrize("family", sorted(PROCESSES))
@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("method", ["projection", "ddnm", "ddnm+", "subgrid"])
def test_upscaling_recovers_the_image_and_keeps_the_block_means(family, scale, method):
    y = truth()
    low = R.downsample(y, scale)                                             # (2, 1, 28/scale, 28/scale)
    out = R.upscale(PROCESSES[family](), low, scale, steps=12, seed=2, method=method.rstrip("+"),
                    repaint=(3, 2) if method == "ddnm+" else None)
    assert out.shape == y.shape
    if method != "subgrid":                                                  # exact, whatever the model
        np.testing.assert_allclose(R.downsample(out, scale).numpy(), low.numpy(), atol=1e-6)
        np.testing.assert_allclose(out.numpy(), y.numpy(), atol=1e-3)
    else:                                       # one pixel per block holds the block's mean; the others are x*'s
        known = np.zeros((28, 28), dtype=bool)
        known[scale // 2::scale, scale // 2::scale] = True
        np.testing.assert_allclose(out.numpy()[..., ~known], y.numpy()[..., ~known], atol=1e-3)
        np.testing.assert_allclose(out.numpy()[..., known], R.upsample(low, scale).numpy()[..., known], atol=1e-6)


@pytest.mark.parametrize("method", ["projection", "ddnm"])
def test_projection_keeps_the_block_means_for_any_model(method):
    """A model that knows nothing (ε̂ = 0, v̂ = 0) still gives an image whose block means are the input."""
    low = minigen.tensor(RNG.uniform(-1, 1, (3, 1, 7, 7)).astype(np.float32))
    for process in (R.DiffusionProcess(lambda x, t, y=None: x * 0), R.FlowProcess(lambda x, t, y=None: x * 0)):
        out = R.upscale(process, low, 4, steps=5, seed=0, method=method)
        np.testing.assert_allclose(R.downsample(out, 4).numpy(), low.numpy(), atol=1e-6)


@pytest.mark.parametrize("family", ["ddpm", "flow"])
def test_ddnm_with_nothing_known_is_the_plain_sampler(family):
    """With an empty mask DDNM's projection does nothing, and x_s = noise_to(x̂₀, s, ε̂) is one DDIM (η = 0) or
    Euler step: the result is replacement's, which with nothing to replace runs the plain sampler from the same
    first draw. An imperfect model (a damped exact one), so that a wrong x̂₀ or ε̂ would show."""
    if family == "ddpm":
        process = R.DiffusionProcess(lambda x, t, y=None: 0.7 * PointEps()(x, t))
    else:
        process = R.FlowProcess(lambda x, t, y=None: 0.7 * PointVelocity()(x, t))
    y, nothing = truth(), np.zeros((28, 28), dtype=np.float32)
    plain = R.inpaint(process, y, nothing, steps=9, seed=7).numpy()
    ddnm = R.inpaint(process, y, nothing, steps=9, seed=7, null_space=True, eta=0.0).numpy()
    np.testing.assert_allclose(ddnm, plain, rtol=1e-5, atol=1e-5)
    assert np.abs(plain - y.numpy()).max() > 0.1                             # the damped model misses x*


def test_ddnm_predict_is_the_clean_estimate_and_its_noise():
    """Both families: x_t = noise_to(x̂₀, t, ε̂) holds for the pair ``predict`` returns, and an exact model's
    x̂₀ is x*."""
    rng = np.random.default_rng(3)
    for process, level in ((R.DiffusionProcess(PointEps(), clip=False), 300), (R.FlowProcess(PointVelocity()), 0.4)):
        x = minigen.tensor(rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
        x0, eps = process.predict(x, level)
        np.testing.assert_allclose(process.noise_to(x0, level, eps).numpy(), x.numpy(), atol=1e-5)
        np.testing.assert_allclose(x0.numpy(), truth().numpy(), atol=1e-4)


@pytest.mark.parametrize("family", ["ddpm", "flow"])
@pytest.mark.parametrize("sigma", [0.2, 0.5, 1.0])
def test_denoising_recovers_the_image(family, sigma):
    y = truth()
    noisy = y + sigma * minigen.tensor(RNG.standard_normal(y.shape).astype(np.float32))
    out = R.denoise(PROCESSES[family](), noisy, sigma, steps=20, seed=3).numpy()
    np.testing.assert_allclose(out, y.numpy(), atol=1e-3)


def test_denoising_starts_where_the_noise_matches():
    """DDPM: ᾱ_t = 1/(1 + σ²) at the chosen step; flow: t = σ/(1 + σ); σ → 0: the data level, the input back."""
    process = R.DiffusionProcess(PointEps())
    for sigma in (0.2, 0.5, 1.0):
        level, factor = process.start_for_sigma(sigma)
        ab = diffusion.default_schedule().alpha_bar
        best = int(np.argmin(np.abs(np.sqrt((1 - ab) / ab) - sigma)))
        assert level == best and factor == pytest.approx(math.sqrt(ab[best]))
        assert ab[level] == pytest.approx(1 / (1 + sigma ** 2), rel=0.02)
    assert R.FlowProcess(PointVelocity()).start_for_sigma(0.5) == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    y = minigen.tensor(RNG.uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32))
    zero = lambda x, t, y=None: x * 0                                       # noqa: E731 (a model that knows nothing)
    for p in (R.DiffusionProcess(zero), R.FlowProcess(zero), R.DiffusionProcess(PointEps())):
        np.testing.assert_array_equal(R.denoise(p, y, 0.0, steps=20).numpy(), y.numpy())
        np.testing.assert_allclose(R.denoise(p, y, 1e-3, steps=20).numpy(), y.numpy(), atol=2e-3)


def test_the_same_seed_gives_the_same_restoration_and_another_differs():
    """With an imperfect model (a damped ε̂) and η = 1 the result depends on the noise drawn, and only on it."""
    process = R.DiffusionProcess(lambda x, t, y=None: 0.5 * PointEps()(x, t), eta=1.0)
    y, m = truth(), MASKS["bottom"]
    a, b, c = (R.inpaint(process, y, m, steps=8, seed=s).numpy() for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_repaint_schedule_goes_back_and_forth():
    assert R.repaint_schedule(4, 1, 1) == [0, 1, 2, 3]
    order = R.repaint_schedule(6, 2, 3)                                     # jump back 2 at index 2 and 4, 2× each
    assert order[0] == 0 and order[-1] == 5
    assert all(abs(a - b) == 1 for a, b in zip(order, order[1:]))
    down = sum(b > a for a, b in zip(order, order[1:]))
    assert down == 5 + 2 * 2 * 2                                             # 5 levels + 2 points × 2 extra × 2
    with pytest.raises(ValueError, match="jump and repeats must be at least 1"):
        R.repaint_schedule(6, 0, 2)


def test_bad_input_is_refused_clearly():
    process, y = R.FlowProcess(PointVelocity()), truth()
    with pytest.raises(ValueError, match=r"inpaint: the mask's shape \(27, 28\) does not fit the images' "
                                         r"\(2, 1, 28, 28\)"):
        R.inpaint(process, y, np.ones((27, 28)))
    with pytest.raises(ValueError, match="upscale: the scale must divide 28, got 3"):
        R.upscale(process, y, 3)
    with pytest.raises(ValueError, match=r"upscale: ×4 needs 7×7 inputs, got shape \(2, 1, 28, 28\)"):
        R.upscale(process, y, 4)
    with pytest.raises(ValueError, match="upscale: method must be 'projection', 'ddnm' or 'subgrid'"):
        R.upscale(process, R.downsample(y, 2), 2, method="bicubic")
    with pytest.raises(ValueError, match=r"ddnm: eta must lie in \[0, 1\], got 1.5"):
        R.inpaint(process, y, MASKS["bottom"], null_space=True, eta=1.5)
    with pytest.raises(ValueError, match="repaint: jump and repeats must be at least 1"):
        R.inpaint(process, y, MASKS["bottom"], repaint=(0, 2), null_space=True)
    with pytest.raises(ValueError, match="denoise: sigma must be ≥ 0, got -0.1"):
        R.denoise(process, y, -0.1)
    with pytest.raises(ValueError, match=r"denoise: images must be \(N, C, H, W\)"):
        R.denoise(process, minigen.zeros(28, 28), 0.1)


@pytest.mark.parametrize("family, s, t", [("ddpm", 100, 400), ("ddpm", -1, 999), ("flow", 0.2, 0.7),
                                          ("flow", 0.0, 1.0)])
def test_renoise_gives_the_marginal_of_the_noisier_level(family, s, t):
    """x_s noised to the level t has the mean and spread of q(x_t | x₀): (√ᾱ_t x₀, √(1 − ᾱ_t)) or ((1 − t) x₀, t)."""
    process = R.DiffusionProcess(PointEps()) if family == "ddpm" else R.FlowProcess(PointVelocity())
    n, x0 = 200_000, 0.6
    rng = np.random.default_rng(4)
    x_s = process.noise_to(minigen.full((n,), x0), s, minigen.tensor(rng.standard_normal(n).astype(np.float32)))
    x_t = process.renoise(x_s, s, t, minigen.tensor(rng.standard_normal(n).astype(np.float32))).numpy()
    if family == "ddpm":
        ab = diffusion.default_schedule().alpha_bar[t]
        mean, std = math.sqrt(ab) * x0, math.sqrt(1 - ab)
    else:
        mean, std = (1 - t) * x0, t
    assert x_t.mean() == pytest.approx(mean, abs=0.01) and x_t.std() == pytest.approx(std, rel=0.01)
