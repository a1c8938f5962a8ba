# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 16 — Flow matching
#
# **Time:** under a minute in fast mode (the default: the ring's toy trained for 2,000 steps, eight digits per
# sampler, one live quality measurement on 64 samples) and about 70 seconds in full mode (`MINIGEN_LESSON_MODE=full`:
# 10,000 training steps on the ring, more samplers, three live measurements on 500 samples each) on a 2-core CPU.
# Both modes use MNIST (found through `$MINIGEN_DATA`, `data/` or downloaded), the committed checkpoint
# `pretrained/flow-mnist-7858` with the evaluation files of `pretrained/ddpm-cond-mnist` (full mode also samples it),
# the evaluator classifier `pretrained/classifier-mnist`, for section 7 the cluster model
# `pretrained/flow-deskew-clusters-mnist` with the evaluation files of the committed flows, and for section 8 the
# conditional flow `pretrained/flow-cond-mnist` with the classifier of noisy images
# `pretrained/noisy-classifier-mnist`.
#
# Lessons 14 and 15 built a sampler out of a noise predictor: a thousand small denoising steps, then DDIM's few
# big deterministic ones. **Flow matching** (Lipman et al., 2023) and **rectified flow** (Liu, Gong and Liu,
# 2023) start from the other end. Draw a straight line from each data point to a noise vector, and learn the
# velocity that moves points along such lines: again a plain regression, with no noise schedule, no variational
# bound and no Markov chain. Sampling is then solving an ordinary differential equation (ODE) from noise back to
# data, and the question of lesson 15, how few network evaluations we can get away with, becomes a question
# about ODE solvers and about how straight the paths are.
#
# This lesson shows why the regression learns the right velocity (exactly, on Gaussian data), trains the toy of
# the ring and watches its paths, measures Euler's and Heun's methods, samples digits with the committed flow
# model, shows that lesson 15's DDIM was an Euler method all along, compares the flow and the DDPM at equal
# cost, shows a trick that makes an unconditional model nearly as good as a conditional one (train it on k-means
# clusters of the images), and ends by steering a conditional model with a classifier of noisy images.

# %%
# %matplotlib inline
import inspect
import json
import time

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import metrics, optim, viz
from minigen.data import Ring
from minigen.evaluation import open_evaluator
from minigen.models import TimeMLP, UNet, diffusion, flow
from minigen.train import open_run
from course import FAST, ROOT, check, digit_images, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")
started = time.perf_counter()

# %% [markdown]
# ## 1. Paths between noise and data
#
# The convention of `minigen.models.flow`: time t runs from 0 to 1, **t = 0 is the data and t = 1 is the
# noise**. Take a data point x₀, a noise vector ε ~ N(0, I) drawn independently of it, and the straight line
#
# **x_t = (1 − t) x₀ + t ε,**  whose velocity is  **dx_t/dt = ε − x₀ = v.**
#
# If we knew the pair (x₀, ε), we could walk from the noise back to the data in one step. At sampling time we
# know only where we are, x_t = x, and many lines pass through that point at that time, from different x₀ to
# different ε, in different directions. The training loss asks a network v̂(x, t) for the velocity anyway:
#
# L = E over t ~ U[0, 1], x₀, ε of ‖v̂(x_t, t) − (ε − x₀)‖²   (`flow.flow_loss`).
#
# **What it learns.** For any function f of x_t, and V = ε − x₀,
# E‖f(x_t) − V‖² = E‖f(x_t) − E[V | x_t]‖² + E‖V − E[V | x_t]‖² (the cross term vanishes: given x_t, the second
# factor averages to zero). Only the first term depends on f, so the loss is smallest at the conditional mean
#
# **v\*(x, t) = E[ε − x₀ | x_t = x]**, the *marginal* velocity: the average direction of all the lines through x
# at time t. The second term stays: the best loss is not zero (a noisy point at t near 1 says little about its x₀).
#
# **Why v\* is the right velocity** (the flow-matching result). Let p_t be the density of x_t: p₀ is the data,
# p₁ = N(0, I). Mass moving along the lines obeys the continuity equation ∂p_t/∂t + ∇·(p_t v\*) = 0, because the
# flux through x, summed over all the lines that pass there, is p_t(x) times their average velocity, p_t(x) v\*(x, t).
# So the ODE dx/dt = v\*(x, t), started at x₁ ~ N(0, I) and run backwards from t = 1 to t = 0, keeps its points
# distributed as p_t at every t, and ends on the data. Each point of the ODE no longer travels on one straight
# line; it follows the average of many.
#
# **Checked on an analytic case.** One-dimensional Gaussian data x₀ ~ N(μ, s²). Then (x_t, ε − x₀) is jointly
# Gaussian: x_t has mean (1 − t)μ and variance (1 − t)²s² + t², ε − x₀ has mean −μ, and their covariance is
# t − (1 − t)s². The conditional mean of a Gaussian pair is linear:
#
# **v\*(x, t) = −μ + (t − (1 − t)s²) / ((1 − t)²s² + t²) · (x − (1 − t)μ).**
#
# A Monte Carlo regression of ε − x₀ on x_t at a fixed t (least squares, and the mean of ε − x₀ in bins of x_t)
# must find that line:

# %%
mu, s = 1.5, 0.5                                          # the data: x₀ ~ N(1.5, 0.5²)
rng = np.random.default_rng(0)


def v_star(x, t):
    """The marginal velocity E[ε − x₀ | x_t = x] for x₀ ~ N(μ, s²)."""
    return -mu + (t - (1 - t) * s ** 2) / ((1 - t) ** 2 * s ** 2 + t ** 2) * (x - (1 - t) * mu)


binned = {}
for t in (0.25, 0.5, 0.75):
    x0, eps = mu + s * rng.standard_normal(200_000), rng.standard_normal(200_000)     # (200000,) each
    x_t, v = (1 - t) * x0 + t * eps, eps - x0
    slope, intercept = np.polyfit(x_t, v, 1)                                           # least squares
    want_slope = (t - (1 - t) * s ** 2) / ((1 - t) ** 2 * s ** 2 + t ** 2)
    edges = np.quantile(x_t, np.linspace(0.05, 0.95, 10))
    which = np.digitize(x_t, edges)
    centres = np.array([x_t[which == k].mean() for k in range(1, 10)])
    means = np.array([v[which == k].mean() for k in range(1, 10)])                     # E[ε − x₀ | x_t in bin]
    binned[t] = (centres, means)
    gap = np.abs(means - v_star(centres, t)).max()
    print(f"t = {t}: slope {slope:.4f} (exact {want_slope:.4f}), value at x = 0: {intercept:.4f} "
          f"(exact {v_star(0.0, t):.4f}); bin means off the line by at most {gap:.4f}")
    assert abs(slope - want_slope) < 0.01 and abs(intercept - v_star(0.0, t)) < 0.01 and gap < 0.02

