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
# # Lesson 14 — Denoising diffusion
#
# **Time:** under a minute in fast mode (the default: a 2-D toy for 3,000 steps, a narrow U-Net for 40 steps
# on MNIST, 40 samples from the committed model) and 9–10 minutes in full mode (`MINIGEN_LESSON_MODE=full`:
# the toy for 12,000 steps, the U-Net for 300 steps, which take most of the time, 80 samples) on a 2-core CPU.
# Both modes use MNIST (found through `$MINIGEN_DATA`, `data/` or downloaded) and the committed checkpoint
# `pretrained/ddpm-cond-mnist`.
#
# The GANs of lessons 09–12 learn to make an image in one shot, and they fight to do it: two networks, a game,
# mode collapse. **Denoising diffusion** (Sohl-Dickstein et al., 2015; Ho, Jain and Abbeel, 2020: DDPM) takes
# the opposite road. Destroying an image is easy: add a little Gaussian noise, again and again, until nothing but
# noise is left. Learn to undo *one small step* of that, which is a plain regression problem, and then undo all
# of them in turn, starting from pure noise. No game, no collapse; the price is that a sample takes many network
# evaluations instead of one (lesson 15 brings that number down).
#
# This lesson derives the forward process and its closed form, the reverse step, and the training loss; trains a
# toy on lesson 09's ring and watches its points move; then builds the U-Net that does the same on MNIST.

# %%
# %matplotlib inline
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import metrics, optim, viz
from minigen.data import Ring
from minigen.models import TimeMLP, UNet, diffusion
from minigen.models.unet import ResBlock, time_embedding
from minigen.train import open_run
from course import FAST, ROOT, check, digit_images, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")
started = time.perf_counter()

# %% [markdown]
# ## 1. The forward process and its closed form
#
# Images are scaled to [−1, 1]. Fix a **variance schedule** β_1, …, β_T (small numbers: Ho et al. use T = 1000
# and β rising linearly from 10⁻⁴ to 0.02) and corrupt an image x₀ one step at a time:
#
# q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I),  that is  x_t = √α_t x_{t−1} + √β_t ε_t,  α_t = 1 − β_t,
#
# with a fresh ε_t ~ N(0, I) at every step. The factor √α_t shrinks the signal just enough that the variance
# stays 1 when it was 1: α_t·1 + β_t = 1. Two steps compose into one Gaussian step, because a sum of independent
# Gaussians is Gaussian: if x_{t−1} = √ᾱ_{t−1} x₀ + √(1 − ᾱ_{t−1}) ε', then
# x_t = √(α_t ᾱ_{t−1}) x₀ + [√α_t √(1 − ᾱ_{t−1}) ε' + √β_t ε_t], and the bracket has variance
# α_t(1 − ᾱ_{t−1}) + 1 − α_t = 1 − α_t ᾱ_{t−1}. By induction, with **ᾱ_t = α_1 α_2 ⋯ α_t**,
#
# **q(x_t | x₀) = N(√ᾱ_t x₀, (1 − ᾱ_t) I),  x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε.**
#
# So training never has to run the chain: any x_t is one line away from x₀.
#
# **Indexing in code.** The formulas count the noising steps 1 … T; minigen's arrays count them 0 … T − 1, as
# arrays do: `alpha_bar[i]` is ᾱ after i + 1 steps (the ᾱ_{i+1} of the formulas), and the clean image x₀ is
# "step −1", with ᾱ = 1. From here on, "step t" in code and in printed tables means the array index. Check the
# closed form against iterating the one-step kernel, on 100,000 copies of three pixel values:

