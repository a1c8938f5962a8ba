"""Denoising diffusion (models.diffusion), flow matching (models.flow) and their networks (models.unet).

The samplers are checked against analytic answers: the closed form q(x_t | x₀) against the iterated one-step
kernel, the posterior against Bayes' rule for 1-D Gaussians, and a single-point data set x*, whose exact ε and
velocity are known, which every sampler must carry back to x*."""

import math

import numpy as np
import pytest

import minigen
import minigen.models.unet as unet_module
from minigen import nn, optim
from minigen.models import diffusion, flow
from minigen.models.unet import TimeMLP, UNet
from minigen.models.noisy_classifier import NoisyClassifier
from minigen.nn import init

X_STAR = np.array([0.3, -0.6], dtype=np.float32)


class PointEps:
    """The exact ε̂ for data = the single point x*: ε̂(x_t, t) = (x_t − √ᾱ_t x*)/√(1 − ᾱ_t); counts its calls."""

    n_classes = None

    def __init__(self, schedule):
        self.schedule, self.calls = schedule, 0

    def __call__(self, x, t, y=None):
        self.calls += 1
        ab = self.schedule.alpha_bar[int(t.data[0])]
        return (x - math.sqrt(ab) * minigen.tensor(X_STAR)) * (1 / math.sqrt(1 - ab))


class PointVelocity:
    """The exact velocity for data = x*: x_t = (1 − t) x* + t ε ⇒ ε = (x_t − (1 − t) x*)/t,
    v = ε − x* = (x_t − x*)/t."""

    n_classes = None

    def __call__(self, x, t, y=None):
        tt = float(t.data[0]) / flow.TIME_SCALE
        return (x - minigen.tensor(X_STAR)) * (1 / tt)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_closed_form_matches_iterated_kernel(kind):
    """q_sample at step t has the mean and variance of t + 1 applications of x ← √(1 − β)x + √β ε (Monte Carlo,
    20 000 samples, within 5 standard errors), and the float64 moment recursion agrees exactly."""
    s = diffusion.Schedule(kind)
    rng = np.random.default_rng(0)
    n, x0 = 20000, 0.7
    x = np.full(n, x0)
    m, v = x0, 0.0
    minigen.manual_seed(0)
    checkpoints = {0, 99, 499, 999}
    for t in range(s.T):
        x = math.sqrt(1 - s.betas[t]) * x + math.sqrt(s.betas[t]) * rng.standard_normal(n)
        m, v = math.sqrt(1 - s.betas[t]) * m, (1 - s.betas[t]) * v + s.betas[t]
        if t in checkpoints:
            assert m == pytest.approx(math.sqrt(s.alpha_bar[t]) * x0, rel=1e-10)
            assert v == pytest.approx(1 - s.alpha_bar[t], rel=1e-10, abs=1e-14)
            tt = minigen.full((n,), t, dtype=minigen.int64)
            q = diffusion.q_sample(minigen.full((n,), x0), tt, minigen.randn(n), s).numpy().astype(np.float64)
            se_mean, se_var = math.sqrt(v / n) + 1e-4, v * math.sqrt(2 / n) + 1e-6
            assert abs(q.mean() - x.mean()) < 5 * math.sqrt(2) * se_mean
            assert abs(q.var() - x.var()) < 5 * math.sqrt(2) * se_var