# %% [markdown]
# Now the flow-matching result itself: start 100,000 points from N(0, 1) at t = 1 and follow dx/dt = v\*(x, t)
# down to t = 0 with 1,000 small Euler steps x ← x + h v\*(x, t), h = −1/1000 (section 3 studies this method). At
# every t the points must have the mean (1 − t)μ and the standard deviation √((1 − t)²s² + t²) of x_t, and at
# t = 0 those of the data:

# %%
x = np.random.default_rng(1).standard_normal(100_000)                 # x₁ ~ N(0, 1)
steps = 1000
for i in range(steps):
    t, t_next = 1 - i / steps, 1 - (i + 1) / steps
    x = x + (t_next - t) * v_star(x, t)                               # an Euler step, backwards in time
    if t_next in (0.5, 0.0):
        want = ((1 - t_next) * mu, np.sqrt((1 - t_next) ** 2 * s ** 2 + t_next ** 2))
        print(f"t = {t_next}: mean {x.mean():.4f} (x_t's: {want[0]:.4f}), std {x.std():.4f} (x_t's: {want[1]:.4f})")
        assert abs(x.mean() - want[0]) < 0.01 and abs(x.std() - want[1]) < 0.01
landed = x

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
grid = np.linspace(-1.5, 3.5, 100)
for t, (centres, means) in binned.items():
    line, = axes[0].plot(grid, v_star(grid, t), label=f"v*(x, {t})")
    axes[0].plot(centres, means, "o", color=line.get_color(), ms=4)
axes[0].set_xlabel("x"); axes[0].set_ylabel("velocity"); axes[0].legend(fontsize=8)
axes[0].set_title("E[ε − x₀ | x_t = x]: formula (lines), Monte Carlo bins (dots)")
axes[1].hist(landed, bins=100, density=True, alpha=0.6, label="the ODE's points at t = 0")
axes[1].plot(grid, np.exp(-(grid - mu) ** 2 / (2 * s ** 2)) / (s * np.sqrt(2 * np.pi)), "k", label="N(μ, s²)")
axes[1].legend(fontsize=8); axes[1].set_title("N(0, 1) carried by dx/dt = v*(x, t) from t = 1 to 0")
plt.show()

# %% [markdown]
# The velocity is a *regression*, so a network trained with a squared error on (x_t, ε − x₀) pairs learns v\*
# without ever being shown it, and integrating v\* turns noise into data. Note that v\* at t = 1 is −μ + x: the
# lines from N(μ, s²) to the noise all point, on average, from the data's mean to x.
#
# ## 2. The 2-D toy
#
# Lesson 09's ring of eight Gaussians (radius 2, each mode of standard deviation 0.02), and minigen's toy
# velocity network `TimeMLP`: the point (N, 2) and sinusoidal features of the time (on the 0 … 1000 scale of
# `flow.TIME_SCALE`, the same as DDPM's step index, so one network class serves both) → two hidden layers of
# 128 → a velocity (N, 2). `flow_loss` draws t ~ U[0, 1] and ε for each point:

# %%
print(inspect.getsource(flow.flow_loss))

# %%
ring = Ring(train=True)                                         # 10,000 points (N, 2)
minigen.manual_seed(0)
net = TimeMLP()                                                 # (N, 2), t (N,) → v̂ (N, 2)
train_steps = fast_or_full(2000, 10_000)
opt = optim.Adam(net.parameters(), lr=2e-3)
scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=train_steps)
rng = np.random.default_rng(0)
losses, tic = [], time.perf_counter()
for step in range(train_steps):
    x0 = minigen.tensor(ring.data[rng.integers(0, len(ring), 256)])          # (256, 2)
    loss = flow.flow_loss(net, x0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    scheduler.step()
    losses.append(loss.item())
print(f"{train_steps} steps in {time.perf_counter() - tic:.0f} s; loss over the first 100 steps "
      f"{np.mean(losses[:100]):.3f}, over the last 500 {np.mean(losses[-500:]):.3f}")

# %% [markdown]
# The loss stays far above zero, as section 1 said it must: at t near 1 the point says almost nothing about which
# of the eight modes its line came from.
#
# Sampling: `flow.sample` integrates dx/dt = v̂ from t = 1 to t = 0 and returns, with `return_trajectory=True`,
# every state on the way. Below, the same 150 noise vectors ε three ways: as the **conditional** paths that
# training used (a straight line from each ε to a data point drawn independently of it), as the **learned**
# paths of the ODE (Euler, 100 steps), and where the learned paths end.

# %%
n_paths = 150
x1 = np.random.default_rng(2).standard_normal((2000, 2)).astype(np.float32)          # the noise, (2000, 2)
partners = ring.data[np.random.default_rng(3).integers(0, len(ring), n_paths)]     # independent data points
net.eval()
_, nfe, states = flow.sample(net, x1.shape, "euler", steps=100, x_T=minigen.tensor(x1), return_trajectory=True)
paths = np.stack([p.numpy() for p in states])                                      # (101, 2000, 2): t = 1 … 0
ends = paths[-1]


def segments_cross(p1, p2, q1, q2):
    """Whether segment p1p2 crosses segment q1q2 (arrays (..., 2), broadcast)."""
    def side(a, b, c):
        return np.sign((b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1])
                       - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0]))
    return (side(p1, p2, q1) != side(p1, p2, q2)) & (side(q1, q2, p1) != side(q1, q2, p2))


def share_crossing(polylines):
    """The share of pairs of polylines (P, K + 1, 2) that cross each other somewhere."""
    a, b = polylines[:, :-1], polylines[:, 1:]                                     # (P, K, 2) segment ends
    crossed = segments_cross(a[:, None, :, None], b[:, None, :, None], a[None, :, None], b[None, :, None])
    hit = crossed.any(axis=(2, 3))                                                 # (P, P)
    return hit[np.triu_indices(len(polylines), 1)].mean()


conditional = np.stack([x1[:n_paths], partners], axis=1)                            # (150, 2, 2): one segment each
learned = paths[::10, :n_paths].transpose(1, 0, 2)                                  # (150, 11, 2): every 10th state
length = np.linalg.norm(np.diff(paths, axis=0), axis=2).sum(0)                      # path length (2000,)
straightness = np.linalg.norm(paths[-1] - paths[0], axis=1) / length                 # 1 = straight
cost_pairs = np.linalg.norm(x1[:n_paths] - partners, axis=1).mean()
cost_flow = np.linalg.norm(x1 - ends, axis=1).mean()
print(f"pairs of paths that cross: conditional {share_crossing(conditional):.1%}, "
      f"learned {share_crossing(learned):.1%}")