# %%
schedule = diffusion.Schedule("linear", T=1000)                 # β, α, ᾱ as float64 arrays (T,)
rng = np.random.default_rng(0)
x0 = np.repeat([[-1.0, 0.2, 0.9]], 100_000, axis=0)             # (100000, 3): three pixels, many noisings
x = x0.copy()
print(" t   pixel  mean: chain   closed form    std: chain   closed form")
for t in range(schedule.T):
    x = np.sqrt(schedule.alphas[t]) * x + np.sqrt(schedule.betas[t]) * rng.standard_normal(x.shape)
    if t in (9, 99, 499, 999):
        ab = schedule.alpha_bar[t]
        for j in range(3):
            print(f"{t:4d} {x0[0, j]:6.1f} {x[:, j].mean():12.4f} {np.sqrt(ab) * x0[0, j]:12.4f} "
                  f"{x[:, j].std():12.4f} {np.sqrt(1 - ab):12.4f}")
        assert np.allclose(x.mean(0), np.sqrt(ab) * x0[0], atol=0.01)        # ≥ 3 standard errors (0.0032)
        assert np.allclose(x.std(0), np.sqrt(1 - ab), atol=0.01)

# %% [markdown]
# The chain and the closed form agree to the Monte Carlo error (about 0.003 here). By the last step
# √ᾱ ≈ 0.006: almost nothing of the image is left, and x_T is, for all purposes, N(0, I) — which is where sampling
# will start.
#
# ## 2. The schedule: how fast the signal goes
#
# The **signal-to-noise ratio** SNR(t) = ᾱ_t / (1 − ᾱ_t) says how much of x₀ is left in x_t. Ho et al.'s linear
# schedule drops it fast: a third of its steps see almost pure noise (SNR < 0.01). The **cosine** schedule
# (Nichol and Dhariwal, 2021) sets ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T) + δ)/(1 + δ) · π/2) with a small offset
# δ = 0.008 (so that β does not vanish at t = 0), which destroys information more evenly.

# %%
cosine = diffusion.Schedule("cosine", T=1000)
images, labels = digit_images("mnist", train=False, n=8)                     # (8, 28, 28) in [0, 1]
digit = 2 * images[0] - 1                                                    # one test digit in [−1, 1]
steps_shown = [0, 50, 100, 200, 400, 600, 999]
eps = np.random.default_rng(1).standard_normal(digit.shape)                  # one ε for every panel
fig, axes = plt.subplots(3, len(steps_shown), figsize=(1.5 * len(steps_shown), 5.3),
                         gridspec_kw=dict(height_ratios=[1, 1, 1.6]))
for row, sched in enumerate((schedule, cosine)):
    for ax, t in zip(axes[row], steps_shown):
        ab = sched.alpha_bar[t]
        ax.imshow(np.sqrt(ab) * digit + np.sqrt(1 - ab) * eps, cmap="gray", vmin=-2, vmax=2)
        ax.set_title(f"{sched.kind} t={t}", fontsize=8)
        ax.axis("off")
for ax in axes[2]:
    ax.remove()
ax = fig.add_subplot(3, 1, 3)
for sched in (schedule, cosine):
    ax.plot(np.log10(sched.alpha_bar / (1 - sched.alpha_bar)), label=sched.kind)
ax.axhline(0, color="gray", lw=0.8)
ax.set_xlabel("step t")
ax.set_ylabel("log₁₀ SNR")
ax.legend()
plt.tight_layout()
plt.show()
for sched in (schedule, cosine):
    snr = sched.alpha_bar / (1 - sched.alpha_bar)
    print(f"{sched.kind:7s}: SNR = 1 at t = {np.argmin(np.abs(snr - 1)):3d};  "
          f"steps with SNR < 0.01 (almost pure noise): {(snr < 0.01).mean():.0%}")
assert (schedule.alpha_bar / (1 - schedule.alpha_bar) < 0.01).mean() > (cosine.alpha_bar / (1 - cosine.alpha_bar)
                                                                         < 0.01).mean()

