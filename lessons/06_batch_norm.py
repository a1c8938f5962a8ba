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
# # Lesson 06 — Batch normalization
#
# **Time:** about 10 seconds in fast mode (the default) and about 20 seconds in full mode
# (`MINIGEN_LESSON_MODE=full`, which trains longer) on a 2-core CPU.
#
# Stack enough layers and the numbers flowing through them drift: each layer scales its input a little up or
# down, and after ten layers "a little" has become a factor of a million. Gradients drift the same way, and
# the network stops learning. **Batch normalization** (Ioffe and Szegedy, 2015) re-centres and re-scales
# every channel, at every step, using the statistics of the current batch. It makes deep networks trainable at
# high learning rates, and DCGAN's generator relies on it.
#
# This lesson shows the drift, builds the forward pass, explains the difference between training and
# evaluation, derives the backward pass and checks minigen's fused version of it against the same thing
# composed from simpler ops.

# %%
# %matplotlib inline
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import nn, optim
from minigen.demo import spirals
from minigen.nn import functional as F
from minigen.ops.norm import BatchNorm, batch_norm_composed
from course import FAST, check, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. The drift
#
# Ten dense layers with ReLU, at PyTorch's default initialisation, fed a batch of 256 standard normal inputs.
# What carries information about the input is how much each unit's value *differs between examples*. Below, that
# spread (the standard deviation over the batch, averaged over the units) after each layer, without and with a
# batch-norm layer before each ReLU:

# %%
def deep_net(batch_norm, depth=10, width=64):
    layers = [nn.Linear(2, width)]
    for _ in range(depth - 1):
        layers += ([nn.BatchNorm1d(width)] if batch_norm else []) + [nn.ReLU(), nn.Linear(width, width)]
    return nn.Sequential(*layers, nn.ReLU(), nn.Linear(width, 2))


minigen.manual_seed(0)
x = minigen.randn(256, 2)
plt.figure(figsize=(5.5, 3.2))
for batch_norm in (False, True):
    h, stds = x, []
    with minigen.no_grad():
        for layer in deep_net(batch_norm):
            h = layer(h)
            if isinstance(layer, nn.Linear):
                stds.append(float(h.std(0).mean().item()))   # spread over the batch, per unit
    plt.semilogy(range(1, len(stds) + 1), stds, "o-", label="with batch norm" if batch_norm else "plain")
plt.xlabel("layer"); plt.ylabel("spread over the batch"); plt.legend()
plt.title("the signal fades layer after layer")
plt.show()

# %% [markdown]
# Each default-initialised layer (weights uniform in ±1/√64) divides the variance by about 3, and ReLU halves
# what is left: the spread shrinks by about √6 ≈ 2.5 per layer, ten thousand times over ten layers. The
# output barely depends on the input any more, and the gradients flowing back to the first layers shrink the
# same way. Batch norm restores the scale at every layer.
#
# ## 2. The forward pass (training mode)
#
# For each channel c, over the m values of that channel in the batch (m = N for inputs (N, C), m = N·H·W for
# images (N, C, H, W)):
#
# - μ = mean(x), σ² = mean((x − μ)²) (the *biased* variance, dividing by m),
# - x̂ = (x − μ) / √(σ² + ε), which has mean 0 and variance (almost) 1,
# - y = γ·x̂ + β, with a learned scale γ and shift β per channel, so the layer can undo the normalization
#   where that helps.
#
# Computed by hand for (N, C) inputs, against `F.batch_norm`:

# %%
rng = np.random.default_rng(0)
xn = rng.normal(3.0, 2.0, size=(8, 4))                        # 8 examples, 4 channels: mean 3, std 2
gamma, beta = rng.standard_normal(4), rng.standard_normal(4)

mu = xn.mean(0)
var = ((xn - mu) ** 2).mean(0)
x_hat = (xn - mu) / np.sqrt(var + 1e-5)
by_hand = gamma * x_hat + beta
theirs = F.batch_norm(minigen.tensor(xn), None, None, minigen.tensor(gamma), minigen.tensor(beta), training=True)
print("x̂ per channel: mean", x_hat.mean(0).round(6) + 0.0, " std", x_hat.std(0).round(4))
print("largest difference from F.batch_norm:", np.abs(by_hand - theirs.numpy()).max())

# %% [markdown]
# ## 3. Training mode and evaluation mode
#
# In training mode an example's output depends on the *other* examples in its batch, through μ and σ². That is
# fine for training (it even acts as a little noise, a regularizer) but not for using the network: a
# prediction should not change with whatever else happens to be in the batch, and a batch of one has no
# variance at all.
#
# So the layer also keeps **running statistics**: after every training batch, running ← (1 − momentum)·running
# + momentum·batch statistic, with momentum 0.1 and the *unbiased* variance (σ²·m/(m − 1)) for the running
# estimate, as PyTorch does. In evaluation mode (`model.eval()`) it normalizes with those instead: an affine map
# per channel, the same for every example.

