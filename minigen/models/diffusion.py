"""Denoising diffusion (DDPM, Ho et al. 2020) and its deterministic sampler DDIM (Song et al. 2021): the math.

Forward process. Fix a variance schedule β_1 … β_T (here indexed t = 0 … T − 1) and corrupt data x₀ by

    q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I),   i.e.  x_t = √α_t x_{t−1} + √β_t ε,  α_t = 1 − β_t.

Two Gaussian steps compose into one: if x_{t−1} = √ᾱ_{t−1} x₀ + √(1 − ᾱ_{t−1}) ε', then x_t has mean
√(α_t ᾱ_{t−1}) x₀ and variance α_t(1 − ᾱ_{t−1}) + (1 − α_t) = 1 − α_t ᾱ_{t−1}. By induction, with ᾱ_t = Π_{s≤t} α_s,

    q(x_t | x₀) = N(√ᾱ_t x₀, (1 − ᾱ_t) I),   x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε        (``q_sample``)

Schedules. Linear (Ho et al.): β from 1e-4 to 0.02 over T = 1000 steps. Cosine (Nichol & Dhariwal 2021):
ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2), s = 0.008, β_t = 1 − ᾱ_t/ᾱ_{t−1} clipped at 0.999; it
destroys information more evenly over t than the linear schedule, which is nearly pure noise long before T.

Posterior. Bayes' rule on two Gaussians gives the reverse step when x₀ is known:

    q(x_{t−1} | x_t, x₀) = N(μ̃, β̃_t I),  μ̃ = √ᾱ_{t−1} β_t/(1 − ᾱ_t) · x₀ + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) · x_t,
                                          β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)                  (``posterior``)

(ᾱ_{−1} = 1: the last step returns x₀ with no noise.) The same formula jumps from t to any earlier s with
β_t replaced by 1 − ᾱ_t/ᾱ_s and α_t by ᾱ_t/ᾱ_s, which lets DDPM sample with fewer steps than T.

Training (ε-prediction). A network ε̂(x_t, t) predicts the noise; since x₀ = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t, a noise
estimate is an estimate x̂₀ of the data, and plugging x̂₀ into μ̃ gives the learnt reverse step. The variational
bound reduces (up to per-t weights, which Ho et al. drop) to ‖ε − ε̂(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t)‖² with t uniform
(``ddpm_loss``).

Ancestral sampling (``ddpm_step``): x̂₀ = clamp((x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t, −1, 1), x_{t−1} = μ̃(x̂₀, x_t) + √β̃_t z.
Clamping keeps x̂₀ in the data's range [−1, 1], which helps most at large t where x̂₀ is a wild guess.

DDIM (``ddim_step``). Song et al. keep q(x_t | x₀) but choose a non-Markov family of reverse steps from t to s:

    x_s = √ᾱ_s x̂₀ + √(1 − ᾱ_s − σ²) ε̂ + σ z,   σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s),

every member of which has the same marginals, so the same trained ε̂ serves them all. η = 0 is deterministic (an
ODE solver); η = 1 gives σ² = β̃, DDPM's step. After clamping x̂₀ we recompute ε̂ = (x_t − √ᾱ_t x̂₀)/√(1 − ᾱ_t) so
that x̂₀ and ε̂ are consistent with x_t.

Classifier-free guidance (Ho & Salimans 2021). One network trained with labels dropped (to the "no label" index
``model.n_classes``) with probability p_uncond predicts both ε_c = ε̂(x_t, t, y) and ε_u = ε̂(x_t, t, ∅); sampling
uses ε̃ = ε_u + w (ε_c − ε_u). w = 0: unconditional; w = 1: plain conditional; w > 1: sharper, less varied.

Guidance in an interval (Kynkäänniemi et al. 2024, ``guidance_at``). Nothing forces one w for every noise level.
Write the noise level as a fraction t ∈ [0, 1] of the way to pure noise (DDPM's step index over T, flow
matching's own t). Guidance at high noise, where x_t says almost nothing about the image, pushes every sample of a
class towards the same typical shape: variety falls and FID rises. At low noise the sample's shape is settled, and
guidance sharpens the strokes that make it legible as its class. So w may apply only for t in an interval
[lo, hi] and be 1 (the conditional model alone, one evaluation) elsewhere; each such step also costs half.
Below the interval (t < lo) the weight may be another constant, ``below``: the class is settled there, and what
guidance does to a finished shape is a matter of texture. On MNIST's conditional flow, the unconditional model
(``below`` = 0, one evaluation) or a weight under 0 there (away from the label: both evaluations) gave a lower
FID than the conditional model at the same label accuracy.

The network sees t as a float tensor (N,) of step indices 0 … T − 1 (``models.unet``). Arrays stay on the input's
device; random numbers come from minigen's seeded generators (or a generator made from ``seed``); float32.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend, creation
from ..autograd import Tensor, no_grad
from ..nn import functional as F
from ..ops import cat, clamp


def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Ho et al.'s β_t, t = 0 … T − 1, rising linearly (float64, (T,)); the ends scale with 1000/T."""
    scale = 1000 / T
    return np.linspace(scale * beta_start, scale * beta_end, T, dtype=np.float64)


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal's β_t from ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2) (float64, (T,))."""
    f = np.cos((np.arange(T + 1, dtype=np.float64) / T + s) / (1 + s) * math.pi / 2) ** 2
    return np.clip(1 - f[1:] / f[:-1], 0, max_beta)