# %% [markdown]
# With the linear schedule the digit is gone by t ≈ 400 and a third of the steps are spent on images that are
# nearly pure noise; the cosine schedule keeps a trace of the digit until t ≈ 600. The committed models of this
# course use the linear schedule (Ho et al.'s); `minigen train ddpm --schedule cosine` trains with the other.
#
# ## 3. The reverse step, and from the ELBO to the simple loss
#
# To generate we need the reverse: q(x_{t−1} | x_t). On its own it is intractable (it depends on the whole data
# distribution), but **given x₀** it is a Gaussian we can write down. Bayes' rule,
# q(x_{t−1} | x_t, x₀) ∝ q(x_t | x_{t−1}) q(x_{t−1} | x₀), multiplies two Gaussians in x_{t−1}. As a function of
# x_{t−1} the first is N(x_t/√α_t, β_t/α_t) and the second N(√ᾱ_{t−1} x₀, 1 − ᾱ_{t−1}); a product of Gaussians
# adds their precisions and averages their means by precision:
#
# 1/β̃_t = α_t/β_t + 1/(1 − ᾱ_{t−1}),  μ̃_t = β̃_t (√α_t x_t/β_t + √ᾱ_{t−1} x₀/(1 − ᾱ_{t−1})),
#
# which simplifies (using 1 − ᾱ_t = α_t(1 − ᾱ_{t−1}) + β_t) to
#
# q(x_{t−1} | x_t, x₀) = N(μ̃_t, β̃_t I),
# μ̃_t = √ᾱ_{t−1} β_t/(1 − ᾱ_t) · x₀ + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) · x_t,  β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t).
#
# Check it without trusting the algebra: draw x_{t−1} from q(x_{t−1} | x₀), then x_t from the one-step kernel;
# the best linear prediction of x_{t−1} from x_t (least squares) must have the coefficient and intercept of μ̃,
# and its residual variance must be β̃. The same formulas jump from t to any earlier step s in one go, with β_t
# replaced by 1 − ᾱ_t/ᾱ_s and α_t by ᾱ_t/ᾱ_s (the s-to-t noising is one Gaussian step too, by section 1); that is
# how a sampler can take fewer steps than T.

# %%
t, x0_value = 300, 0.5
ab_prev, ab = schedule.alpha_bar[t - 1], schedule.alpha_bar[t]
x_prev = np.sqrt(ab_prev) * x0_value + np.sqrt(1 - ab_prev) * rng.standard_normal(400_000)       # (400000,)
x_t = np.sqrt(schedule.alphas[t]) * x_prev + np.sqrt(schedule.betas[t]) * rng.standard_normal(400_000)
slope, intercept = np.polyfit(x_t, x_prev, 1)                                  # x_{t−1} ≈ slope·x_t + intercept
residual = (x_prev - (slope * x_t + intercept)).var()
mean_at_0, var = diffusion.posterior(x0_value, 0.0, t, schedule)              # μ̃ at x_t = 0 is the intercept
mean_at_1, _ = diffusion.posterior(x0_value, 1.0, t, schedule)
print(f"coefficient of x_t  fit {slope:.5f}   formula {mean_at_1 - mean_at_0:.5f}")
print(f"intercept           fit {intercept:.5f}   formula {mean_at_0:.5f}")
print(f"variance            fit {residual:.3e}   formula β̃ = {var:.3e}   (β_t = {schedule.betas[t]:.3e})")
assert abs(slope - (mean_at_1 - mean_at_0)) < 3e-3 and abs(intercept - mean_at_0) < 3e-3
assert abs(residual / var - 1) < 0.01

