"""Restoring images with a trained diffusion or flow model: inpainting, super-resolution, denoising.

One unconditional model of clean images restores many degradations without retraining, because its reverse
process can be steered: at every step, the part of x_t that the observation y determines is replaced by y
noised to the same level, and the network fills in the rest so that it agrees with it.

Noise levels. Both families move between data (level "data") and noise along a known path:

    DDPM (step index t):  x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε        (data: t = −1, ᾱ = 1)
    flow (time t ∈ [0,1]): x_t = (1 − t) x₀ + t ε              (data: t = 0)

A ``Process`` knows four things of its family: the levels a sampler visits (``levels``), how to noise clean
pixels to a level (``noise_to``), one reverse step between two levels (``step``: DDIM with η for DDPM, Euler for
flow), and the forward re-noising from a level to a noisier one (``renoise``) that RePaint needs. For DDPM,
x_s → x_t (s < t) is x_t = √(ᾱ_t/ᾱ_s) x_s + √(1 − ᾱ_t/ᾱ_s) z. For the flow, if x_s = (1 − s)x₀ + s ε then
a x_s with a = (1 − t)/(1 − s) has the right signal (1 − t)x₀ and noise a·s; adding √(t² − a²s²) z makes it t.

Restorers (each takes a ``Process``, the observation, and a seeded generator of noise):

- ``inpaint`` by replacement: after each reverse step to level ℓ, x ← m ⊙ noise_to(y, ℓ) + (1 − m) ⊙ x (m = 1
  on known pixels), and at the end the known pixels are y exactly. With ``repaint=(jump, repeats)`` (Lugmayr et
  al. 2022, RePaint): every ``jump`` steps, the process goes back up ``jump`` levels by ``renoise`` and down again,
  ``repeats`` times in all, so the generated region gets several chances to agree with the known one.
- ``upscale`` ×k from a (28/k)×(28/k) image y by average pooling: the projection P = up ∘ down (average over
  k×k blocks, repeat each value k×k times) keeps a block's mean. After each step, x ← x − P x + P(noise_to(up y, ℓ))
  (ILVR, Choi et al. 2021): the low frequencies follow y, the network supplies the detail. At the data level this
  makes down(x) = y exactly (down ∘ up = identity). ``method="subgrid"`` instead inpaints with one known pixel per
  block (the simpler variant).
- ``ddnm`` (``inpaint(..., null_space=True)``, ``upscale(..., method="ddnm")``; Wang et al. 2023, DDNM):
  replacement and ILVR put the observation into x_t with fresh noise z, which the network's own noise estimate
  for the unknown part knows nothing about: the two parts are noised differently and the network has to
  reconcile them. DDNM instead corrects the network's clean estimate. At level t the network gives x̂₀ and ε̂
  (``predict``: for DDPM x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t; for the flow, from x_t = (1 − t) x₀ + t ε and
  v = ε − x₀, x̂₀ = x_t − t v̂ and ε̂ = x_t + (1 − t) v̂). For a linear degradation y = A x with pseudo-inverse
  A⁺, every x = A⁺y + (I − A⁺A) x̄ agrees with y, and that choice of x̄ = x̂₀ changes x̂₀ least:

      x̂₀ ← A⁺y + (I − A⁺A) x̂₀        inpainting: m ⊙ y + (1 − m) ⊙ x̂₀;  ×k: x̂₀ − P x̂₀ + up(y)
      x_s = noise_to(x̂₀, s, ε̂)        the next level with the network's own ε̂ everywhere (a DDIM/Euler step)

  so known and generated pixels carry the same noise, and the last x̂₀ (at the data level) agrees with y exactly.
  ``eta`` > 0 mixes fresh noise into ε̂ (√(1 − η²) ε̂ + η z), as DDIM's η does; η = 1 (the default) keeps only
  x̂₀ and draws the noise afresh, which on MNIST gave the lowest FID and uncertain share for every mask and scale
  (η = 0 kept more of the right digits on 80 % random pixels). ``repaint`` adds RePaint's resampling (DDNM⁺'s
  "time travel"): method ``ddnm+`` of ``minigen restore``.
- ``denoise`` y = x + σ n (images in [−1, 1]): SDEdit-style (Meng et al. 2022), start the reverse process at the
  level whose noise matches σ. For DDPM, √ᾱ_t y = √ᾱ_t x + √ᾱ_t σ n equals a sample of q(x_t | x) when
  √ᾱ_t σ = √(1 − ᾱ_t), i.e. ᾱ_t = 1/(1 + σ²): start from x_t = √ᾱ_t y at the step nearest that. For the flow,
  (1 − t) y = (1 − t) x + (1 − t)σ n is x_t when (1 − t)σ = t, i.e. t = σ/(1 + σ). Starting later would add
  noise the image does not have; starting earlier would leave some of its noise in.

Images are tensors (N, C, H, W) in [−1, 1]; masks are arrays of 1 (known) and 0 (to fill), broadcastable to them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad
from ..nn import functional as F
from . import diffusion, flow


class _Noise:
    """Standard normal draws of a fixed shape from a generator made from ``seed``, on ``device``."""

    def __init__(self, device, seed: int):
        self.rng = np.random.default_rng(seed) if device == "cpu" else \
            backend.array_module(device).random.default_rng(seed)

    def __call__(self, shape):
        return Tensor(self.rng.standard_normal(tuple(shape), dtype=np.float32))


class DiffusionProcess:
    """DDPM levels t = T − 1 … 0 and −1 (data), DDIM steps with η = ``eta`` (``models.diffusion``)."""

    data_level = -1

    def __init__(self, model, schedule=None, eta: float = 0.0, clip: bool = True):
        self.model, self.s, self.eta, self.clip = model, schedule or diffusion.default_schedule(), eta, clip

    def levels(self, steps: int, start: int | None = None) -> list:
        """Levels from ``start`` (default T − 1) down to 0, then the data level: ``steps`` steps for the whole way,
        proportionally fewer from a ``start`` part of the way down."""
        full = start is None
        start = self.s.T - 1 if full else start
        if start < 0:
            return [self.data_level]
        n = steps if full else int(round(steps * (start + 1) / self.s.T))
        n = max(1, min(n, start + 1))
        picks = np.unique(np.round(np.linspace(start, 0, n)).astype(np.int64))[::-1]
        return [int(t) for t in picks] + [self.data_level]

    def _eps(self, x, level):
        """The network's ε̂(x_t, t) at the step index ``level``, for every image."""
        return self.model(x, Tensor(x.xp.full((x.shape[0],), float(level), dtype=x.xp.float32)))

    def predict(self, x, level):
        """The network's clean estimate x̂₀ (clamped when ``clip``) and the noise ε̂ that goes with it."""
        eps = self._eps(x, level)
        ab = self.s.abar(level)
        x0 = diffusion.predict_x0(x, level, eps, self.s, self.clip)
        return x0, (x - math.sqrt(ab) * x0) * (1 / math.sqrt(1 - ab))

    def noise_to(self, x0, level, z):
        ab = self.s.abar(level)
        return math.sqrt(ab) * x0 + math.sqrt(1 - ab) * z

    def renoise(self, x, level, to, z):
        ratio = self.s.abar(to) / self.s.abar(level)
        return math.sqrt(ratio) * x + math.sqrt(1 - ratio) * z

    def step(self, x, level, to, z):
        return diffusion.ddim_step(x, level, to, self._eps(x, level), self.eta, self.s, noise=z if self.eta else None,
                                   clip=self.clip)

    def start_for_sigma(self, sigma: float):
        """The step whose noise-to-signal ratio √((1 − ᾱ_t)/ᾱ_t) is nearest σ (−1, the data, for σ → 0), and the
        factor √ᾱ_t that turns y = x + σ n into x_t."""
        ratio = np.concatenate([[0.0], np.sqrt((1 - self.s.alpha_bar) / self.s.alpha_bar)])   # levels −1 … T − 1
        level = int(np.argmin(np.abs(ratio - sigma))) - 1
        return level, math.sqrt(self.s.abar(level))