print(f"straightness ‖x₀ − x₁‖ / path length: conditional 1 (by construction), learned: mean "
      f"{straightness.mean():.3f}, 10th percentile {np.percentile(straightness, 10):.3f}, "
      f"min {straightness.min():.3f}")
print(f"distance travelled ‖x₁ − x₀‖ on average: conditional pairs {cost_pairs:.2f}, learned flow {cost_flow:.2f}")
assert share_crossing(learned) < min(0.02, share_crossing(conditional)) and cost_flow < cost_pairs
assert 0.55 < straightness.mean() < 0.75 and np.percentile(straightness, 10) < 0.5

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
mode_of_end = np.linalg.norm(ends[:, None] - Ring.centers()[None], axis=2).argmin(1)
colours = plt.cm.tab10(mode_of_end[:n_paths] % 10)
for i in range(n_paths):
    axes[0].plot(conditional[i, :, 0], conditional[i, :, 1], color=colours[i], lw=0.6, alpha=0.6)
    axes[1].plot(paths[:, i, 0], paths[:, i, 1], color=colours[i], lw=0.6, alpha=0.8)
axes[0].set_title("conditional paths: noise → an independent data point\n(what training sees: they cross)")
axes[1].set_title("learned paths: dx/dt = v̂(x, t) from t = 1 to 0\n(they bend: never at one point at one time)")
axes[2].scatter(*ring.data[:2000].T, s=2, c="0.7", label="data")
axes[2].scatter(*ends.T, s=2, c="C3", label="samples (Euler, 100 steps)")
axes[2].legend(fontsize=8, markerscale=4)
axes[2].set_title("where 2,000 learned paths end")
for ax in axes:
    ax.scatter(*x1[:n_paths].T, s=6, c="k", zorder=3)
    ax.set_xlim(-3.3, 3.3); ax.set_ylim(-3.3, 3.3); ax.set_aspect("equal")
fig.suptitle("flow matching on the ring: colour = the mode where the learned path from that noise ends "
             "(black dots: the noise)")
save_figure(fig, "16_flow_matching")
plt.show()

# %% [markdown]
# The conditional lines cross everywhere: the same point at the same time lies on lines heading to different
# modes. The learned velocity is one arrow per (x, t), their average, and an ODE with one velocity per (x, t) has
# one path through each point at each time: two learned paths never meet at the same point *at the same time*.
# They bend around each other instead. The few pairs that the count above still finds crossing in the plane (about
# 1 % or less) pass through the crossing point at different times, or cross only in the coarse polyline (every
# 10th state) the count draws through each path. The flow also sends each noise vector to a *nearby* mode (a shorter
# average journey than the random pairs of training). But the learned paths are not straight: on average the
# straight line between a path's ends is only about two thirds of its length (mean straightness 0.6 to 0.7: a path
# is about 1.5 times as long as that line), and for a tenth of them that line is less than half the path.
#
# ## 3. Euler and Heun
#
# Sampling solves dx/dt = v(x, t) from t = 1 to t = 0 on a grid of steps; write h = t_next − t (negative here).
# Taylor: x(t + h) = x + h x′ + (h²/2) x″ + O(h³), with x′ = dx/dt = v(x, t) and x″ = ∂_t v + (∇v) v, where ∇v is
# the Jacobian of v.
#
# **Euler** keeps the first two terms: x_next = x + h v(x, t). Each step is off by (h²/2) x″, and 1/|h| steps
# add up to an error of order h: **first order**.
#
# **Heun** (the trapezoid rule with a guess): integrate the slope over the step by the mean of its two ends,
# x_next = x + (h/2)(v(x, t) + v(x(t + h), t + h)), where the unknown x(t + h) is replaced by Euler's guess
# x̃ = x + h v(x, t). Expanding v(x̃, t + h) = v + h(∂_t v + (∇v) v) + O(h²) = v + h x″ + O(h²) gives
# x_next = x + h v + (h²/2) x″ + O(h³): it matches Taylor one term further, each step is off by O(h³) and the
# total by O(h²): **second order**, for two network evaluations per step. (minigen's last step, to t = 0, is a
# plain Euler step: it saves an evaluation, and its one error of O(h²) does not change the order. S Heun steps
# therefore cost 2S − 1 evaluations.)
#
# Measured on an ODE with a known solution, dx/dt = x sin 2t, whose solution is x(t) = x(1) e^{(cos 2 − cos 2t)/2},
# integrated from t = 1 to 0 by `flow.sample` itself (a "network" that returns the velocity). When the step
# halves, a method of order p cuts its error by 2^p:

# %%
class KnownField:
    """v(x, t) = x sin 2t for flow.sample: it passes the time as 1000·t (flow.TIME_SCALE)."""
    n_classes = None

    def __call__(self, x, t_model, y=None):
        t = float(t_model.numpy()[0]) / flow.TIME_SCALE
        return x * np.sin(2 * t)


start = minigen.tensor(np.array([[1.0], [-0.5]]), dtype=minigen.float64)                # x(1), (2, 1)
exact = start.numpy() * np.exp((np.cos(2.0) - np.cos(0.0)) / 2)                       # x(0)
errors = {"euler": [], "heun": []}
step_counts = [4, 8, 16, 32, 64, 128]
for sampler in errors:
    for steps in step_counts:
        x, nfe = flow.sample(KnownField(), (2, 1), sampler, steps=steps, x_T=start)
        errors[sampler].append(np.abs(x.numpy() - exact).max())
    ratios = np.array(errors[sampler][:-1]) / np.array(errors[sampler][1:])
    print(f"{sampler}: errors {np.array(errors[sampler])}\n       ratios when h halves: {ratios.round(2)}")
    assert np.all(np.abs(ratios[1:] - (2 if sampler == "euler" else 4)) < 0.3)

fig, ax = plt.subplots(figsize=(5, 3.6))
for sampler, errs in errors.items():
    ax.loglog([1 / k for k in step_counts], errs, "o-", label=sampler)
h = np.array([1 / k for k in step_counts])
ax.loglog(h, errors["euler"][-1] * h / h[-1], "k:", lw=1, label="∝ h")
ax.loglog(h, errors["heun"][-1] * (h / h[-1]) ** 2, "k--", lw=1, label="∝ h²")
ax.set_xlabel("step size h"); ax.set_ylabel("error at t = 0"); ax.legend(fontsize=8)
ax.set_title("dx/dt = x sin 2t, from t = 1 to 0")
plt.show()