# %%
minigen.manual_seed(0)
bn = nn.BatchNorm1d(1)
example = minigen.tensor([[1.0]])
with minigen.no_grad():
    for batch_mean in (0.0, 5.0):
        batch = minigen.cat([example, minigen.randn(15, 1) + batch_mean])
        print(f"training mode, batch mates around {batch_mean}: the example's output is {bn(batch)[0, 0].item():+.3f}")

data_mean, data_std = 3.0, 2.0
means = []
with minigen.no_grad():
    for step in range(60):                                    # training batches update the running statistics
        bn(minigen.randn(32, 1) * data_std + data_mean)
        means.append(bn.running_mean.item())
bn.eval()
with minigen.no_grad():
    alone = bn(example)[0, 0].item()
    in_batch = bn(minigen.cat([example, minigen.randn(15, 1) + 5.0]))[0, 0].item()
print(f"after 60 batches: running mean {bn.running_mean.item():.3f} (data: {data_mean}), running var "
      f"{bn.running_var.item():.3f} (data: {data_std ** 2})")
print(f"evaluation mode: the example alone → {alone:+.3f}, in a batch → {in_batch:+.3f}")

plt.figure(figsize=(5, 2.6))
plt.plot(means, label="running mean"); plt.axhline(data_mean, color="0.6", ls="--", label="data mean")
plt.xlabel("training batches"); plt.legend(); plt.title("running statistics: momentum 0.1")
plt.show()

# %% [markdown]
# ## 4. The backward pass, derived
#
# Take one channel, write h = ∂L/∂x̂ = γ·g (where g = ∂L/∂y) and r = 1/√(σ² + ε). The easy ones first:
# **∂L/∂β = Σ g** and **∂L/∂γ = Σ g·x̂** (sums over the channel's m values).
#
# For x, the trap is that every x̂ⱼ depends on every xᵢ: directly, and through μ and σ². With ∂μ/∂xᵢ = 1/m and
# ∂σ²/∂xᵢ = 2(xᵢ − μ)/m,
#
# ∂x̂ⱼ/∂xᵢ = r·(δᵢⱼ − 1/m) − (xⱼ − μ)·r³·(xᵢ − μ)/m = r·(δᵢⱼ − 1/m − x̂ᵢx̂ⱼ/m).
#
# Summing over j with the weights hⱼ:
#
# **∂L/∂xᵢ = r · (hᵢ − mean(h) − x̂ᵢ · mean(h·x̂))**.
#
# Three terms: the plain gradient, minus its mean (because shifting all x together changes nothing after
# centring), minus its component along x̂ (because scaling all x together changes nothing after dividing by σ).
# Computing this directly is much cheaper than letting autograd run through the dozen small ops of the forward
# pass. minigen's `BatchNorm` function is exactly this formula (exercise 6.1 asks you to write it in NumPy):

# %%
print(inspect.getsource(BatchNorm.backward))

# %% [markdown]
# ## 5. The fused version against the composed one
#
# A hand-derived backward needs a check that does not share its derivation. `batch_norm_composed` writes the
# forward with `mean`, `sub`, `sqrt`, `div`, each already gradient-checked, so autograd derives its backward
# for us. The two must agree, for any upstream gradient; the fused one must also pass `gradcheck` and
# `gradgradcheck` (its backward is written with tensor ops, and recomputes x̂ when a graph is requested):

# %%
x = minigen.tensor(rng.standard_normal((6, 3, 4, 4)), requires_grad=True)
w = minigen.tensor(rng.standard_normal(3), requires_grad=True)
b = minigen.tensor(rng.standard_normal(3), requires_grad=True)
g = minigen.tensor(rng.standard_normal((6, 3, 4, 4)))         # a random upstream gradient, never ones

fused = minigen.grad(F.batch_norm(x, None, None, w, b, training=True), (x, w, b), grad_outputs=g)
composed = minigen.grad(batch_norm_composed(x, w, b, 1e-5), (x, w, b), grad_outputs=g)
for name, a, c in zip("xγβ", fused, composed):
    print(f"∂L/∂{name}: fused vs composed, largest difference {np.abs(a.numpy() - c.numpy()).max():.1e}")

small = [minigen.tensor(rng.standard_normal(s), requires_grad=True) for s in ((4, 2, 2, 2), (2,), (2,))]
print("gradcheck:", minigen.gradcheck(lambda *t: F.batch_norm(t[0], None, None, t[1], t[2], training=True), small))
print("gradgradcheck:", minigen.gradgradcheck(lambda *t: F.batch_norm(t[0], None, None, t[1], t[2], training=True),
                                              small))