class FlowProcess:
    """Flow times t = 1 … 0 (data), Euler steps (``models.flow``)."""

    data_level = 0.0

    def __init__(self, model):
        self.model = model

    def levels(self, steps: int, start: float | None = None) -> list:
        start = 1.0 if start is None else start
        if start <= 0:
            return [0.0]
        n = max(1, int(round(steps * start)))
        return [float(v) for v in np.linspace(start, 0.0, n + 1)]

    def _velocity(self, x, level):
        """The network's v̂(x_t, t) at the flow time ``level`` (fed to it as 1000·t), for every image."""
        return self.model(x, Tensor(x.xp.full((x.shape[0],), level * flow.TIME_SCALE, dtype=x.xp.float32)))

    def predict(self, x, level):
        """x̂₀ = x_t − t v̂ and ε̂ = x_t + (1 − t) v̂ (x_t = (1 − t) x₀ + t ε, v = ε − x₀)."""
        v = self._velocity(x, level)
        return x - level * v, x + (1 - level) * v

    def noise_to(self, x0, level, z):
        return (1 - level) * x0 + level * z

    def renoise(self, x, level, to, z):
        a = (1 - to) / (1 - level)
        return a * x + math.sqrt(max(to ** 2 - (a * level) ** 2, 0.0)) * z

    def step(self, x, level, to, z):
        return x - (level - to) * self._velocity(x, level)

    def start_for_sigma(self, sigma: float):
        t = sigma / (1 + sigma)
        return t, 1 - t


