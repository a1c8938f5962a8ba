"""Flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023): learn a velocity, integrate an ODE.

Convention: t ∈ [0, 1], t = 0 is data, t = 1 is noise. For data x₀ and noise ε ~ N(0, I), the straight path

    x_t = (1 − t) x₀ + t ε,      dx_t/dt = ε − x₀ = v

moves every data point at constant speed to its noise. A network v̂(x_t, t) trained by regression on v,

    L = E_{t ~ U[0, 1], x₀, ε} ‖v̂(x_t, t) − (ε − x₀)‖²                                      (``flow_loss``)

learns the conditional mean E[ε − x₀ | x_t], which is a velocity field whose ODE carries N(0, I) at t = 1 to the
data distribution at t = 0 (the marginals of the paths are preserved: the flow-matching theorem). Sampling
integrates dx/dt = v̂ backwards from t = 1 to 0:

- Euler: x_{t−h} = x_t − h v̂(x_t, t); one evaluation per step.
- Heun (the trapezoid rule, second order): x' = x_t − h v̂(x_t, t), x_{t−h} = x_t − h/2 (v̂(x_t, t) + v̂(x', t − h));
  two evaluations per step, except the last step (to t = 0), which is an Euler step: 2S − 1 in all.

A point mass x₀ = x* is the exact check: ε = (x_t − (1 − t) x*)/t, so v = ε − x* = (x_t − x*)/t, a field that
points straight at x* and which both integrators follow exactly (each step lands on the same line).

The times need not be uniform: any density on (0, 1) that is positive everywhere gives the same minimiser at
every t (the regression is pointwise in t), and only moves the network's effort along the path. "logit-normal"
draws t = σ(n), n ~ N(0, 1) (Esser et al. 2024, who found it the best of several for rectified flows): it
trains the middle of the path, where the image's layout and class are decided, more often than its ends
(density 0 at t = 0 and 1, peak 1.6 at t = ½ against uniform's 1).

The network sees the time as 1000·t (``TIME_SCALE``), the range of DDPM's step index, so the same U-Net serves
both. Classifier-free guidance as in ``models.diffusion``: ṽ = v_u + w (v_c − v_u), w = 1 plain conditional, and
optionally only for t in an interval (``guidance_interval``: t is already the noise level). Classifier guidance,
ṽ = v − s · t/(1 − t) · ∇ₓ log p(y | x_t, t) with a classifier of noisy images, is derived in
``models/noisy_classifier.py``; the two combine (the classifier's push is added to whatever v̂ guidance made).
"""

from __future__ import annotations

from .. import backend, creation
from ..autograd import Tensor, no_grad
from ..nn import functional as F
from .diffusion import _Noise, drop_labels, guidance_at, guided
from .noisy_classifier import GUIDANCE_INTERVAL, guide_velocity

TIME_SCALE = 1000.0


TIME_SAMPLING = ("uniform", "logit-normal")