def test_schedules():
    for kind in ("linear", "cosine"):
        ab = diffusion.Schedule(kind).alpha_bar
        assert ab.shape == (1000,) and np.all(np.diff(ab) < 0) and np.all(ab > 0)
    ab = diffusion.Schedule("cosine").alpha_bar
    assert ab[0] > 0.9999 and ab[-1] < 1e-4
    assert diffusion.Schedule("linear").betas[[0, -1]] == pytest.approx([1e-4, 0.02])


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("t", [1, 10, 500, 999])
def test_posterior_is_bayes_rule(kind, t):
    """1-D: prior x_{t−1} | x₀ ~ N(√ᾱ_{t−1} x₀, 1 − ᾱ_{t−1}), likelihood x_t | x_{t−1} ~ N(√α_t x_{t−1}, β_t);
    precisions add, and the mean is the precision-weighted sum."""
    s = diffusion.Schedule(kind)
    x0, xt = 0.4, -1.3
    prior_m, prior_v = math.sqrt(s.alpha_bar[t - 1]) * x0, 1 - s.alpha_bar[t - 1]
    a, b = s.alphas[t], s.betas[t]
    var = 1 / (1 / prior_v + a / b)
    mean = var * (prior_m / prior_v + math.sqrt(a) * xt / b)
    got_mean, got_var = diffusion.posterior(x0, xt, t, s)
    assert got_mean == pytest.approx(mean, rel=1e-9) and got_var == pytest.approx(var, rel=1e-9)


def test_ddim_eta0_deterministic_eta1_is_ddpm():
    s = diffusion.default_schedule()
    rng = np.random.default_rng(1)
    x_t = minigen.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    eps = minigen.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    minigen.manual_seed(0)
    a = diffusion.ddim_step(x_t, 400, 380, eps, eta=0.0).numpy()
    minigen.randn(5)                                                    # move the generator on: η = 0 draws nothing
    b = diffusion.ddim_step(x_t, 400, 380, eps, eta=0.0).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, diffusion.ddim_step(x_t, 400, 380, eps, eta=0.0).numpy())
    assert not np.array_equal(diffusion.ddim_step(x_t, 400, 380, eps, eta=1.0).numpy(),
                              diffusion.ddim_step(x_t, 400, 380, eps, eta=1.0).numpy())
    for t in (1, 5, 300, 999):
        beta_tilde = diffusion.posterior(0, 0, t, s)[1]
        assert diffusion.ddim_sigma(t, t - 1, 1.0, s) ** 2 == pytest.approx(beta_tilde, rel=1e-9)
    # η = 1 and DDPM with the same noise z give the same step (mean and spread), also for a jump of 20 steps
    for t, t_prev in ((400, 399), (400, 380), (3, -1)):
        z = minigen.randn(4, 3)
        ddim = diffusion.ddim_step(x_t, t, t_prev, eps, eta=1.0, noise=z).numpy()
        ddpm = diffusion.ddpm_step(x_t, t, eps, noise=z, t_prev=t_prev).numpy()
        np.testing.assert_allclose(ddim, ddpm, rtol=1e-5, atol=1e-5)
    # the empirical variance of the η = 1 step over many z is β̃_t
    n = 40000
    xs, es = minigen.full((n,), 0.2), minigen.full((n,), -0.5)
    out = diffusion.ddim_step(xs, 200, 199, es, eta=1.0).numpy().astype(np.float64)
    assert out.var() == pytest.approx(diffusion.posterior(0, 0, 200)[1], rel=0.05)


@pytest.mark.parametrize("sampler,steps,nfe", [("ddpm", 1000, 1000), ("ddpm", 40, 40), ("ddim", 50, 50),
                                               ("ddim", 1, 1)])
def test_diffusion_samplers_return_the_point(sampler, steps, nfe):
    s = diffusion.default_schedule()
    model = PointEps(s)
    x, got = diffusion.sample(model, (6, 2), sampler=sampler, steps=steps, eta=0.5 if sampler == "ddim" else 0.0,
                              seed=steps)
    assert got == nfe == model.calls
    np.testing.assert_allclose(x.numpy(), np.broadcast_to(X_STAR, (6, 2)), atol=1e-4)


def test_timesteps():
    assert diffusion.timesteps(1000, 1) == [999]
    assert diffusion.timesteps(1000, 3) == [999, 500, 0]
    assert diffusion.timesteps(1000, 1000) == list(range(999, -1, -1))
    assert all(len(set(diffusion.timesteps(1000, s))) == s for s in (2, 7, 333, 999))
    with pytest.raises(ValueError):
        diffusion.timesteps(1000, 1001)