def _check_images(name: str, y: Tensor):
    if y.ndim != 4:
        raise ValueError(f"{name}: images must be (N, C, H, W), got shape {tuple(y.shape)}")


def repaint_schedule(n_levels: int, jump: int, repeats: int) -> list[int]:
    """Indices into the levels list (0 = the noisiest … n_levels − 1 = data) in the order RePaint visits them:
    down one at a time, and after every ``jump`` steps back up ``jump`` and down again, ``repeats`` − 1 times."""
    if jump < 1 or repeats < 1:
        raise ValueError(f"repaint: jump and repeats must be at least 1, got {jump} and {repeats}")
    order, i = [0], 0
    left = {k: repeats - 1 for k in range(jump, n_levels - 1, jump)}
    while i < n_levels - 1:
        i += 1
        order.append(i)
        if left.get(i, 0) > 0:
            left[i] -= 1
            for _ in range(jump):
                i -= 1
                order.append(i)
    return order


@no_grad()
def ddnm(process, shape, project, steps: int = 50, seed: int = 0, eta: float = 1.0, device=None,
         repaint: tuple | None = None) -> Tensor:
    """DDNM: from noise of ``shape``, at every level correct the network's x̂₀ by ``project`` (x̂₀ ↦ A⁺y + (I −
    A⁺A) x̂₀) and go to the next level with its ε̂ (mixed with fresh noise by ``eta``); returns the last x̂₀.
    With ``repaint=(jump, repeats)``, RePaint's back-and-forth between levels (DDNM's "time travel")."""
    if not 0 <= eta <= 1:
        raise ValueError(f"ddnm: eta must lie in [0, 1], got {eta}")
    noise = _Noise(backend.canonical_device(device), seed)
    levels = process.levels(steps)
    order = repaint_schedule(len(levels), *repaint) if repaint else list(range(len(levels)))
    x = noise(shape)
    for a, b in zip(order, order[1:]):
        if b < a:                                             # up (time travel): noise back to the earlier level
            x = process.renoise(x, levels[a], levels[b], noise(shape))
            continue
        x0, eps = process.predict(x, levels[a])
        x0 = project(x0)
        if eta:
            eps = math.sqrt(1 - eta ** 2) * eps + eta * noise(shape)
        x = process.noise_to(x0, levels[b], eps)              # at the data level: x̂₀ itself
    return x


@no_grad()
def inpaint(process, y: Tensor, mask, steps: int = 50, seed: int = 0, repaint: tuple | None = None,
            null_space: bool = False, eta: float = 1.0) -> Tensor:
    """Fill the pixels where ``mask`` is 0, keeping y where it is 1 (replacement; RePaint with ``repaint``; DDNM
    with ``null_space``, its fresh noise ``eta``, and with ``repaint`` too, RePaint's resampling)."""
    _check_images("inpaint", y)
    xp = y.xp
    m = xp.asarray(mask, dtype=xp.float32)
    try:
        np.broadcast_shapes(tuple(m.shape), tuple(y.shape))
    except ValueError:
        raise ValueError(f"inpaint: the mask's shape {tuple(m.shape)} does not fit the images' "
                         f"{tuple(y.shape)}") from None
    m = Tensor(xp.broadcast_to(m, y.shape).copy())
    if null_space:
        known = m * y
        return ddnm(process, y.shape, lambda x0: known + (1 - m) * x0, steps, seed, eta, y.device, repaint)
    noise = _Noise(y.device, seed)
    levels = process.levels(steps)
    order = repaint_schedule(len(levels), *repaint) if repaint else list(range(len(levels)))
    x = noise(y.shape)
    for a, b in zip(order, order[1:]):
        if b > a:                                             # down: one reverse step, then the known pixels
            x = process.step(x, levels[a], levels[b], noise(y.shape))
            x = m * process.noise_to(y, levels[b], noise(y.shape)) + (1 - m) * x
        else:                                                 # up (RePaint): noise back to the earlier level
            x = process.renoise(x, levels[a], levels[b], noise(y.shape))
    return m * y + (1 - m) * x


def downsample(x: Tensor, scale: int) -> Tensor:
    """Average over scale×scale blocks: (N, C, H, W) → (N, C, H/scale, W/scale)."""
    return F.avg_pool2d(x, scale)