# %% [markdown]
# Euler's error halves with the step, Heun's falls four times. The one field where both methods are exact
# whatever the step: a single data point x\*, for which ε = (x_t − (1 − t)x\*)/t, so v\*(x, t) = (x − x\*)/t points
# straight at x\* and every path is a straight line. One Euler step from any x₁ lands on x\*:

# %%
class PointMass:
    """v*(x, t) = (x − x*)/t when all the data sit at x*."""
    n_classes = None
    target = np.array([1.5, -2.0])

    def __call__(self, x, t_model, y=None):
        return (x - minigen.tensor(self.target)) * (flow.TIME_SCALE / float(t_model.numpy()[0]))


noise3 = minigen.tensor(np.random.default_rng(4).standard_normal((3, 2)), dtype=minigen.float64)      # (3, 2)
landed, _ = flow.sample(PointMass(), (3, 2), "euler", steps=1, x_T=noise3)
print("one Euler step from three noise points:\n", landed.numpy())
assert np.allclose(landed.numpy(), PointMass.target)

# %% [markdown]
# Straight paths matter for the cost: a straight path is followed exactly by a single Euler step, and the ring's
# learned paths are bent (section 2). How few steps does the ring need? `metrics.ring_modes` returns three
# numbers: **modes**, the modes that hold at least 1 % of the samples within three standard deviations (3 × 0.02)
# of their centre; **reached**, the modes that are the nearest centre of at least 1/(4M) of the samples (M = 8
# modes, so 1/32 of them), however far away those samples are; and the share of samples **within 3σ** of a centre.
# Heun costs 2S − 1 evaluations for S steps, so the table pairs Euler and Heun at equal NFE.

# %%
print(inspect.signature(metrics.ring_modes))
print("sampler  steps  NFE  modes  reached  within 3σ")
coverage = {}
for sampler, step_counts in (("euler", (1, 3, 5, 9, 17, 33)), ("heun", (2, 3, 5, 9, 17))):
    for steps in step_counts:
        x, nfe = flow.sample(net, x1.shape, sampler, steps=steps, x_T=minigen.tensor(x1))
        found = metrics.ring_modes(x.numpy(), Ring.centers(), Ring.std)
        coverage[sampler, nfe] = found
        print(f"{sampler:7s} {steps:5d} {nfe:4d} {found['modes']:6d} {found['modes_reached']:8d} "
              f"{found['high_quality']:10.1%}")
        if (sampler, steps) == ("euler", 1):
            one_step = x.numpy()                                                      # (2000, 2)
print(f"one Euler step: the samples' mean {one_step.mean(0).round(3)}, their typical distance from the origin "
      f"{np.sqrt((one_step ** 2).sum(1).mean()):.3f} (the ring's radius is 2, its mean {ring.data.mean(0).round(3)})")
assert coverage["euler", 1]["modes"] == 0 and np.sqrt((one_step ** 2).sum(1).mean()) < 0.5
assert coverage["heun", 9]["high_quality"] > coverage["euler", 9]["high_quality"]

# %% [markdown]
# One Euler step lands on none of the modes: it lands everything near the data's mean, the origin. At t = 1 the
# velocity is the average over *all* modes (section 1: v\*(x, 1) = E[ε − x₀ | x₁ = x] = x − E[x₀]), so the step
# x − 1 · v\*(x, 1) = E[x₀] ends on the mean whatever x is, and cannot follow the bend that comes later. The small
# spread left around the origin splits the samples between the nearest centres, which is why "reached" is high
# there: it only says which centre is nearest, not that any sample is close to one.
# After full-mode training (10,000 steps), from 5 evaluations on Heun puts more of the samples within 3σ of a
# mode than Euler at the same cost (about 75 % against 59 % at 9 NFE); with only 2 steps (3 NFE) it is worse,
# too few steps for its second order to pay. Modes of width 0.02 at radius 2 are a severe test: every path must
# end within a few hundredths of its target, and the network's own error, not the solver's, sets the ceiling
# (no sampler gets much past three quarters). In fast mode the network has had 2,000 steps only: the samples
# reach all eight modes (from 3 evaluations on) but spread along the ring between them, and few land within 3σ;
# Heun is still ahead at 9 NFE.
#
# Straighter paths would need fewer steps. That is the idea behind rectified flow's **reflow** (Liu, Gong and Liu,
# 2023): retrain the model on (noise, sample) pairs produced by the model itself, with straight lines between
# *those* pairs; this straightens the paths. This lesson does not do it.
#
# ## 4. The same U-Net trained as a flow
#
# Lesson 14's U-Net predicts a tensor shaped like its input from a noisy image and a time; it does not care
# whether that tensor is called ε or v. Trained with `flow_loss` (time on the same 0 … 1000 scale) it is a flow
# model. Its last convolution starts at zero, so at initialisation v̂ = 0 and the loss is E‖ε − x₀‖²/D (D = 784,
# `mse_loss` averages over the pixels): for a given batch that is 1 + the mean of x₀², since ε has unit variance
# and is independent of x₀. With the same noise the two agree exactly:

# %%
images, _ = digit_images("mnist", train=True, n=64)                                  # (64, 28, 28) in [0, 1]
x0 = minigen.tensor(images[:, None] * 2 - 1)                                          # (64, 1, 28, 28) in [−1, 1]
minigen.manual_seed(0)
unet = UNet(channels=(32, 64, 64), attention=False)                                  # the committed model's shape
t = minigen.rand(64)                                                                  # t ~ U[0, 1], (64,)
minigen.manual_seed(1)
eps = minigen.randn(*x0.shape)                                                        # the noise flow_loss will draw
minigen.manual_seed(1)
with minigen.no_grad():
    loss = flow.flow_loss(unet, x0, t=t).item()
    output = unet(x0, t * flow.TIME_SCALE)                                            # (64, 1, 28, 28)
same_noise = ((eps.numpy() - x0.numpy()) ** 2).mean()
print(f"flow_loss at initialisation {loss:.4f}; mean (ε − x₀)² with its noise {same_noise:.4f}; "
      f"1 + mean x₀² = {1 + (x0.numpy() ** 2).mean():.4f}; largest |v̂| {np.abs(output.numpy()).max()}")
assert np.abs(output.numpy()).max() == 0 and abs(loss - same_noise) < 1e-5
assert abs(loss - (1 + (x0.numpy() ** 2).mean())) < 0.03