def path(x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """The straight path x_t = (1 − t) x₀ + t ε, one time per example: t (N,) seen as (N, 1, …, 1)."""
    tb = Tensor(t.data.reshape((x0.shape[0],) + (1,) * (x0.ndim - 1)))             # (N, 1, …, 1)
    return (1 - tb) * x0 + tb * noise


def flow_loss(model, x0: Tensor, y: Tensor | None = None, p_uncond: float = 0.0, t: Tensor | None = None,
              time_sampling: str = "uniform") -> Tensor:
    """‖v̂(x_t, t) − (ε − x₀)‖² averaged, x_t = (1 − t) x₀ + t ε, t per sample drawn by ``time_sampling``
    ('uniform': U[0, 1]; 'logit-normal': σ(N(0, 1))), or the times ``t`` (N,) given."""
    n, xp = x0.shape[0], x0.xp
    if time_sampling not in TIME_SAMPLING:
        raise ValueError(f"flow_loss: time_sampling must be one of {TIME_SAMPLING}, got {time_sampling!r}")
    if t is None and time_sampling == "uniform":
        t = creation.rand(n, device=x0.device)                                      # (N,)
    elif t is None:
        t = F.sigmoid(creation.randn(n, device=x0.device))                         # (N,) in (0, 1)
    noise = creation.randn(*x0.shape, device=x0.device)
    x_t = path(x0, t, noise)
    if y is not None:
        y = drop_labels(y, model.n_classes, p_uncond)
    t_model = Tensor((t.data * TIME_SCALE).astype(xp.float32))
    return F.mse_loss(model(x_t, t_model, y), noise - x0)


def sample(model, shape, sampler: str = "euler", steps: int = 50, guidance: float = 1.0, y: Tensor | None = None,
           seed: int | None = None, device=None, return_trajectory: bool = False, x_T: Tensor | None = None,
           guidance_interval: tuple[float, float] | None = None, guidance_below: float = 1.0,
           classifier=None, classifier_labels: Tensor | None = None, classifier_scale: float = 1.0,
           classifier_interval: tuple[float, float] = GUIDANCE_INTERVAL):
    """Integrate dx/dt = v̂ from x₁ ~ N(0, I) (or the given ``x_T``) at t = 1 to t = 0 in ``steps`` equal steps
    ('euler' or 'heun'); ``guidance`` applies where t lies in ``guidance_interval`` (None: everywhere),
    ``guidance_below`` where t lies below it (``diffusion.guidance_at``). With a ``classifier``
    (``noisy_classifier.NoisyClassifier``), classifier guidance towards ``classifier_labels`` (N,) with scale
    ``classifier_scale`` is added where lo ≤ t ≤ hi for ``classifier_interval`` (hi < 1).

    Returns (x, nfe), plus the states x₁, …, x₀ when ``return_trajectory``; nfe counts network evaluations per
    sample (guidance that needs both predictions doubles each)."""
    if sampler not in ("euler", "heun"):
        raise ValueError(f"flow.sample: sampler must be 'euler' or 'heun', got {sampler!r}")
    if steps < 1:
        raise ValueError(f"flow.sample: steps must be at least 1, got {steps}")
    if classifier is not None and classifier_labels is None:
        raise ValueError("flow.sample: classifier guidance needs classifier_labels, the classes to push towards")
    if classifier is not None and not classifier_interval[1] < 1:
        raise ValueError(f"flow.sample: classifier guidance needs an interval that ends below t = 1 (t/(1 − t) is "
                         f"infinite there), got {classifier_interval}")
    device = backend.canonical_device(device if device is not None else (y.device if y is not None else None))
    noise = _Noise(device, seed)
    n, nfe, x = shape[0], 0, noise(shape) if x_T is None else x_T
    trajectory = [x]

    def velocity(x, t):
        w = guidance_at(guidance, guidance_interval, t, guidance_below)
        v, k = guided(model, x, creation.full((n,), t * TIME_SCALE, device=device), y, w)
        if classifier is not None and classifier_interval[0] <= t <= classifier_interval[1]:
            v = guide_velocity(v, classifier, x, t, classifier_labels, classifier_scale)
        return v, k

    with no_grad():
        for i in range(steps):
            # (steps − i)/steps, not 1 − i/steps: the first is the float nearest the fraction, so t = 0.2 is the
            # number a user types for 0.2 (1 − 8/10 = 0.19999999999999996 would fall outside an interval [0.2, …])
            t, t_next = (steps - i) / steps, (steps - i - 1) / steps
            h = t - t_next
            v, k = velocity(x, t)
            nfe += k
            x_euler = x - h * v
            if sampler == "heun" and t_next > 0:
                v2, k = velocity(x_euler, t_next)
                nfe += k
                x = x - (h / 2) * (v + v2)
            else:
                x = x_euler
            if return_trajectory:
                trajectory.append(x)
    return (x, nfe, trajectory) if return_trajectory else (x, nfe)


__all__ = ["TIME_SAMPLING", "TIME_SCALE", "flow_loss", "path", "sample"]