# %% [markdown]
# Now the model. Its reverse step p_θ(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t² I) should match q(x_{t−1} | x_t, x₀),
# but x₀ is what we do not know. The variance σ_t² is fixed, not learnt: Ho et al. tried σ_t² = β_t and
# σ_t² = β̃_t and found both work; minigen samples with β̃_t. Write x₀ through the noise that made x_t,
# x₀ = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t, and μ̃ becomes a function of x_t and ε alone:
#
# μ̃_t = (1/√α_t) · (x_t − β_t/√(1 − ᾱ_t) · ε).
#
# So a network **ε̂_θ(x_t, t) that predicts the noise** gives the mean: μ_θ = (1/√α_t)(x_t − β_t/√(1 − ᾱ_t) ε̂),
# and with it an estimate of the clean image, **x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t**.
# Training maximises the evidence lower bound (ELBO) of log p_θ(x₀), lesson 08's bound with the T noisy images as
# the latent variables. It splits into one KL divergence per step, KL(q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t)),
# and between two Gaussians with fixed variances (β̃_t and σ_t²) it is ‖μ̃ − μ_θ‖²/(2σ_t²) plus a constant:
#
# L_t = β_t² / (2σ_t² α_t (1 − ᾱ_t)) · ‖ε − ε̂_θ(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t)‖².
#
# Ho et al. **drop the weight** in front and sample t uniformly: L_simple = E_{t, x₀, ε} ‖ε − ε̂_θ(x_t, t)‖²,
# the `diffusion.ddpm_loss` of minigen (which averages over the D = 784 pixels rather than summing). Why drop it?
# The weight is largest at the smallest t, where the image is almost clean and x̂₀ almost right: those steps
# barely change what the image will be. Dropping the weight spends the network's effort on the noisier steps,
# which decide it, and Ho et al. found the samples better. What is lost is the exact likelihood bound: a model
# trained on L_simple is not the best at the ELBO. One more fact about a squared-error loss: its minimiser is the
# conditional mean, so a perfect network outputs ε̂ = E[ε | x_t] (and x̂₀ = E[x₀ | x_t]), an average over every
# image that could have made x_t; lesson 15 uses this. Two checks: μ̃ through ε equals μ̃ through x₀, and the
# weight (with σ_t² = β_t):

# %%
t = 300
xt, e = rng.standard_normal(5), rng.standard_normal(5)
x0_hat = diffusion.predict_x0(minigen.tensor(xt), t, minigen.tensor(e), schedule, clip=False).numpy()
via_x0, _ = diffusion.posterior(x0_hat, xt, t, schedule)
via_eps = (xt - schedule.betas[t] / np.sqrt(1 - schedule.alpha_bar[t]) * e) / np.sqrt(schedule.alphas[t])
print("μ̃ from x̂₀:", np.round(via_x0, 5), "\nμ̃ from ε: ", np.round(via_eps, 5))
assert np.allclose(via_x0, via_eps, atol=1e-5)
weight = schedule.betas ** 2 / (2 * schedule.betas * schedule.alphas * (1 - schedule.alpha_bar))   # σ_t² = β_t
print("the ELBO's weight at t = 1, 10, 100, 999:", np.round(weight[[1, 10, 100, 999]], 4))

# %% [markdown]
# The weight falls by a factor of more than 20 from t = 1 to t = 100 and then stays flat: per step, the ELBO
# would give the nearly noiseless steps (the smallest t) tens of times the attention of the noisy ones.
#
# **Ancestral sampling** (`diffusion.ddpm_step`; "ancestral" because each sample is drawn from its parent in the
# chain) runs the reverse chain from x_T ~ N(0, I): at each step predict ε̂, turn it into x̂₀, **clamp x̂₀ to
# [−1, 1]** (the data's range; a guess from a very noisy x_t can be wild), and draw x_{t−1} ~ N(μ̃(x̂₀, x_t), β̃_t I)
# (a fresh standard normal z each step: x_{t−1} = μ̃ + √β̃_t z). The last step adds no noise. With fewer steps than
# T it jumps between the steps it visits with the jump formulas above.

# %%
print(inspect.getsource(diffusion.ddpm_step))

# %% [markdown]
# ## 4. A toy you can watch: the ring of eight Gaussians
#
# Lesson 09's ring, as 2-D points (radius 2, so we do not clamp: the clamp is for images in [−1, 1]). The network
# is `TimeMLP`: the point and sinusoidal features of t (section 5) into a small MLP that outputs ε̂ (N, 2). Its
# loss is `ddpm_loss`, exactly as for images.

# %%
print(inspect.getsource(diffusion.ddpm_loss))
minigen.manual_seed(0)
ring = Ring(train=True).data                                      # (10000, 2)
toy = TimeMLP(hidden=128)
toy_steps = fast_or_full(3000, 12000)
opt = optim.Adam(toy.parameters(), lr=3e-3)
decay = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=toy_steps)        # the rate falls to 0 along a cosine
losses = []
for step in range(toy_steps):
    batch = minigen.tensor(ring[rng.integers(0, len(ring), 256)])             # (256, 2)
    loss = diffusion.ddpm_loss(toy, batch, schedule=schedule)
    opt.zero_grad()
    loss.backward()
    opt.step()
    decay.step()
    losses.append(loss.item())