def upsample(x: Tensor, scale: int) -> Tensor:
    """Each pixel repeated scale×scale times (the adjoint of ``downsample`` up to the factor scale²)."""
    return F.interpolate(x, scale_factor=scale, mode="nearest")


@no_grad()
def upscale(process, y_low: Tensor, scale: int, steps: int = 50, seed: int = 0, method: str = "projection",
            size: int = 28, eta: float = 1.0, repaint: tuple | None = None) -> Tensor:
    """A (size × size) image whose scale×scale block means equal y_low (projection: ILVR; ddnm: DDNM, its fresh
    noise ``eta``, RePaint's resampling with ``repaint``), or inpainting with one known pixel per block
    (subgrid)."""
    _check_images("upscale", y_low)
    if scale < 1 or size % scale:
        raise ValueError(f"upscale: the scale must divide {size}, got {scale}")
    if tuple(y_low.shape[2:]) != (size // scale, size // scale):
        raise ValueError(f"upscale: ×{scale} needs {size // scale}×{size // scale} inputs, got shape "
                         f"{tuple(y_low.shape)}")
    up = upsample(y_low, scale)                                                  # (N, C, size, size)
    if method == "subgrid":
        mask = np.zeros((1, 1, size, size), dtype=np.float32)
        mask[..., scale // 2::scale, scale // 2::scale] = 1                      # the block centres
        return inpaint(process, up, mask, steps, seed)
    if method not in ("projection", "ddnm"):
        raise ValueError(f"upscale: method must be 'projection', 'ddnm' or 'subgrid', got {method!r}")

    def low_pass(v):
        return upsample(downsample(v, scale), scale)

    if method == "ddnm":                                      # x̂₀ − P x̂₀ + up(y): P = up ∘ down, and P up(y) = up(y)
        return ddnm(process, up.shape, lambda x0: x0 - low_pass(x0) + up, steps, seed, eta, y_low.device, repaint)
    noise = _Noise(y_low.device, seed)
    levels = process.levels(steps)

    x = noise(up.shape)
    for a, b in zip(levels, levels[1:]):
        x = process.step(x, a, b, noise(up.shape))
        x = x - low_pass(x) + low_pass(process.noise_to(up, b, noise(up.shape)))
    return x


@no_grad()
def denoise(process, y: Tensor, sigma: float, steps: int = 50, seed: int = 0) -> Tensor:
    """Start the reverse process at the level whose noise matches σ (``Process.start_for_sigma``), from y."""
    _check_images("denoise", y)
    if sigma < 0:
        raise ValueError(f"denoise: sigma must be ≥ 0, got {sigma}")
    start, factor = process.start_for_sigma(sigma)
    levels = process.levels(steps, start)
    noise = _Noise(y.device, seed)
    x = factor * y
    for a, b in zip(levels, levels[1:]):
        x = process.step(x, a, b, noise(y.shape))
    return x


# --- degradations: what the restorers undo ---------------------------------------------------------------
def make_mask(spec: str, n: int, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """Known pixels (1) and unknown ones (0): (n, 1, size, size) float32, from ``bottom``, ``center``, ``left``
    or ``random:P`` (P unknown, in (0, 1))."""
    m = np.ones((n, 1, size, size), dtype=np.float32)
    half = size // 2
    if spec == "bottom":
        m[..., half:, :] = 0
    elif spec == "left":
        m[..., :, :half] = 0
    elif spec == "center":
        q = size // 4
        m[..., q:q + half, q:q + half] = 0
    elif spec.startswith("random:"):
        try:
            p = float(spec.split(":", 1)[1])
        except ValueError:
            p = -1.0
        if not 0 < p < 1:
            raise ValueError(f"make_mask: random:P needs a fraction 0 < P < 1 of unknown pixels, got {spec!r}")
        m = (rng.random((n, 1, size, size)) >= p).astype(np.float32)
    else:
        raise ValueError(f"make_mask: unknown mask {spec!r}; choose bottom, center, left or random:P")
    return m


def degrade(task: str, x: np.ndarray, rng, mask=None, scale: int = 2, sigma: float = 0.5) -> np.ndarray:
    """The observation of clean images x (N, 1, 28, 28) in [−1, 1]: masked pixels set to 0 (inpaint), block means
    (upscale) or x + σ n (denoise)."""
    if task == "inpaint":
        return x * mask
    if task == "upscale":
        return downsample(Tensor(x), scale).numpy()
    return (x + sigma * rng.standard_normal(x.shape)).astype(np.float32)


__all__ = ["DiffusionProcess", "FlowProcess", "repaint_schedule", "ddnm", "inpaint", "downsample", "upsample",
           "upscale", "denoise", "make_mask", "degrade"]