# %% [markdown]
# MNIST's pixels are mostly background at −1, so the mean of x₀² is near 0.9 and the loss starts near 1.9. The
# committed model `pretrained/flow-mnist-7858` is this U-Net (widths 32, 64, 64, no attention) trained with
# `flow_loss` for 75 minutes on a 2-core CPU (the command below asks for 40 epochs, but its 75-minute time limit
# stopped it in the ninth, after 7,858 steps); its test loss, about 0.17, is the unavoidable part of section 1 plus
# what it has not learnt. It samples from the same noise with Euler and Heun at equal numbers of
# network evaluations, and against a reference integration with many more steps (the distance to it is the
# discretisation error: how far each cheap sampler is from the model's own ODE solution):

# %%
run = open_run(ROOT / "pretrained" / "flow-mnist-7858")
recipe = run.recipe
print(run.config["command"])
print(f"trained for {run.config['trained_epochs']} epochs ({run.config['trained_steps']} steps) in "
      f"{run.config['trained_minutes']:.0f} minutes")
x_T = np.random.default_rng(5).standard_normal((8, 1, 28, 28)).astype(np.float32)     # (8, 1, 28, 28)
settings = fast_or_full([("euler", 5), ("heun", 3), ("euler", 10), ("heun", 5)],
                        [("euler", 5), ("heun", 3), ("euler", 10), ("heun", 5), ("euler", 20), ("heun", 10)])
ref_steps = 25
tic = time.perf_counter()
x_ref, ref_nfe = recipe.generate(x_T, sampler="heun", steps=ref_steps)
grids, distance = {}, {}
for sampler, steps in settings:
    x, nfe = recipe.generate(x_T, sampler=sampler, steps=steps)                         # (8, 1, 28, 28)
    distance[sampler, nfe] = np.sqrt(((x - x_ref) ** 2).mean())
    grids[f"{sampler} {steps} ({nfe} NFE)"] = np.clip((x[:, 0] + 1) / 2, 0, 1)
    print(f"{sampler:5s} {steps:2d} steps, {nfe:2d} NFE: RMS distance to Heun {ref_steps} ({ref_nfe} NFE) "
          f"{distance[sampler, nfe]:.3f}")
grids[f"heun {ref_steps} ({ref_nfe} NFE)"] = np.clip((x_ref[:, 0] + 1) / 2, 0, 1)
print(f"({time.perf_counter() - tic:.0f} s)")
viz.image_panels(grids, nrow=2)
assert distance["heun", 9] < distance["euler", 10]

# %% [markdown]
# The same noise gives the same digits in every panel: a deterministic ODE, solved more or less accurately.
# With 5 evaluations the digits are blurred (each step moves towards an *average* of possible images, and too few
# steps leave that average visible). At 9–10 evaluations Heun is about two thirds as far from the reference as
# Euler (and in full mode, which adds 19–20 evaluations, half as far there). At 5 evaluations, 3 Heun steps are
# no closer than 5 Euler steps in pixels, though section 6 finds their samples better by FID: the distance in
# pixels and the quality of the images are not the same thing.
#
# ## 5. DDIM seen as an ODE
#
# Lesson 15's deterministic DDIM (η = 0, no clamp) steps from DDPM's step t to an earlier step s with
# x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t:
#
# x_s = √ᾱ_s x̂₀ + √(1 − ᾱ_s) ε̂.
#
# Divide by √ᾱ_s and write **x̄ = x/√ᾱ** and **ρ = √((1 − ᾱ)/ᾱ)** (the noise-to-signal ratio, 0 at the data and
# growing with t; a new letter, since lesson 15's σ is the noise DDIM adds per step, zero here): the step becomes
# x̄_s = x̂₀ + ρ_s ε̂, and x̂₀ = x̄_t − ρ_t ε̂, so
#
# **x̄_s = x̄_t + (ρ_s − ρ_t) ε̂(x_t, t)**:
#
# exactly one Euler step, in the variable ρ, of the ODE dx̄/dρ = ε̂. Why that ODE: on the forward process
# x̄ = x₀ + ρ ε, a straight line in ρ with slope ε, as the flow's path is in t. The network's ε̂ estimates
# E[ε | x_t], which is exactly section 1's marginal velocity for these paths, E[dx̄/dρ | x̄]; so by section 1,
# integrating dx̄/dρ = ε̂ from large ρ down to 0 carries noise to data. That deterministic ODE is what the
# literature calls the **probability-flow ODE** (Song et al., 2021). A check against minigen's
# `ddim_step` with a random array for ε̂:

# %%
schedule = diffusion.default_schedule()
rng = np.random.default_rng(6)
x_t, eps_hat = rng.standard_normal((4, 1, 28, 28)), rng.standard_normal((4, 1, 28, 28))
worst = 0.0
for t, t_prev in ((999, 899), (500, 450), (100, 20), (20, -1)):
    ab_t, ab_s = schedule.abar(t), schedule.abar(t_prev)
    rho_t, rho_s = np.sqrt((1 - ab_t) / ab_t), np.sqrt((1 - ab_s) / ab_s)
    euler = np.sqrt(ab_s) * (x_t / np.sqrt(ab_t) + (rho_s - rho_t) * eps_hat)          # back from x̄ to x
    ddim = diffusion.ddim_step(minigen.tensor(x_t, dtype=minigen.float64), t, t_prev,
                               minigen.tensor(eps_hat, dtype=minigen.float64), eta=0.0, clip=False).numpy()
    worst = max(worst, np.abs(euler - ddim).max())
    print(f"step {t} → {t_prev}: ρ {rho_t:.3f} → {rho_s:.3f}, largest difference {np.abs(euler - ddim).max():.1e}")
assert worst < 1e-9

# %% [markdown]
# The flow's path is the same family. Write τ for the flow's time, since t here is DDPM's step index:
# x_τ = (1 − τ) x₀ + τ ε is (1 − τ)(x₀ + ρ ε) with ρ = τ/(1 − τ): the flow's x is x̄ scaled by
# 1 − τ = 1/(1 + ρ). Convert DDPM's prediction to a velocity, v̂ = ε̂ − x̂₀, and the flow's Euler step from τ_t to
# τ_s lands on (1 − τ_s) x̂₀ + τ_s ε̂: the predicted data re-noised to the new level, which is DDIM's step too.
# So **DDIM is Euler's method** on the probability-flow ODE, whichever way it is written: the first-order error
# halving of lesson 15, section 1. Checked:

# %%
t, t_prev = 500, 200
ab_t, ab_s = schedule.abar(t), schedule.abar(t_prev)
tau_t, tau_s = (np.sqrt((1 - a) / a) / (1 + np.sqrt((1 - a) / a)) for a in (ab_t, ab_s))   # τ = ρ/(1 + ρ)
x_flow = (1 - tau_t) * x_t / np.sqrt(ab_t)                                          # x_τ = (1 − τ) x̄
x0_hat = (x_t - np.sqrt(1 - ab_t) * eps_hat) / np.sqrt(ab_t)
x_next = x_flow + (tau_s - tau_t) * (eps_hat - x0_hat)                               # flow Euler with v̂ = ε̂ − x̂₀
ddim = diffusion.ddim_step(minigen.tensor(x_t, dtype=minigen.float64), t, t_prev,
                           minigen.tensor(eps_hat, dtype=minigen.float64), eta=0.0, clip=False).numpy()
gap = np.abs(x_next / (1 - tau_s) * np.sqrt(ab_s) - ddim).max()
print(f"flow Euler step, mapped back to DDPM's x: largest difference from ddim_step {gap:.1e}")
assert gap < 1e-9

# %% [markdown]
# What differs between lesson 15's DDIM and this lesson's Euler is then not the kind of step but the time grid
# (DDIM's steps are evenly spaced in DDPM's index t, which is not evenly spaced in ρ or τ) and, above all, the
# network and what it learnt. Heun is the first thing the flow view adds: a second-order solver.
#
# ## 6. Quality at equal NFE
#
# The committed evaluations score 1,000 samples of each model with lesson 10's evaluator (the Fréchet distance
# between the evaluator's features of the samples and of 1,000 test images, FID, lower is better; the classifier
# score, higher is better, at most 10), at several samplers and step counts. One file:

# %%
one = json.loads((ROOT / "pretrained" / "flow-mnist-7858" / "eval-heun-10-n1000.json").read_text())
print(sorted(one))
print({k: one[k] for k in ("sampling", "n", "nfe_per_sample", "fid", "classifier_score", "real_fid_train_vs_test",
                           "real_classifier_score")})

# %%
committed = {}
for path in sorted((ROOT / "pretrained" / "flow-mnist-7858").glob("eval-*-n1000.json")):
    r = json.loads(path.read_text())
    committed.setdefault(f"flow, {r['sampling'].split(',')[0]} (1,000 samples)", []).append(
        (r["nfe_per_sample"], r["fid"], r["classifier_score"]))
for path in sorted((ROOT / "pretrained" / "ddpm-cond-mnist").glob("eval-*-w0-n1000.json")):
    r = json.loads(path.read_text())
    name = "ancestral" if r["sampling"].startswith("ddpm") else "DDIM η=0"
    committed.setdefault(f"DDPM w = 0, {name} (1,000 samples)", []).append(
        (r["nfe_per_sample"], r["fid"], r["classifier_score"]))
real_1000 = (r["real_fid_train_vs_test"], r["real_classifier_score"])
for name, points in committed.items():
    print(f"{name:38s}", "  ".join(f"{k} NFE: FID {fid:.0f}, score {sc:.2f}" for k, fid, sc in sorted(points)))
print(f"real training images, n = 1,000: FID {real_1000[0]:.1f}, score {real_1000[1]:.2f}")

# %% [markdown]
# Now live points, at a smaller n: one in fast mode (the flow, Heun, 5 steps), three in full mode (also the flow
# with Euler, 10 steps, and the DDPM with DDIM, 10 steps). Small samples inflate FID (the feature covariance of a
# few samples is a poor estimate), so each live point comes with its floor: n real training images scored the
# same way.

# %%
judge = open_evaluator(ROOT / "pretrained" / "classifier-mnist", "mnist")
reference_images, _ = digit_images("mnist", train=False, n=1000)                       # (1000, 28, 28) in [0, 1]
ref_features, _ = judge.recipe.predict(reference_images)
n = fast_or_full(64, 500)


def quality(images01):
    """FID against 1,000 test images and the classifier score of images (N, 28, 28) in [0, 1]."""
    features, probs = judge.recipe.predict(images01)
    return metrics.fid(features, ref_features), metrics.classifier_score(probs)


floor = quality(digit_images("mnist", train=True, n=n)[0])
print(f"real training images, n = {n}: FID {floor[0]:.1f}, score {floor[1]:.2f}")
noise = np.random.default_rng(7).standard_normal((n, 1, 28, 28)).astype(np.float32)
live = {}
ddpm = open_run(ROOT / "pretrained" / "ddpm-cond-mnist").recipe if not FAST else None
for name, model, opts in fast_or_full(
        [("flow, heun", recipe, dict(sampler="heun", steps=5))],
        [("flow, heun", recipe, dict(sampler="heun", steps=5)),
         ("flow, euler", recipe, dict(sampler="euler", steps=10)),
         ("DDPM w = 0, DDIM η=0", ddpm, dict(sampler="ddim", steps=10, guidance=0.0))]):
    tic = time.perf_counter()
    x, nfe = model.generate(noise, **opts)
    fid, score = quality(np.clip((x[:, 0] + 1) / 2, 0, 1))
    live.setdefault(f"{name} (n = {n}, live)", []).append((nfe, fid, score))
    print(f"{name:22s} {nfe:2d} NFE: FID {fid:6.1f}, score {score:.2f}   ({time.perf_counter() - tic:.0f} s)")
fig = viz.quality_vs_nfe({**committed, **live}, floor={"fid": real_1000[0], "score": real_1000[1], "n": 1000},
                         title="the committed flow (unconditional) and DDPM (conditional, sampled with w = 0)")
plt.show()
live_fid = {name.split(" (")[0]: points[0][1] for name, points in live.items()}
assert live_fid["flow, heun"] > max(floor[0], dict((k, f) for k, f, _ in committed["flow, heun (1,000 samples)"])[9])
if not FAST:
    assert live_fid["flow, heun"] < live_fid["flow, euler"] < live_fid["DDPM w = 0, DDIM η=0"]