print(f"{toy_steps} steps: loss {np.mean(losses[:50]):.3f} (first 50) → {np.mean(losses[-200:]):.3f} (last 200)")
assert np.mean(losses[-200:]) < 0.8 * np.mean(losses[:50])

# %% [markdown]
# The loss does not go to zero, and it should not: at large t the noise in x_t is almost all of x_t and easy to
# predict, at small t it is a tiny part mixed with an unknown point, and no network can predict it exactly (the
# best it can do is the conditional mean). Now
# run the reverse process from 2,000 noise points, and keep the states on the way.

# %%
toy.train(False)
points, nfe, states = diffusion.sample(toy, (2000, 2), "ddpm", steps=200, seed=0, schedule=schedule,
                                       return_trajectory=True, clip=False)
shown = [0, 100, 150, 175, 190, 200]                       # state k: after k of the 200 steps
_ = viz.scatter_strip([states[k].numpy() for k in shown], [f"after {k} steps" for k in shown],
                      title=f"the reverse process on the ring ({nfe} network evaluations per point)")
found = metrics.ring_modes(points.numpy(), Ring.centers(), Ring.std)
radius = np.linalg.norm(points.numpy(), axis=1)
print(f"modes reached {found['modes_reached']} of 8, sharply covered {found['modes']} of 8, "
      f"high-quality share {found['high_quality']:.0%}, "
      f"median radius {np.median(radius):.3f} (data: 2)")
assert abs(np.median(radius) - 2) < 0.2 and found["modes_reached"] == 8

# %% [markdown]
# For most of the way the cloud stays a blob; the ring appears in the last quarter of the steps, where the SNR
# crosses 1 (section 2), and the points then move out to the eight modes. How *tightly* they land there (the
# high-quality share: points within three standard deviations, 0.06, of a centre; "sharply covered" counts the
# modes that hold at least 1 % of the points that way) is the hard part, because the modes are 50 times narrower
# than the noise: it grows with training (fast mode trains a quarter as long as full mode; compare the two). A
# few paths drawn whole:

# %%
paths = np.stack([s.numpy()[:12] for s in states])               # (201, 12, 2): 12 points through time
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(*ring[:2000].T, s=1, color="0.8")
for k in range(paths.shape[1]):
    ax.plot(*paths[:, k].T, lw=0.7)
    ax.scatter(*paths[-1, k], s=12, color="k")
ax.set_aspect("equal")
ax.set_title("12 points from noise to the ring (ancestral sampling)")
plt.show()

# %% [markdown]
# The paths are jagged: every ancestral step adds fresh noise √β̃_t z. Lesson 15's DDIM and lesson 16's flows
# follow smooth paths instead.
#
# ## 5. The U-Net, block by block
#
# For 28×28 images the network is a small **U-Net** (`minigen.models.UNet`): it goes down to 7×7 (3×3
# convolutions with stride 2, named `pool0` and `pool1` in the code) and back up,
# and joins each resolution on the way up to the same resolution on the way down (skips, by concatenation), so the
# fine detail that the noise hides at small t is still at hand. Its pieces:
#
# **Time.** The network must know how noisy x_t is. t becomes d sinusoidal features, [sin(t·ω_i), cos(t·ω_i)]
# for i = 0 … d/2 − 1 with frequencies ω_i = 10000^(−i/(d/2)) (d = 32 below; the U-Net uses d = c₀, its first
# width). Every t gets a distinct code, and nearby t get similar codes. An MLP turns them into an embedding e.

# %%
feats = time_embedding(minigen.tensor(np.arange(1000, dtype=np.float32)), 32).numpy()     # (1000, 32)
plt.figure(figsize=(7, 2.2))
plt.imshow(feats.T, aspect="auto", cmap="RdBu")
plt.xlabel("t")
plt.ylabel("feature")
plt.title("time_embedding(t, 32): sines then cosines, fast to slow")
plt.show()
near, far = feats[500] @ feats[501], feats[500] @ feats[900]
print(f"code similarity: t=500 with 501: {near:.1f}, with 900: {far:.1f} (of {feats[500] @ feats[500]:.0f})")
assert near > far