def test_diffusion_trajectory_and_cosine():
    s = diffusion.Schedule("cosine")
    x, nfe, traj = diffusion.sample(PointEps(s), (3, 2), sampler="ddim", steps=10, schedule=s, seed=0,
                                    return_trajectory=True)
    assert nfe == 10 and len(traj) == 11 and traj[-1] is x
    assert np.abs(traj[0].numpy() - X_STAR).max() > 0.1                      # it did start from noise
    np.testing.assert_allclose(x.numpy(), np.broadcast_to(X_STAR, (3, 2)), atol=1e-4)


@pytest.mark.parametrize("sampler,steps,nfe", [("euler", 1, 1), ("euler", 20, 20), ("heun", 1, 1),
                                               ("heun", 20, 39)])
def test_flow_samplers_return_the_point(sampler, steps, nfe):
    x, got = flow.sample(PointVelocity(), (6, 2), sampler=sampler, steps=steps, seed=1)
    assert got == nfe
    np.testing.assert_allclose(x.numpy(), np.broadcast_to(X_STAR, (6, 2)), atol=1e-5)


class LabelModel:
    """A stand-in network whose output depends on the label only: x·0 + (label + 1)."""

    n_classes = 3

    def __init__(self):
        self.calls = 0

    def __call__(self, x, t, y):
        self.calls += 1
        return x * 0 + minigen.tensor((y.data + 1).astype(np.float32))[:, None]


def test_guidance_convention_and_nfe():
    x, t = minigen.zeros(2, 2), minigen.zeros(2)
    y = minigen.tensor([0, 1])
    m = LabelModel()
    u = np.full((2, 2), 4.0)                                                  # the "no label" row, 3 + 1
    c = np.array([[1.0, 1.0], [2.0, 2.0]])
    for w, want, cost in ((0.0, u, 1), (1.0, c, 1), (3.0, u + 3 * (c - u), 2)):
        got, n = diffusion.guided(m, x, t, y, w)
        np.testing.assert_allclose(got.numpy(), want)
        assert n == cost
    m = LabelModel()
    _, nfe = diffusion.sample(m, (2, 2), sampler="ddim", steps=7, guidance=2.0, y=y, seed=0)
    assert nfe == 14 and m.calls == 7                                         # one batch of 2N per step
    _, nfe = flow.sample(LabelModel(), (2, 2), sampler="heun", steps=5, guidance=2.0, y=y, seed=0)
    assert nfe == 18


class TimeLabelLog(LabelModel):
    """LabelModel that records, for every call, the time it was given and whether the batch held "no label" rows
    (i.e. whether the sampler asked for the guided pair ε_c, ε_u, or the unconditional model alone), and in
    ``labels`` the labels it was given (2N of them for the pair)."""

    def __init__(self):
        super().__init__()
        self.log, self.labels = [], []

    def __call__(self, x, t, y):
        self.log.append((float(t.data[0]), bool((y.data == self.n_classes).any())))
        self.labels.append(y.numpy().copy())
        return super().__call__(x, t, y)


def test_guidance_at_is_w_inside_the_interval_and_1_outside():
    assert diffusion.guidance_at(3.0, None, 0.9) == 3.0
    for t, want in ((0.0, 3.0), (0.2, 3.0), (0.5, 3.0), (0.51, 1.0), (1.0, 1.0)):
        assert diffusion.guidance_at(3.0, (0.0, 0.5), t) == want, t
    assert diffusion.guidance_at(3.0, (0.3, 0.6), 0.1) == 1.0


def test_guidance_below_the_interval_is_its_own_weight():
    for t, want in ((0.1, 0.0), (0.29, 0.0), (0.3, 3.0), (0.6, 3.0), (0.61, 1.0), (1.0, 1.0)):
        assert diffusion.guidance_at(3.0, (0.3, 0.6), t, below=0.0) == want, t
    assert diffusion.guidance_at(3.0, (0.3, 0.6), 0.1, below=-0.5) == -0.5
    assert diffusion.guidance_at(3.0, None, 0.1, below=0.0) == 3.0                # no interval: w everywhere