class Schedule:
    """β_t, α_t = 1 − β_t and ᾱ_t = Π_{s≤t} α_s for t = 0 … T − 1 (NumPy float64 arrays; scalars are read from
    them, per-sample coefficients are moved to the tensor's device)."""

    def __init__(self, kind: str = "linear", T: int = 1000):
        if kind not in ("linear", "cosine"):
            raise ValueError(f"Schedule: kind must be 'linear' or 'cosine', got {kind!r}")
        self.kind, self.T = kind, T
        self.betas = linear_betas(T) if kind == "linear" else cosine_betas(T)
        self.alphas = 1 - self.betas
        self.alpha_bar = np.cumprod(self.alphas)

    def abar(self, t: int) -> float:
        """ᾱ_t, with ᾱ_{−1} = 1 (no noise before the first step)."""
        return 1.0 if t < 0 else float(self.alpha_bar[t])

    def __repr__(self):
        return f"Schedule({self.kind!r}, T={self.T})"


_DEFAULT = {}


def default_schedule() -> Schedule:
    """The linear schedule with T = 1000 (made once)."""
    if "s" not in _DEFAULT:
        _DEFAULT["s"] = Schedule("linear", 1000)
    return _DEFAULT["s"]


def _per_sample(values: np.ndarray, t: Tensor, ndim: int) -> Tensor:
    """values[t] as a float32 tensor on t's device, shaped (N, 1, …, 1) to broadcast against an ndim-array."""
    xp = t.xp
    picked = xp.asarray(values, dtype=xp.float32)[t.data.astype(xp.int64)]
    return Tensor(picked.reshape((-1,) + (1,) * (ndim - 1)))


def q_sample(x0: Tensor, t: Tensor, noise: Tensor, schedule: Schedule | None = None) -> Tensor:
    """x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε for integer steps t (N,): a sample of q(x_t | x₀) in one go."""
    s = schedule or default_schedule()
    a, b = _per_sample(np.sqrt(s.alpha_bar), t, x0.ndim), _per_sample(np.sqrt(1 - s.alpha_bar), t, x0.ndim)
    return a * x0 + b * noise                                   # (N, …) with (N, 1, …, 1) coefficients


def posterior(x0, x_t, t: int, schedule: Schedule | None = None, t_prev: int | None = None):
    """Mean and variance of q(x_{t_prev} | x_t, x₀) (t_prev = t − 1 by default; −1 means "the data")."""
    s = schedule or default_schedule()
    t_prev = t - 1 if t_prev is None else t_prev
    ab_t, ab_s = s.abar(t), s.abar(t_prev)
    beta = 1 - ab_t / ab_s                                      # β_t for one step; the jump's β for several
    mean = (math.sqrt(ab_s) * beta / (1 - ab_t)) * x0 + (math.sqrt(1 - beta) * (1 - ab_s) / (1 - ab_t)) * x_t
    return mean, beta * (1 - ab_s) / (1 - ab_t)