# %% [markdown]
# **Residual blocks.** `ResBlock`: GroupNorm → SiLU → 3×3 conv, then **the time embedding added as a bias per
# channel** (a linear map of e, broadcast over the pixels), GroupNorm → SiLU → 3×3 conv, plus the input (through
# a 1×1 conv when the channel count changes). GroupNorm normalises each image on its own, over 8 groups of
# channels (unlike lesson 06's batch norm, which uses the batch), so it behaves the same in training and in
# sampling. SiLU is x·sigmoid(x), a smooth ReLU. The second conv starts at zero, so each block starts out as its
# skip path (the identity, or the 1×1 conv).

# %%
print(inspect.getsource(ResBlock.forward))
block = ResBlock(16, 32, temb=64)
h = block(minigen.randn(4, 16, 14, 14), minigen.randn(4, 64))
print("ResBlock(16 → 32): (4, 16, 14, 14), e (4, 64) →", tuple(h.shape))

# %% [markdown]
# **The whole network.** Three resolutions (28, 14, 7), a middle at 7×7 (optionally with self-attention, which
# lets every position look at every other; the committed models go without), the way
# back up by nearest-neighbour ×2 then a 3×3 conv (lesson 05: no checkerboards), and a last conv (started at zero,
# so the untrained network predicts ε̂ = 0, the mean of ε). The shapes through the committed model's widths
# (32, 64, 64):

# %%
net = UNet(channels=(32, 64, 64), attention=False)
x_in, t_in = minigen.randn(2, 1, 28, 28), minigen.tensor([10.0, 900.0])
e_in = net.embed(t_in)                                                         # (2, 128)
s0 = net.down0(net.inp(x_in), e_in)
s1 = net.down1(net.pool0(s0), e_in)
s2 = net.down2(net.pool1(s1), e_in)
for name, v in (("time embedding e", e_in), ("skip 0 (28×28)", s0), ("skip 1 (14×14)", s1),
                ("skip 2 (7×7)", s2), ("output ε̂", net(x_in, t_in))):
    print(f"{name:18s} {tuple(v.shape)}")
print(f"parameters: {sum(p.numel() for p in net.parameters()):,}")

# %% [markdown]
# Train it briefly on MNIST with the loss of section 3 (a narrower network in fast mode). At the start the output
# is 0, so the loss is E‖ε‖²/D = 1; anything below 1 is learnt.

# %%
train_images, _ = digit_images("mnist", train=True, n=fast_or_full(2000, 20000))        # (N, 28, 28) in [0, 1]
train_x = 2 * train_images[:, None] - 1                                                   # (N, 1, 28, 28) in [−1, 1]
minigen.manual_seed(0)
small = UNet(channels=fast_or_full((16, 32, 32), (32, 64, 64)), attention=False)
opt = optim.Adam(small.parameters(), lr=1e-3)
unet_steps, unet_losses, tic = fast_or_full(40, 300), [], time.perf_counter()
for step in range(unet_steps):
    batch = minigen.tensor(train_x[rng.integers(0, len(train_x), 32)])                   # (32, 1, 28, 28)
    loss = diffusion.ddpm_loss(small, batch, schedule=schedule)
    opt.zero_grad()
    loss.backward()
    opt.step()
    unet_losses.append(loss.item())
print(f"{unet_steps} steps in {time.perf_counter() - tic:.0f} s: loss {unet_losses[0]:.3f} → "
      f"{np.mean(unet_losses[-10:]):.3f} (mean of the last 10)")
assert abs(unet_losses[0] - 1) < 0.15 and np.mean(unet_losses[-10:]) < 0.8