def test_guidance_below_asks_for_what_its_weight_needs():
    """Below [0.4, 0.6] a weight 0 is the unconditional model alone (one evaluation), a weight −1 the guided pair
    (two), 1 the conditional model alone; inside, the pair; above, the conditional model; NFE counts them."""
    y = minigen.tensor([0, 1])
    for below, size, no_label, cost in ((0.0, 2, True, 1), (-1.0, 4, False, 2), (1.0, 2, False, 1)):
        m = TimeLabelLog()
        _, nfe = flow.sample(m, (2, 2), sampler="heun", steps=10, guidance=3.0, y=y, seed=0,
                             guidance_interval=(0.4, 0.6), guidance_below=below)
        for (t, _), labels in zip(m.log, m.labels):
            t, n, all_null = round(t / flow.TIME_SCALE, 6), len(labels), bool((labels == m.n_classes).all())
            if t < 0.4:
                assert (n, all_null) == (size, no_label), (below, t)
            else:
                assert (n, all_null) == (4 if t <= 0.6 else 2, False), (below, t)
        assert nfe == sum(len(labels) // 2 for labels in m.labels)
        assert nfe == 13 + 6 + 6 * cost                     # 19 Heun calls: 7 above, 6 inside (pairs), 6 below


def test_guidance_below_changes_only_the_steps_below():
    """Euler's 4 steps visit t = 1, 0.75, 0.5, 0.25: with the interval [0.5, 1], a weight w below it as well gives
    the samples of w everywhere, a weight 1 those of the interval alone (flow and DDIM)."""
    y = minigen.tensor([0, 1])

    def run(kind, **kw):
        if kind == "flow":
            return flow.sample(LabelModel(), (2, 2), "euler", 4, y=y, seed=0, **kw)[0].numpy()
        return diffusion.sample(LabelModel(), (2, 2), "ddim", 4, y=y, seed=0, clip=False, **kw)[0].numpy()

    for sample in ("flow", "ddim"):                 # DDIM's 4 steps: t/T = 0.999, 0.666, 0.333, 0
        everywhere, interval = run(sample, guidance=3.0), run(sample, guidance=3.0, guidance_interval=(0.5, 1.0))
        np.testing.assert_array_equal(run(sample, guidance=3.0, guidance_interval=(0.5, 1.0), guidance_below=3.0),
                                      everywhere)
        np.testing.assert_array_equal(run(sample, guidance=3.0, guidance_interval=(0.5, 1.0), guidance_below=1.0),
                                      interval)
        assert not np.allclose(everywhere, interval)


@pytest.mark.parametrize("interval", [(0.0, 0.5), (0.3, 0.8), (0.0, 1.0), (0.9, 0.95)])
def test_guidance_interval_guides_exactly_the_steps_inside_it(interval):
    """Every network call inside [lo, hi] (flow: its t; DDPM: step/T) is the guided pair, every call outside it the
    conditional model alone, and the NFE count follows."""
    lo, hi = interval
    y = minigen.tensor([0, 1])
    m = TimeLabelLog()
    _, nfe = flow.sample(m, (2, 2), sampler="heun", steps=6, guidance=2.0, y=y, seed=0, guidance_interval=interval)
    times = [t / flow.TIME_SCALE for t, _ in m.log]
    assert len(times) == 11                                                   # Heun: 2·6 − 1 calls
    assert [guided for _, guided in m.log] == [lo <= t <= hi for t in times]
    assert nfe == sum(2 if g else 1 for _, g in m.log)
    m = TimeLabelLog()
    _, nfe = diffusion.sample(m, (2, 2), sampler="ddim", steps=8, guidance=2.0, y=y, seed=0,
                              guidance_interval=interval)
    fractions = [t / 1000 for t, _ in m.log]
    assert [guided for _, guided in m.log] == [lo <= f <= hi for f in fractions]
    assert nfe == sum(2 if g else 1 for _, g in m.log)


def test_guidance_interval_ends_are_the_decimals_a_user_types():
    """Heun's 10 steps visit t = 1, 0.9, …, 0.1: an interval [0.2, 0.6] guides the calls at 0.6, 0.5, 0.4, 0.3 and
    0.2, both ends included (1 − 8/10 is 0.19999999999999996 in floating point, which would drop t = 0.2)."""
    y = minigen.tensor([0, 1])
    m = TimeLabelLog()
    flow.sample(m, (2, 2), sampler="heun", steps=10, guidance=2.0, y=y, seed=0, guidance_interval=(0.2, 0.6))
    guided = sorted({round(t / flow.TIME_SCALE, 6) for t, g in m.log if g})
    assert guided == [0.2, 0.3, 0.4, 0.5, 0.6]


def test_guidance_interval_changes_only_the_guided_steps():
    """Outside the interval the sampler follows the conditional model: an interval that no step falls in gives
    the samples of w = 1, the whole of [0, 1] those of no interval, and a part of it something in between."""
    y = minigen.tensor([0, 1])

    def run(**kw):
        return flow.sample(LabelModel(), (2, 2), sampler="euler", steps=4, y=y, seed=0, **kw)[0].numpy()

    plain, guided = run(guidance=1.0), run(guidance=3.0)
    np.testing.assert_array_equal(run(guidance=3.0, guidance_interval=(0.0, 0.1)), plain)  # Euler: t = 1 … 0.25
    np.testing.assert_array_equal(run(guidance=3.0, guidance_interval=(0.0, 1.0)), guided)
    half = run(guidance=3.0, guidance_interval=(0.0, 0.5))
    assert not np.allclose(half, plain) and not np.allclose(half, guided)


@minigen.no_grad()
def test_unet_shapes_count_zero_init_and_conditioning():
    """The parameter counts the docstring prints, the output shape, the zero output at init, and that the time,
    the label and "no label" each change the output once the output conv is switched on."""
    net = UNet()
    count = sum(p.numel() for p in net.parameters())
    assert count == 1840449
    assert f"{count:,}" in unet_module.__doc__
    assert f"{sum(p.numel() for p in UNet(n_classes=10).parameters()):,}" in unet_module.__doc__
    assert f"{sum(p.numel() for p in UNet(attention=False).parameters()):,}" in unet_module.__doc__

    minigen.manual_seed(0)
    small = UNet(channels=(8, 16, 32), n_classes=10)
    x = minigen.randn(2, 1, 28, 28)
    t = minigen.tensor([10.0, 10.0])
    y = minigen.tensor([1, 1])
    out = small(x, t, y)
    assert out.shape == (2, 1, 28, 28) and np.all(out.numpy() == 0)           # zero-init output conv
    zeroed = [m for m in small.modules() if isinstance(m, nn.Conv2d) and not np.any(m.weight.data)]
    assert len(zeroed) == 10                                # 8 ResBlocks' second convs, attention's out, output
    for m in zeroed:                                        # switch every residual branch and the output on
        init.normal_(m.weight, 0.0, 0.1)
    base = small(x, t, y).numpy()
    assert np.abs(base).max() > 1e-3
    assert np.abs(small(x, minigen.tensor([700.0, 700.0]), y).numpy() - base).max() > 1e-4
    assert np.abs(small(x, t, minigen.tensor([7, 7])).numpy() - base).max() > 1e-4
    assert np.abs(small(x, t).numpy() - base).max() > 1e-4                    # y = None: the "no label" row


def _moons(n, rng):
    a = rng.uniform(0, math.pi, n)
    upper = rng.random(n) < 0.5
    pts = np.where(upper[:, None], np.stack([np.cos(a), np.sin(a)], 1), np.stack([1 - np.cos(a), 0.5 - np.sin(a)], 1))
    pts = (pts - [0.5, 0.25]) / 1.2 + 0.05 * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


@pytest.mark.parametrize("loss_fn,bound", [("flow", 0.75), ("ddpm", 0.3)])
def test_toy_two_moons_losses_fall(loss_fn, bound):
    """300 Adam steps of TimeMLP on two moons: measured after/before 0.65 (flow; its floor is high, since many
    (x₀, ε) pairs pass through the same x_t) and 0.19 (DDPM) over seeds 0–3; the bounds leave a margin."""
    rng = np.random.default_rng(0)
    data = minigen.tensor(_moons(2048, rng))
    minigen.manual_seed(0)
    net = TimeMLP(hidden=64)
    opt = optim.Adam(net.parameters(), lr=3e-3)
    fn = flow.flow_loss if loss_fn == "flow" else diffusion.ddpm_loss

    def mean_loss():
        with minigen.no_grad():
            return float(np.mean([fn(net, data).item() for _ in range(8)]))

    before = mean_loss()
    for _ in range(300):
        batch = data[rng.integers(0, 2048, 256)]
        loss = fn(net, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = mean_loss()
    assert after < bound * before, (before, after)


@pytest.mark.parametrize("seed", [None, 5])
def test_cuda_paths_on_the_stand_in(monkeypatch, seed):
    """Losses, their backward and both samplers (guided; the flow's also by a classifier) stay on the device, on
    the stand-in CuPy of tests/fake_cupy.py, which refuses NumPy arithmetic on device arrays."""
    import fake_cupy

    fake_cupy.install(monkeypatch)
    cuda = "cuda:0"
    minigen.manual_seed(0)
    net = UNet(channels=(8, 16, 32), n_classes=10).to(cuda)
    x0 = minigen.rand(2, 1, 28, 28, device=cuda) * 2 - 1
    y = minigen.tensor([3, 4], device=cuda)
    for loss in (diffusion.ddpm_loss(net, x0, y, p_uncond=0.5), flow.flow_loss(net, x0, y, p_uncond=0.5),
                 flow.flow_loss(net, x0, y, time_sampling="logit-normal")):
        loss.backward()
        assert loss.device == cuda and net.out.weight.grad.device == cuda
    for x, _ in (diffusion.sample(net, (2, 1, 28, 28), "ddim", steps=2, eta=1.0, guidance=2.0, y=y, seed=seed,
                                  device=cuda),
                 diffusion.sample(net, (2, 1, 28, 28), "ddpm", steps=2, seed=seed, device=cuda),
                 flow.sample(net, (2, 1, 28, 28), "heun", steps=2, guidance=2.0, y=y, seed=seed, device=cuda),
                 flow.sample(net, (2, 1, 28, 28), "euler", steps=2, y=y, seed=seed, device=cuda,     # t = 0.5 pushed
                             classifier=NoisyClassifier(width=2).to(cuda), classifier_labels=y)):
        assert isinstance(x.data, fake_cupy.ndarray) and x.device == cuda and x.dtype == np.float32
    toy = TimeMLP(hidden=16).to(cuda)
    diffusion.ddpm_loss(toy, minigen.randn(4, 2, device=cuda)).backward()


def test_label_dropout():
    minigen.manual_seed(0)
    y = minigen.tensor(np.arange(4000) % 10)
    assert np.array_equal(diffusion.drop_labels(y, 10, 0.0).numpy(), y.numpy())
    assert np.all(diffusion.drop_labels(y, 10, 1.0).numpy() == 10)
    dropped = diffusion.drop_labels(y, 10, 0.2).numpy()
    kept = dropped != 10
    assert np.array_equal(dropped[kept], y.numpy()[kept]) and abs((~kept).mean() - 0.2) < 0.03


class PointEpsPerSample:
    """The exact ε̂ for data = x*, each sample at its own step t (N,)."""

    n_classes = None

    def __call__(self, x, t, y=None):
        ab = diffusion.default_schedule().alpha_bar[t.data.astype(np.int64)][:, None].astype(np.float32)
        return (x - minigen.tensor(np.sqrt(ab) * X_STAR)) * minigen.tensor(1 / np.sqrt(1 - ab))


class PointVelocityPerSample:
    n_classes = None

    def __call__(self, x, t, y=None):
        tt = (t.data / flow.TIME_SCALE)[:, None].astype(np.float32)
        return (x - minigen.tensor(X_STAR)) * minigen.tensor(1 / tt)


def test_perfect_predictors_have_zero_loss():
    """On a one-point data set the exact ε (and velocity) are known: their losses are 0, a wrong one's are not."""
    minigen.manual_seed(3)
    x0 = minigen.tensor(np.broadcast_to(X_STAR, (256, 2)).copy())
    assert diffusion.ddpm_loss(PointEpsPerSample(), x0).item() < 1e-8
    assert flow.flow_loss(PointVelocityPerSample(), x0).item() < 1e-6
    assert diffusion.ddpm_loss(lambda x, t, y=None: x * 0, x0).item() == pytest.approx(1.0, abs=0.15)   # E ε² = 1


class TimeRecorder:
    """A velocity network that predicts 0 and keeps the times it was shown (as fractions of the path)."""

    n_classes = None

    def __call__(self, x, t, y=None):
        self.t = t.data / flow.TIME_SCALE
        return x * 0


@pytest.mark.parametrize("time_sampling", ["uniform", "logit-normal"])
def test_flow_loss_draws_its_times_as_asked(time_sampling):
    """uniform: t ~ U[0, 1] (mean ½, standard deviation 1/√12); logit-normal: log(t / (1 − t)) ~ N(0, 1). Either
    way the loss of the zero prediction is E‖ε − x₀‖² = 1 + x₀² per coordinate, whatever the times."""
    minigen.manual_seed(4)
    net, n = TimeRecorder(), 20_000
    loss = flow.flow_loss(net, minigen.zeros(n, 1), time_sampling=time_sampling)
    t = net.t.astype(np.float64)
    assert t.dtype == np.float64 and ((t > 0) & (t < 1)).all()
    if time_sampling == "uniform":
        assert t.mean() == pytest.approx(0.5, abs=0.01) and t.std() == pytest.approx(12 ** -0.5, abs=0.01)
    else:
        logit = np.log(t / (1 - t))
        assert logit.mean() == pytest.approx(0.0, abs=0.03) and logit.std() == pytest.approx(1.0, abs=0.03)
    assert loss.item() == pytest.approx(1.0, abs=0.03)
    with pytest.raises(ValueError, match="flow_loss: time_sampling must be one of .*got 'beta'"):
        flow.flow_loss(net, minigen.zeros(4, 1), time_sampling="beta")


class GaussianEps:
    """The exact ε̂ for data N(μ, s²) per coordinate: x_t ~ N(√ᾱ μ, ᾱ s² + 1 − ᾱ), and
    E[ε | x_t] = √(1 − ᾱ) (x_t − √ᾱ μ) / (ᾱ s² + 1 − ᾱ)."""

    n_classes = None

    def __init__(self, mu, s):
        self.mu, self.s = mu, s

    def __call__(self, x, t, y=None):
        ab = float(diffusion.default_schedule().alpha_bar[int(t.data[0])])
        scale = math.sqrt(1 - ab) / (ab * self.s ** 2 + 1 - ab)
        return (x - math.sqrt(ab) * self.mu) * scale


def test_ddim_with_the_exact_eps_of_a_gaussian_lands_on_its_moments():
    """η = 0 with the exact ε carries N(0, 1) to N(μ, s²) as the steps grow: the mean at any number of steps, the
    spread within 2 % at 1,000 steps; fewer steps shrink the spread (the ODE's discretisation error: 0.14 at 20
    steps, 0.19 at 100, for s = 0.2)."""
    mu, s = 0.3, 0.2
    spread = {}
    for steps in (20, 100, 1000):
        x, nfe = diffusion.sample(GaussianEps(mu, s), (20000, 1), sampler="ddim", steps=steps, seed=5, clip=False)
        again, _ = diffusion.sample(GaussianEps(mu, s), (20000, 1), sampler="ddim", steps=steps, seed=5, clip=False)
        np.testing.assert_array_equal(x.numpy(), again.numpy())            # η = 0: the same noise, the same x₀
        x = x.numpy().astype(np.float64)
        assert nfe == steps and x.mean() == pytest.approx(mu, abs=0.005)
        spread[steps] = x.std()
    assert spread[20] < spread[100] < spread[1000] == pytest.approx(s, rel=0.02)