def predict_x0(x_t, t: int, eps, schedule: Schedule | None = None, clip: bool = True):
    """x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t, clamped to [−1, 1] when ``clip``."""
    ab = (schedule or default_schedule()).abar(t)
    x0 = (x_t - math.sqrt(1 - ab) * eps) * (1 / math.sqrt(ab))
    return clamp(x0, -1.0, 1.0) if clip else x0


def ddpm_step(x_t, t: int, eps, schedule: Schedule | None = None, noise=None, t_prev: int | None = None,
              clip: bool = True):
    """One ancestral step x_t → x_{t_prev} ~ N(μ̃(x̂₀, x_t), β̃): ``noise`` z (like x_t) or a fresh draw."""
    x0 = predict_x0(x_t, t, eps, schedule, clip)
    mean, var = posterior(x0, x_t, t, schedule, t_prev)
    if var == 0:
        return mean
    z = noise if noise is not None else creation.randn(*x_t.shape, device=x_t.device)
    return mean + math.sqrt(var) * z


def ddim_sigma(t: int, t_prev: int, eta: float, schedule: Schedule | None = None) -> float:
    """σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s), s = t_prev."""
    s = schedule or default_schedule()
    ab_t, ab_s = s.abar(t), s.abar(t_prev)
    return eta * math.sqrt((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s))


def ddim_step(x_t, t: int, t_prev: int, eps, eta: float = 0.0, schedule: Schedule | None = None, noise=None,
              clip: bool = True):
    """One DDIM step x_t → x_{t_prev} = √ᾱ_s x̂₀ + √(1 − ᾱ_s − σ²) ε̂ + σ z, with ε̂ recomputed from the clamped x̂₀."""
    s = schedule or default_schedule()
    ab_t, ab_s = s.abar(t), s.abar(t_prev)
    x0 = predict_x0(x_t, t, eps, s, clip)
    eps = (x_t - math.sqrt(ab_t) * x0) * (1 / math.sqrt(1 - ab_t))
    sigma = ddim_sigma(t, t_prev, eta, s)
    out = math.sqrt(ab_s) * x0 + math.sqrt(max(1 - ab_s - sigma ** 2, 0.0)) * eps
    if sigma == 0:
        return out
    z = noise if noise is not None else creation.randn(*x_t.shape, device=x_t.device)
    return out + sigma * z


def drop_labels(y: Tensor, n_classes: int, p_uncond: float) -> Tensor:
    """y with each label replaced by the "no label" index n_classes with probability p_uncond."""
    if p_uncond <= 0:
        return y
    u = creation.rand(*y.shape, device=y.device)
    return Tensor(y.xp.where(u.data < p_uncond, n_classes, y.data).astype(y.data.dtype))


def ddpm_loss(model, x0: Tensor, y: Tensor | None = None, p_uncond: float = 0.0,
              schedule: Schedule | None = None, t: Tensor | None = None) -> Tensor:
    """‖ε − ε̂(x_t, t, y)‖² averaged, t uniform in 0 … T − 1 (or the integer steps ``t`` (N,) given), labels
    dropped with probability p_uncond."""
    s = schedule or default_schedule()
    if t is None:
        t = creation.randint(0, s.T, size=(x0.shape[0],), device=x0.device)
    noise = creation.randn(*x0.shape, device=x0.device)
    x_t = q_sample(x0, t, noise, s)
    if y is not None:
        y = drop_labels(y, model.n_classes, p_uncond)
    return F.mse_loss(model(x_t, Tensor(t.data.astype(t.xp.float32)), y), noise)


def guided(model, x, t_model: Tensor, y: Tensor | None, guidance: float):
    """The guided prediction ε̃ = ε_u + w (ε_c − ε_u) and the number of network evaluations it cost.

    y None → the unconditional output (1); w = 1 → the conditional one (1); w = 0 → the unconditional one (1);
    otherwise both, in one batch of 2N (2 evaluations per sample)."""
    if y is None or guidance == 1:
        return model(x, t_model, y), 1
    null = Tensor(y.xp.full(y.shape, model.n_classes, dtype=y.data.dtype))
    if guidance == 0:
        return model(x, t_model, null), 1
    both = model(cat([x, x], 0), cat([t_model, t_model], 0), cat([y, null], 0))
    n = x.shape[0]
    e_c, e_u = both[:n], both[n:]
    return e_u + guidance * (e_c - e_u), 2