# %% [markdown]
# At every NFE the flow is far ahead: at 9 evaluations (Heun, 5 steps) its FID is lower than DDIM's at 20, and
# Heun beats Euler at equal cost (9 against 10, 5 against 5), as on the ring at 9 NFE. The live points sit above
# the committed ones because of their smaller n, and so does their floor; in full mode the three live points keep
# the committed order (Heun 9 NFE, then Euler 10, then DDIM 10, far behind).
#
# Some committed numbers look impossible: the flow's FID from 9 NFE on with Heun and from 20 with Euler (44 to 56;
# about 46 at 19 NFE) is *below* that of 1,000 real training images (about 59), the floor at the same n. FID
# compares two Gaussians fitted to the features, and with few points their covariances are estimated with an
# error that adds to the distance: a bias that grows with the spread of the features and shrinks as 1/n. A set a
# little less varied than real digits pays less of that bias, and at n = 1,000 the bias is most of the number. At
# 10,000 samples the order is what it should be (the flow 30.4, real images 5.3, README's table): compare FIDs
# only at equal n, and trust large n.
#
# Be careful what this comparison says. The two models were trained for 75 minutes each with the same U-Net, but
# they are not the same experiment: the flow ran later, alone on both cores and with a faster engine, and took
# 7,858 steps where the DDPM, on one core, took 2,547; the flow is an unconditional model; the DDPM is a
# class-conditional model sampled with its labels switched off (w = 0), a mode it practised on only the 10 % of
# training examples whose label was dropped, and whose conditional samples (lesson 15, w ≥ 1) are much better.
# Nor is its schedule tuned for few steps. What the plot does show is what the committed files contain: for
# unconditional samples at a budget of 5 to 20 evaluations, this flow model is the better one, and Heun is its
# better sampler.
#
# ## 7. Clusters: an unconditional model that is told what to draw
#
# The committed flows of README's table were all trained for about 88 minutes with this U-Net, and scored on
# 10,000 samples each (the evaluator of section 6 against the 10,000 test images; "uncertain" is the share of
# samples the evaluator gives less than 0.5 for its top class):

# %%
table = {"unconditional (pretrained/flow-mnist)": "flow-mnist/eval-heun-10.json",
         "k-means clusters of pixels, K = 100": "flow-clusters-mnist/eval-heun-10-w1.json",
         "k-means clusters of deskewed images, K = 200": "flow-deskew-clusters-mnist/eval-heun-10-w1.json",
         "class-conditional, told the digit (w = 1)": "flow-cond-mnist/eval-heun-10-w1.json"}
scores = {}
for name, file in table.items():
    r = json.loads((ROOT / "pretrained" / file).read_text())
    scores[name] = r
    print(f"{name:46s} {r['nfe_per_sample']} NFE: FID {r['fid']:5.2f}, score {r['classifier_score']:.2f}, "
          f"uncertain {100 * r['uncertain_share']:4.1f} %")
print(f"{'real training images':46s}         FID {r['real_fid_train_vs_test']:5.2f}, score "
      f"{r['real_classifier_score']:.2f}, uncertain {100 * r['real_uncertain_share']:4.1f} %")
fids = [r["fid"] for r in scores.values()]
assert fids[0] > fids[1] > fids[2] and fids[0] > 2 * fids[3]

# %% [markdown]
# Told the digit, the same network in the same time is three times better by FID. It is not the labels' extra
# information about the data: the class-conditional model samples p(x | c) for c drawn with the classes' shares,
# which is again p(x). What changes is the network's job. An unconditional flow must decide from the noise alone
# which digit each sample becomes, and where it hesitates it draws a blend of two: the uncertain share of 13 %.
# Told the class, it only has to draw it.
#
# Bao et al. (2022, "Why are conditional generative models better than unconditional ones?") found that labels
# made without any annotation give most of that help. Cluster the training images with **k-means**
# (`minigen.models.clusters`), train the conditional model on the cluster index k(x) instead of the class, and
# sample by drawing k with its share π_k of the training set first:
#
# $$p(x) = \sum_k \pi_k\, p(x \mid k).$$
#
# No label is used, in training or sampling: `minigen train flow --clusters K` is an unconditional generator, and
# by the table the clusters take it most of the way to the conditional model. How good the clusters are matters.
# One measure is their **purity**: the share of images that belong to the most common digit of their cluster
# (measured with the labels afterwards; the clustering never sees them). Much of what separates two images of one
# digit is its slant, which pixels count as a large distance, so the second row of the table clusters images
# **deskewed** first: sheared so that the ink's row–column covariance is zero (the derivation is in
# `minigen/models/clusters.py`). The generator still learns the original images; only k-means looks at the
# upright ones.

# %%
from minigen.models.clusters import deskew, kmeans  # noqa: E402

n_images = fast_or_full(10_000, 60_000)
train_images, train_labels = digit_images("mnist", train=True, n=n_images)           # (N, 28, 28) in [0, 1]
upright = deskew(train_images)                                                        # (N, 28, 28)
viz.image_panels({"MNIST": train_images[:8], "deskewed": upright[:8]}, nrow=8)


def purity(assignments, labels, k):
    """The share of images whose digit is the most common one in their cluster."""
    counts = np.zeros((k, 10), dtype=np.int64)
    np.add.at(counts, (assignments, labels), 1)                                       # (K, 10) cluster × digit
    return counts.max(1).sum() / len(labels)


tic = time.perf_counter()
purities = {}
for name, points in (("pixels", train_images), ("deskewed", upright)):
    _, assignments = kmeans(points.reshape(len(points), -1), 100, iters=30, seed=0)
    purities[name] = purity(assignments, train_labels, 100)
    print(f"K = 100 clusters of {name:8s} ({n_images:,} images): purity {100 * purities[name]:.1f} %")
print(f"({time.perf_counter() - tic:.0f} s)")
assert purities["deskewed"] > purities["pixels"] + 0.02

# %% [markdown]
# On all 60,000 training images (full mode) the purities are 86.5 % and 91.7 % at K = 100; at K = 200, 90.0 %
# and 93.9 %, which is what `pretrained/flow-deskew-clusters-mnist` was trained on. Here are its samples: the
# clusters are drawn with their shares, then the flow draws an image of each; and eight samples of each of four
# clusters, which show what "told the cluster" means (each row one way of writing one digit):

# %%
clustered = open_run(ROOT / "pretrained" / "flow-deskew-clusters-mnist").recipe
clustered.train(False)
print(clustered.config["command"])
rng = np.random.default_rng(3)
noise = clustered.noise(32, rng)                                                     # (32, 1, 28, 28)
mixture = clustered.sample(noise, labels=clustered.labels(32, rng=rng))               # (32, 28, 28) in [0, 1]
some = [int(k) for k in np.argsort(clustered.clusters.shares.numpy())[::-1][[0, 50, 100, 150]]]
rows = np.concatenate([clustered.sample(noise[:8], labels=k) for k in some])           # (32, 28, 28)
viz.image_panels({"clusters drawn by their shares": mixture, f"clusters {some}, one per row": rows}, nrow=8)
print("shares of those clusters:", [f"{100 * clustered.clusters.shares.numpy()[k]:.2f} %" for k in some])