# %% [markdown]
# A few hundred steps are far from a model that draws digits: the committed one trained for 75 minutes (2,547 steps
# of 64 images, with the labels, which lesson 15 uses for guidance), with
#
#     minigen train ddpm --dataset mnist --conditional --channels 32,64,64 --batch-size 64 \
#         --epochs 40 --time-limit 75
#
# and kept an exponential moving average of its weights (EMA, decay 0.999) for sampling: an average over roughly
# the last 1/(1 − 0.999) = 1,000 steps' weights, which draws cleaner images than the last weights alone. Where
# does it find the task hard? Its loss by noise level, on test digits:

# %%
run = open_run(ROOT / "pretrained" / "ddpm-cond-mnist")
test_images, test_labels = digit_images("mnist", train=False, n=fast_or_full(64, 500))
centres, by_time = run.recipe.loss_by_time(2 * test_images[:, None] - 1, test_labels, bins=10)
plt.figure(figsize=(5, 2.8))
plt.plot(centres * 1000, by_time, marker="o")
plt.yscale("log")
plt.xlabel("step t")
plt.ylabel("‖ε − ε̂‖² (mean)")
plt.title("the committed model's loss by noise level")
plt.show()
print("loss at the least and the most noisy tenth of the steps:", np.round(by_time[[0, -1]], 4))
assert by_time[0] > by_time[-1]

# %% [markdown]
# Predicting the noise is hardest where there is little of it (small t: the noise is a small part of x_t and
# hides among the digit's own strokes) and easiest where x_t is almost all noise. (Hard to predict is not the
# same as important: an error in a tiny ε changes the image very little, which is why section 3's weight could
# be dropped.)
#
# ## 6. Samples and the reverse process from the committed model
#
# Sampling with all 1,000 steps would take 1,000 network evaluations per image. Lesson 15 derives DDIM, which
# uses the same trained network with 10 steps; here we use it to see the model's samples, with the labels
# (guidance weight 2, lesson 15; guidance runs the network twice per step) for one row per class.

# %%
per_class = fast_or_full(4, 8)
noise = np.random.default_rng(0).standard_normal((10 * per_class, 1, 28, 28)).astype(np.float32)
tic = time.perf_counter()
x, nfe, states = run.recipe.generate(noise, np.repeat(np.arange(10), per_class), sampler="ddim", steps=10,
                                     guidance=2.0, trajectory=True)
print(f"{len(x)} samples in {time.perf_counter() - tic:.1f} s, {nfe} network evaluations each")
_ = viz.image_grid((x[:, 0] + 1) / 2, nrow=per_class, title="DDIM, 10 steps, guidance 2: one row per class")

# %%
rows = [np.clip((states[k][:: per_class * 2, 0] + 1) / 2, 0, 1) for k in range(0, 11, 2)]     # 5 samples
fig, axes = plt.subplots(len(rows[0]), len(rows), figsize=(1.3 * len(rows), 1.3 * len(rows[0])))
for j, frame in enumerate(rows):
    for i, img in enumerate(frame):
        axes[i, j].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[i, j].axis("off")
    axes[0, j].set_title(f"after {2 * j} steps", fontsize=8)
fig.suptitle("the reverse process: x_t from noise to digit")
save_figure(fig, "14_reverse_process")
plt.show()

# %% [markdown]
# The digit appears only in the last three or four of the ten steps (t below about 330), where the SNR crosses 1
# (t ≈ 258, section 2); before that x_t is noise to the eye, though the network already steers it.
#
# ## 7. Exercises
#
# In `lessons/exercises/lesson14.py` (NumPy arrays in and out):
#
# - **14.1** `q_sample(x0, t, noise, alpha_bar)`: the closed form of section 1 for a batch, one step t per
#   example.
# - **14.2** `posterior(x0, x_t, t, betas)`: the mean and variance of q(x_{t−1} | x_t, x₀) of section 3, with
#   ᾱ_{−1} = 1.
#
# The checks compare with the reference answers, with minigen's `diffusion.q_sample` / `posterior`, and with
# things independent of both: iterating the one-step kernel, and the least-squares fit of section 3. Run
# `check(14, "exercises")` on your file; the cell below checks the reference answers.

# %%
check(14)
print(f"lesson time: {time.perf_counter() - started:.0f} s")