def guidance_at(guidance: float, interval, t: float, below: float = 1.0) -> float:
    """The guidance weight at noise level ``t`` ∈ [0, 1] (1: pure noise): ``guidance`` where lo ≤ t ≤ hi for
    ``interval`` = (lo, hi), or everywhere when ``interval`` is None; ``below`` for t < lo (1, the default: the
    conditional model; 0 the unconditional one); 1 for t > hi."""
    if interval is None or interval[0] <= t <= interval[1]:
        return guidance
    return below if t < interval[0] else 1.0


class _Noise:
    """Standard normal draws: from minigen's seeded generator of the device, or from one made from ``seed``."""

    def __init__(self, device: str, seed: int | None):
        self.device = device
        if seed is None:
            self.rng = None
        elif device == "cpu":
            self.rng = np.random.default_rng(seed)
        else:
            self.rng = backend.array_module(device).random.default_rng(seed)

    def __call__(self, shape):
        if self.rng is None:
            return creation.randn(*shape, device=self.device)
        return Tensor(self.rng.standard_normal(tuple(shape), dtype=np.float32))


def timesteps(T: int, steps: int) -> list[int]:
    """``steps`` distinct step indices from T − 1 down to 0, evenly spaced."""
    if not 1 <= steps <= T:
        raise ValueError(f"sample: steps must lie in 1 … {T}, got {steps}")
    # from T − 1 (always: one step must start from noise) down to 0; distinct since the spacing is at least 1
    return [int(v) for v in np.round(np.linspace(T - 1, 0, steps)).astype(np.int64)]


def sample(model, shape, sampler: str = "ddpm", steps: int | None = None, eta: float = 0.0, guidance: float = 1.0,
           y: Tensor | None = None, seed: int | None = None, device=None, schedule: Schedule | None = None,
           return_trajectory: bool = False, clip: bool = True, x_T: Tensor | None = None,
           guidance_interval: tuple[float, float] | None = None, guidance_below: float = 1.0):
    """Draw samples from x_T ~ N(0, I) (or the given ``x_T``) by DDPM (ancestral) or DDIM (η = ``eta``) over
    ``steps`` steps (T: all); ``guidance`` applies at the steps t with t/T in ``guidance_interval`` (None: all),
    ``guidance_below`` at those below it.

    With fewer steps than T, 'ddpm' jumps between the chosen steps with the posterior's jump formula (which is
    DDIM with η = 1). Returns (x, nfe), plus the list of states x_T, …, x₀ when ``return_trajectory``; nfe counts
    network evaluations per sample (2 per step when guidance needs both predictions)."""
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"sample: sampler must be 'ddpm' or 'ddim', got {sampler!r}")
    s = schedule or default_schedule()
    device = backend.canonical_device(device if device is not None else (y.device if y is not None else None))
    noise = _Noise(device, seed)
    ts = timesteps(s.T, steps or s.T)
    nfe, x = 0, noise(shape) if x_T is None else x_T
    trajectory = [x]
    with no_grad():
        for i, t in enumerate(ts):
            t_prev = ts[i + 1] if i + 1 < len(ts) else -1
            t_model = creation.full((shape[0],), float(t), device=device)
            w = guidance_at(guidance, guidance_interval, t / s.T, guidance_below)
            eps, n = guided(model, x, t_model, y, w)
            nfe += n
            if sampler == "ddpm":
                z = noise(shape) if t_prev >= 0 else None
                x = ddpm_step(x, t, eps, s, noise=z, t_prev=t_prev, clip=clip)
            else:
                z = noise(shape) if eta > 0 and t_prev >= 0 else None
                x = ddim_step(x, t, t_prev, eps, eta, s, noise=z, clip=clip)
            if return_trajectory:
                trajectory.append(x)
    return (x, nfe, trajectory) if return_trajectory else (x, nfe)


__all__ = ["Schedule", "linear_betas", "cosine_betas", "default_schedule", "q_sample", "posterior", "predict_x0",
           "ddpm_step", "ddim_sigma", "ddim_step", "drop_labels", "ddpm_loss", "guided", "guidance_at", "timesteps",
           "sample"]