# %% [markdown]
# A class-conditional model can use the same trick inside each class: `--conditional --clusters K` clusters the
# images of every digit separately, tells the network class·K + cluster, and asked for digit c draws a cluster
# of c by its share within the class first. The user still asks for a digit, and the label accuracy of lesson 15
# still applies.
#
# ## 8. Classifier guidance
#
# Told the digit but not guided (w = 1), the class-conditional flow of the table draws the requested digit only
# 97.3 % of the time by the evaluator: one sample in 37 drifts into another digit. Lesson 15's classifier-free
# guidance fixes that by pushing *every* sample away from the unconditional prediction, the sure ones as hard as
# the doubtful ones, and pays in variety. **Classifier guidance** (Dhariwal and Nichol, 2021) asks a separate
# classifier of noisy images, p(y | x_t, t), which way the label lies. Its push is ∇ₓ log p(y | x_t): near zero
# where the classifier is already sure of y, large where the sample is drifting, so it mends the doubtful
# samples and leaves the others alone.
#
# In velocity terms: on the straight path the network predicts v = E[ε − x₀ | x_t], and x₀ = (x_t − t ε)/(1 − t)
# gives E[ε | x_t] = x_t + (1 − t) v. The score of the noisy images is ∇ log p_t(x_t) = −E[ε | x_t]/t, and Bayes'
# rule adds ∇ log p(y | x_t) to it for p_t(x_t | y). Scaled by s and carried back to the velocity:
#
# $$\tilde v = v - s\,\frac{t}{1 - t}\,\nabla_x \log p(y \mid x_t, t).$$
#
# s = 1 is Bayes' rule exactly; s > 1 samples as if the classifier were sharper, p(y | x)^s. t/(1 − t) grows
# without bound near pure noise, where the classifier cannot read anything anyway, so the push applies only in an
# interval of t. The classifier (`pretrained/noisy-classifier-mnist`, `minigen train noisy-classifier`, about 10
# minutes) is trained on the flow's own path: images noised to x_t with t drawn uniformly, t given as an extra
# input channel. Its gradient comes from the autograd engine, one backward pass through the small classifier per
# step, not through the U-Net:

# %%
from minigen.models import noisy_classifier  # noqa: E402

print(inspect.getsource(noisy_classifier.log_prob_gradient))
print(inspect.getsource(noisy_classifier.guide_velocity))

# %% [markdown]
# The committed conditional flow, the same noise and the same requested digits three ways: unguided (w = 1),
# with classifier guidance (s = 2.5 for t in [0.2, 0.7], the model's default sampling), and with the best
# classifier-free guidance found for it (w = 3.5 for t in [0.4, 0.6], −3 below; `recipe.generate` takes any
# sampling option for one call). For each: label accuracy by the evaluator, and the evaluator's mean probability
# of the requested digit (a smoother measure than accuracy on a few hundred samples).

# %%
conditional = open_run(ROOT / "pretrained" / "flow-cond-mnist").recipe
conditional.train(False)
per_digit = fast_or_full(10, 50)
asked = np.repeat(np.arange(10), per_digit)                                           # (10·per_digit,)
start = np.random.default_rng(11).standard_normal((len(asked), 1, 28, 28)).astype(np.float32)
ways = {"unguided (w = 1)": dict(guidance=1.0, classifier_scale=0.0),
        "classifier guidance": dict(guidance=1.0, classifier_scale=2.5,
                                    classifier=str(ROOT / "pretrained" / "noisy-classifier-mnist"),
                                    classifier_interval=(0.2, 0.7)),
        "classifier-free guidance": dict(guidance=3.5, guidance_interval=(0.4, 0.6), guidance_below=-3.0,
                                         classifier_scale=0.0)}
panels, told = {}, {}
for name, options in ways.items():
    x, nfe = conditional.generate(start, asked, **options)                            # this call's sampling
    images01 = conditional.to_unit(x[:, 0])                                           # (N, 28, 28)
    _, probs = judge.recipe.predict(images01)
    told[name] = (metrics.label_accuracy(probs, asked), float(probs[np.arange(len(asked)), asked].mean()))
    panels[f"{name}: {nfe} NFE"] = images01.reshape(10, per_digit, 28, 28)[:, :6].reshape(-1, 28, 28)
    print(f"{name:26s} {nfe} NFE: label accuracy {told[name][0]:.1%}, mean p(asked digit) {told[name][1]:.4f}")
fig = viz.image_panels(panels, nrow=6, title="the committed conditional flow: one row per digit, the same noise in "
                                              "every panel")
save_figure(fig, "16_classifier_guidance")
plt.show()
assert told["classifier guidance"][1] > told["unguided (w = 1)"][1]

# %% [markdown]
# On a hundred samples both kinds of guidance fix nearly every wrong digit; what separates them is what they cost,
# which takes 10,000 samples to see (README): classifier guidance at s = 2.5 for t in [0.2, 0.7] scored FID 5.99 at
# label accuracy 99.70 % (seed 0) and 5.53 at 99.54 % (seed 1) with 19 network evaluations, where the best
# classifier-free guidance reached about 7.8 at 99.47 % with 31. The unguided model's FID is 5.83: classifier
# guidance fixes the labels at almost no cost in variety, because it leaves alone the samples that are already
# clearly their digit. Where the push acts matters as it did for classifier-free guidance (lesson 15): at s = 1.5,
# stopping it at t = 0.6 left 98.9 % of the labels right where stopping at 0.8 reached 99.7 % (the digit is decided
# above t = 0.6), and pushing harder (s = 3 over [0, 0.8]: 99.8 %) buys the last tenths of a point with a lot of
# FID (3,000-sample screens in README). The price is a second network, trained for 10
# minutes, and one forward and backward pass of it per step; the evaluator that scores the samples is a different
# network, trained on clean images, that the guide never sees.
#
# ## 9. Exercises
#
# In `lessons/exercises/lesson16.py` (NumPy arrays in and out):
#
# - **16.1** `flow_pair(x0, eps, t)`: the point x_t on the straight path and the velocity v = ε − x₀ of section 1,
#   with one t per example (t of shape (N,) reshaped to (N, 1, …, 1)).
# - **16.2** `heun_step(velocity, x, t, t_next)`: one step of Heun's method from section 3, for either direction
#   of time (h = t_next − t is negative when sampling).
#
# The checks compare with the reference answers, with minigen's `flow_loss` (a network that outputs your v must
# score zero) and `flow.sample`, and with things independent of both: the derivative of the path, the marginal
# velocity of Gaussian data of section 1, the point-mass field that Heun follows exactly, and the convergence
# order (the error must fall four times when the step halves). Run `check(16, "exercises")` on your file; the
# cell below checks the reference answers.

# %%
check(16)
print(f"lesson time: {time.perf_counter() - started:.0f} s")