xs = minigen.randn(64, 64, 14, 14, requires_grad=True)
ws, bs = minigen.ones(64, requires_grad=True), minigen.zeros(64, requires_grad=True)
gs = minigen.randn(64, 64, 14, 14)
for name, fn in (("fused", lambda: F.batch_norm(xs, None, None, ws, bs, training=True)),
                 ("composed", lambda: batch_norm_composed(xs, ws, bs, 1e-5))):
    started = time.perf_counter()
    fn().backward(gs)
    print(f"{name:9} forward + backward on (64, 64, 14, 14): {1e3 * (time.perf_counter() - started):6.1f} ms")

# %% [markdown]
# (And a reminder from lesson 02: each channel of x̂ sums to zero whatever x is, so `bn(x).sum()` has gradient
# zero and a check seeded with `.sum()` would pass almost any backward. Here the upstream gradient is random.)
#
# ## 6. What it buys: a deep network that trains
#
# The ten-layer network of section 1 on lesson 03's spirals, with SGD and momentum at learning rate 0.1, without
# and with batch norm:

# %%
points, labels = spirals(400)
x, y = minigen.tensor(points), minigen.tensor(labels.astype(np.int64))
plt.figure(figsize=(5.5, 3.2))
for batch_norm in (False, True):
    minigen.manual_seed(0)
    model = deep_net(batch_norm)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for step in range(fast_or_full(100, 1000)):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with minigen.no_grad():
        accuracy = (model(x).argmax(1).numpy() == labels).mean()
    name = "with batch norm" if batch_norm else "plain"
    print(f"{name:16} loss {losses[0]:.3f} → {losses[-1]:.4f}, accuracy (eval mode) {accuracy:.1%}")
    plt.semilogy(losses, label=name)
plt.xlabel("step"); plt.ylabel("cross-entropy"); plt.legend(); plt.title("a 10-layer network on the spirals")
save_figure(plt.gcf(), "06_deep_training")
plt.show()

# %% [markdown]
# The plain network never leaves log 2 ≈ 0.69, the loss of a coin toss: its gradients are too small to move
# the first layers. With batch norm the same network learns the spirals.
#
# ## 7. Why GANs use it, and where they do not
#
# A GAN's generator turns noise into images through a stack of (transposed) convolutions, trained only through
# the discriminator's opinion: a weak, shifting signal, exactly where drifting scales hurt most. DCGAN
# (Radford, Metz and Chintala, 2016) found batch norm essential to train deep generators at all: without it, the
# generator tends to map every noise vector to the same image early in training. Its rules, which minigen's GAN
# models follow:
#
# - batch norm after every layer of the generator **except its output** (tanh needs its own scale), and in the
#   discriminator's inner layers, **never on its input** (that would erase the statistics it must judge).
#   minigen's DCGAN discriminator (`minigen/models/dcgan.py`) has only two convolutions and uses dropout instead;
# - where the discriminator has batch norm, give it **separate batches of real and of fake images**: in a mixed
#   batch it could tell them apart by the batch statistics instead of by looking;
# - **no batch norm in WGAN-GP's critic**: its gradient penalty is a property of each example on its own, and
#   batch norm ties every example's output to the rest of its batch (`minigen/models/wgan_gp.py`).
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson06.py`; the reference answers are in `lessons/solutions/lesson06.py`.
#
# **6.1 The backward in NumPy.** Write `batch_norm_backward(x, gamma, g, eps=1e-5)` returning (∂L/∂x, ∂L/∂γ,
# ∂L/∂β) for training-mode batch norm of x with shape (N, C) or (N, C, H, W), from section 4's formula. The
# cell below compares it with autograd:

# %%
lesson06 = exercise_module(6)
xn, gn, gamma = rng.standard_normal((5, 3, 2, 2)), rng.standard_normal((5, 3, 2, 2)), rng.standard_normal(3)
xt, wt = minigen.tensor(xn, requires_grad=True), minigen.tensor(gamma, requires_grad=True)
bt = minigen.zeros(3, dtype=minigen.float64, requires_grad=True)
F.batch_norm(xt, None, None, wt, bt, training=True).backward(minigen.tensor(gn))
for name, mine, autograd in zip("xγβ", lesson06.batch_norm_backward(xn, gamma, gn), (xt.grad, wt.grad, bt.grad)):
    print(f"∂L/∂{name}: largest difference from autograd {np.abs(mine - autograd.numpy()).max():.1e}")

# %% [markdown]
# **6.2 Fix a broken layer.** `BatchNorm1d` in the exercise file updates its running statistics correctly, and
# in training mode it matches `nn.BatchNorm1d`. But its evaluation mode has the very flaw section 3 describes.
# Find it and fix it (compare an example's output alone and in a batch, after `.eval()`).
#
# **Run the checks.** `python -m pytest -m lesson06` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson06` against your file. From here: `check(6, "exercises")`.

# %%
check(6)
