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
# # Lesson 09 — The GAN
#
# **Time:** about 25 seconds in fast mode (the default: a few thousand steps of tiny networks on 2-D points,
# and a glimpse of the image GAN on 1,000 embedded digits) and about 4 minutes in full mode
# (`MINIGEN_LESSON_MODE=full`: longer runs on the points, then the MLP GAN for 3 epochs on MNIST's 60,000
# images, found through `$MINIGEN_DATA`, `data/` or downloaded) on a 2-core CPU.
#
# The VAE of lesson 08 learned by maximising a bound on how likely each training image is. A **generative
# adversarial network** (Goodfellow et al., 2014) never computes a likelihood. It pits two networks against each
# other: a **generator** G turns random noise z into a sample, and a **discriminator** D looks at a sample and
# says how sure it is that the sample is real. D learns to catch G's fakes; G learns to fool D. When neither can
# improve, G's samples are distributed like the data.
#
# We play the game on a toy first, 2-D points drawn from eight Gaussians on a circle, where we can see every
# sample at once and count what G has learned, then on digits. Along the way: the discriminator the game is
# aiming for, why G's loss as the game writes it fails in practice and what replaces it, and **mode collapse**,
# the GAN's best-known failure.

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import data, metrics, optim, viz
from minigen.data import Ring
from minigen.models import Discriminator, Generator, ToyDiscriminator, ToyGenerator
from minigen.models.gan import discriminator_loss, generator_loss
from minigen.nn import functional as F
from course import FAST, check, digit_images, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. Two networks and a game
#
# The data: `minigen.data.Ring`, points x = 2·(cos θₖ, sin θₖ) + 0.02·ε with θₖ = 2πk/8 and k drawn uniformly
# from 0..7. Eight sharp, well-separated **modes**. The two players are small MLPs (lesson 03's dense layers):
# G maps a 2-D noise vector z ∼ N(0, I) to a point, D maps a point to one number, a **logit** a, whose sigmoid
# σ(a) is D's probability that the point is real. We write D(x) for that probability.

# %%
ring = Ring(train=True)                                       # 10,000 points, (N, 2) float32
centers = Ring.centers()                                      # the 8 mode centres, (8, 2)
minigen.manual_seed(0)
G, D = ToyGenerator(latent_dim=2), ToyDiscriminator()        # z (N, 2) → 128 → 128 → x (N, 2);  x → 128 → 128 → 1
print(G, D, sep="\n")
z = minigen.randn(5, 2)
print("noise", z.shape, "→ points", G(z).shape, "→ logits", D(G(z)).shape)

fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(*ring.data[:2000].T, s=3, alpha=0.4, label="real")
with minigen.no_grad():
    ax.scatter(*G(minigen.randn(2000, 2)).numpy().T, s=3, alpha=0.4, label="G(z), untrained")
ax.set_aspect("equal"); ax.legend(loc="upper right"); ax.set_title("the ring, and G before training")
plt.show()

# %% [markdown]
# The game has one value, which D tries to make large and G small:
#
# V(D, G) = E_data[log D(x)] + E_z[log(1 − D(G(z)))],  x ∼ p_data under E_data, z ∼ N(0, I) under E_z.
#
# The first term rewards D for saying "real" (D(x) → 1) on data; the second for saying "fake" (D(G(z)) → 0)
# on G's samples. G only appears in the second term, and lowers it by making D(G(z)) large: by fooling D.
# Training is min over G of max over D of V, approximated by alternating gradient steps: a step of D up the
# gradient of V, then a step of G down it.
#
# ## 2. The best discriminator
#
# Fix G, and let p_g be the distribution of its samples G(z). Then both expectations are integrals over x:
#
# V(D, G) = ∫ [p_data(x)·log D(x) + p_g(x)·log(1 − D(x))] dx.
#
# D can choose its value at every x separately, and a·log y + b·log(1 − y) is largest over y ∈ (0, 1) where its
# derivative a/y − b/(1 − y) is 0, at y = a/(a + b). So the best discriminator is
#
# D*(x) = p_data(x) / (p_data(x) + p_g(x)),
#
# the probability that a point found at x came from the data rather than from G, when both are equally common.
# Put it back in V, with the mixture m = (p_data + p_g)/2:
#
# V(D*, G) = E_data[log (p_data / 2m)] + E_g[log (p_g / 2m)] = KL(p_data ‖ m) + KL(p_g ‖ m) − log 4
#          = 2·JS(p_data ‖ p_g) − log 4,
#
# where JS is the **Jensen–Shannon divergence**, 0 only when p_g = p_data. So against a perfect D, G is
# minimising a distance between its distribution and the data's, and the game's solution is p_g = p_data, where
# D* = ½ everywhere and V = −log 4.
#
# A numerical check in one dimension: p_data = N(0, 1), p_g = N(2, 0.5²), and D a small network trained with
# the loss of section 4 on samples of each. Where it has seen samples, it finds D*:

# %%
def density(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


minigen.manual_seed(0)
rng = np.random.default_rng(0)
D1 = ToyDiscriminator(hidden=64, inp=1)                       # x (N, 1) → logit (N, 1)
opt = optim.Adam(D1.parameters(), lr=2e-3)
for step in range(fast_or_full(400, 2000)):
    real = minigen.tensor(rng.normal(0.0, 1.0, (256, 1)).astype(np.float32))
    fake = minigen.tensor(rng.normal(2.0, 0.5, (256, 1)).astype(np.float32))
    loss = discriminator_loss(D1(real), D1(fake))           # = −V(D, G), estimated on the two batches
    opt.zero_grad()
    loss.backward()
    opt.step()

x = np.linspace(-3, 4, 281, dtype=np.float32)
p, q = density(x, 0.0, 1.0), density(x, 2.0, 0.5)
with minigen.no_grad():
    d_trained = D1(minigen.tensor(x[:, None])).sigmoid().numpy()[:, 0]
d_star = p / (p + q)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
left.plot(x, p, label="p_data = N(0, 1)"); left.plot(x, q, label="p_g = N(2, 0.5²)")
left.set_title("two densities"); left.legend()
right.plot(x, d_star, lw=3, alpha=0.5, label="D*(x) = p_data / (p_data + p_g)")
right.plot(x, d_trained, "--", label=f"trained D, {step + 1} steps")
right.set_title("the optimal discriminator"); right.set_ylim(0, 1); right.legend()
plt.show()

grid = np.linspace(-12, 12, 200_001)                          # a wide, fine grid for the integrals
pg, qg = density(grid, 0.0, 1.0), density(grid, 2.0, 0.5)
m = (pg + qg) / 2
with np.errstate(divide="ignore", invalid="ignore"):
    kl_pm = np.nansum(pg * np.log(pg / m)) * (grid[1] - grid[0])
    kl_qm = np.nansum(qg * np.log(qg / m)) * (grid[1] - grid[0])
    v_star = np.nansum(pg * np.log(pg / (pg + qg)) + qg * np.log(qg / (pg + qg))) * (grid[1] - grid[0])
js = (kl_pm + kl_qm) / 2
print(f"V(D*, G) = {v_star:.4f} = 2·JS − log 4 = 2·{js:.4f} − {np.log(4):.4f} = {2 * js - np.log(4):.4f}")
print(f"V(trained D, G) ≈ {-loss.item():.4f} on the last batches (at most V(D*, G), up to sampling noise)")

# %% [markdown]
# ## 3. What G learns from: the saturating loss and its fix
#
# Write a for D's logit on a generated point, so D(G(z)) = σ(a). G's term of the game is log(1 − σ(a)) and G
# follows its gradient with respect to a, then on through D and G by the chain rule:
#
# ∂/∂a log(1 − σ(a)) = −σ(a) = −D(G(z)).
#
# Early in training G's samples are poor and D rejects them easily: D(G(z)) ≈ 0, so this gradient is ≈ 0, and
# G learns almost nothing exactly when it has the most to learn. The loss **saturates**. Goodfellow et al.'s fix
# is to change G's objective, not the game's fixed point: instead of minimising log(1 − D(G(z))), G maximises
# log D(G(z)), i.e. minimises the **non-saturating** loss
#
# −log σ(a),  with gradient ∂/∂a = −(1 − σ(a)) = −(1 − D(G(z))),
#
# which is largest exactly when D wins. Both push D(G(z)) up, and the game's solution (p_g = p_data, D = ½
# everywhere, so no gradient at all) is a resting point of both. Here are both losses and their gradients, the
# gradients computed by minigen's backward:

# %%
a = minigen.tensor(np.linspace(-12, 12, 481), requires_grad=True)     # logits D gives to fakes
d_of_g = a.sigmoid().detach().numpy()                                   # D(G(z)) = σ(a)
minimax = -F.softplus(a)                      # log(1 − σ(a)) = −softplus(a) (section 4), G's loss in the game
minimax.sum().backward()
grad_minimax = a.grad.numpy().copy()
a.grad = None
non_saturating = F.softplus(-a)               # −log σ(a) = softplus(−a)
non_saturating.sum().backward()
grad_non_saturating = a.grad.numpy().copy()

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
left.plot(d_of_g, minimax.detach().numpy(), label="minimax: log(1 − D(G(z)))")
left.plot(d_of_g, non_saturating.detach().numpy(), label="non-saturating: −log D(G(z))")
left.set_xscale("log"); left.set_ylim(-6, 10); left.set_xlabel("D(G(z))"); left.set_title("G's loss")
left.legend()
right.plot(d_of_g, np.abs(grad_minimax), label="minimax: |∂/∂a| = D(G(z))")
right.plot(d_of_g, np.abs(grad_non_saturating), label="non-saturating: |∂/∂a| = 1 − D(G(z))")
right.set_xscale("log"); right.set_yscale("log"); right.set_ylim(1e-5, 2); right.set_xlabel("D(G(z))")
right.set_title("the gradient G receives, per unit of D's logit"); right.legend()
right.axvspan(d_of_g.min(), 1e-2, color="0.9")
right.text(2e-5, 2e-3, "early training:\nD rejects the fakes", fontsize=9)
plt.show()

# %% [markdown]
# ## 4. The losses, on logits
#
# Both players' losses are binary cross-entropies (lesson 07): D's is the cross-entropy of "real" labels (1) on
# the data plus "fake" labels (0) on the fakes, G's non-saturating one is the cross-entropy of "real" labels on
# the fakes. Written with probabilities they would compute log σ(a), which is log 0 = −∞ as soon as σ(a) rounds
# to 0 in float32 (a ≤ −104), and D does become that sure. On logits they never take the log of a small
# number:
#
# −log σ(a) = softplus(−a),  −log(1 − σ(a)) = softplus(a),  softplus(a) = log(1 + eᵃ) = max(a, 0) + log(1 + e^(−|a|)).
#
# That is `binary_cross_entropy_with_logits`, and these are minigen's GAN losses (exercise 9.1 asks you to write
# them with softplus). At the game's solution D says ½ everywhere (a = 0), and D's loss is 2·log 2 ≈ 1.386:

# %%
print(inspect.getsource(discriminator_loss))
print(inspect.getsource(generator_loss))
sure = minigen.tensor([[-200.0], [0.0], [200.0]])                     # float32 logits
with np.errstate(divide="ignore"):
    print("−log σ(a) from probabilities:", (-sure.sigmoid().log()).numpy().ravel())
print("softplus(−a), on logits:      ", F.softplus(-sure).numpy().ravel())
print(f"at a = 0 everywhere: D's loss {discriminator_loss(minigen.zeros(4, 1), minigen.zeros(4, 1)).item():.4f}, "
      f"G's loss {generator_loss(minigen.zeros(4, 1)).item():.4f} (log 2 = {np.log(2):.4f})")

# %% [markdown]
# ## 5. The training step
#
# One step of the game, D first (as minigen's GAN recipe does it, `minigen/recipes/gan.py`):
#
# 1. draw noise z and make a batch of fakes G(z);
# 2. **D's step**: the loss on a real batch and on the fakes, with the fakes **detached**. D's loss must move D
#    only; without `detach()` its backward would also run through G and leave gradients there (harmless only if
#    G's gradients are reset before G's own backward, and wasted work either way);
# 3. **G's step**: the non-saturating loss of the fakes through the *updated* D, with D's parameters **frozen**
#    (`D.requires_grad_(False)` sets `requires_grad` to False on each of D's parameters, and `True` puts it back
#    afterwards), so that this backward computes gradients for G only.
#
# Adam moves each parameter along a running average of its recent gradients (its momentum), divided by the root
# of a running average of their squares; `betas=(β₁, β₂)` says how much of each average a step keeps. The default
# β₁ = 0.9 averages over roughly the last 10 gradients, β₁ = 0.5 over the last 2, and 0.5 is the usual choice
# for GANs (Radford et al., 2016): each player's target moves as the other learns, and a long memory of old
# gradients points the wrong way. Here is the loop, with a few numbers recorded along the way: D's mean output
# on real points and on fakes, and G's points for a fixed batch of noise, to watch how they move.

# %%
def train_ring(G, D, steps, lr_g=2e-4, lr_d=2e-4, minimax=False, batch=64, every=100, seed=0):
    """Train G and D on the ring. Returns G's points for 1,000 fixed noise vectors every ``every`` steps
    ({step: (1000, 2)}) and the curves {name: (steps, values)}."""
    opt_g = optim.Adam(G.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=lr_d, betas=(0.5, 0.999))
    rng = np.random.default_rng(seed)
    fixed_z = minigen.randn(1000, G.latent_dim)
    snapshots, curves = {}, {name: ([], []) for name in ("D loss", "G loss", "D(x)", "D(G(z))")}
    for step in range(1, steps + 1):
        real = minigen.tensor(ring.data[rng.integers(0, len(ring), batch)])        # (64, 2)
        fake = G(minigen.randn(batch, G.latent_dim))                                 # (64, 2)

        real_logits, fake_logits = D(real), D(fake.detach())                        # (64, 1) each
        loss_d = discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        D.requires_grad_(False)
        logits = D(fake)
        loss_g = -F.softplus(logits).mean() if minimax else generator_loss(logits)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)

        for name, value in zip(curves, (loss_d.item(), loss_g.item(), real_logits.sigmoid().mean().item(),
                                        fake_logits.sigmoid().mean().item())):
            curves[name][0].append(step)
            curves[name][1].append(value)
        if step % every == 0:
            with minigen.no_grad():
                snapshots[step] = G(fixed_z).numpy()
    return snapshots, curves


def smooth(xs, ys, k=50):
    """A moving average over k steps (single steps of a GAN are noisy): (steps, values) → the same, shorter."""
    return xs[k - 1:], np.convolve(ys, np.ones(k) / k, mode="valid")


def modes(points):
    """minigen.metrics.ring_modes: modes covered sharply (≥ 1 % of the points within 3σ = 0.06 of the centre)
    and modes reached (the nearest centre of ≥ 1/32 of the points)."""
    return metrics.ring_modes(points, centers, Ring.std)


def show_ring(snapshots, steps, title):
    fig, axes = plt.subplots(1, len(steps), figsize=(2.6 * len(steps), 2.9))
    for ax, step in zip(axes, steps):
        found = modes(snapshots[step])
        ax.scatter(*ring.data[:1000].T, s=2, c="0.75")
        ax.scatter(*snapshots[step].T, s=2, c="tab:orange", alpha=0.5)
        ax.set_xlim(-3, 3); ax.set_ylim(-3, 3); ax.set_aspect("equal"); ax.set_xticks([]); ax.set_yticks([])
        ax.set_title(f"step {step}: {found['modes']} sharp,\n{found['modes_reached']} reached", fontsize=9)
    fig.suptitle(title, y=1.04)
    return fig

# %% [markdown]
# ## 6. Saturation, seen
#
# Give D a head start: train it alone for 300 steps against the untrained G, so it rejects G's points with
# near certainty, the situation early training is in on real data. Then look at the gradient each loss sends
# into G's weights on the same batch, and train two copies of this pair, one with each loss:

# %%
minigen.manual_seed(1)
G0, D0 = ToyGenerator(2), ToyDiscriminator()
opt = optim.Adam(D0.parameters(), lr=1e-3, betas=(0.5, 0.999))
rng = np.random.default_rng(1)
for step in range(300):
    real = minigen.tensor(ring.data[rng.integers(0, len(ring), 64)])
    with minigen.no_grad():
        fake = G0(minigen.randn(64, 2))
    loss = discriminator_loss(D0(real), D0(fake))
    opt.zero_grad()
    loss.backward()
    opt.step()

z = minigen.randn(512, 2)
with minigen.no_grad():
    print(f"after D's head start: mean D(x) = {D0(minigen.tensor(ring.data[:512])).sigmoid().mean().item():.3f}, "
          f"mean D(G(z)) = {D0(G0(z)).sigmoid().mean().item():.5f}")
for name, loss_of in (("minimax", lambda a: -F.softplus(a).mean()), ("non-saturating", generator_loss)):
    G0.zero_grad()
    loss_of(D0(G0(z))).backward()
    norm = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in G0.parameters()))
    print(f"{name:>15} loss: ‖gradient for G's weights‖ = {norm:.5f}")
D0.zero_grad()

runs = {}
for name, minimax in (("minimax", True), ("non-saturating", False)):
    G, D = ToyGenerator(2), ToyDiscriminator()
    # state_dict(): every parameter by name; load_state_dict copies those values into a network of the same shape
    G.load_state_dict(G0.state_dict()); D.load_state_dict(D0.state_dict())            # the same start
    minigen.manual_seed(2)
    runs[name] = train_ring(G, D, fast_or_full(400, 1500), lr_d=1e-3, minimax=minimax, every=20, seed=2)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
for name, (snapshots, curves) in runs.items():
    steps = sorted(snapshots)
    left.plot(steps, [np.abs(np.linalg.norm(snapshots[s], axis=1) - Ring.radius).mean() for s in steps], label=name)
    right.plot(*curves["D(G(z))"], label=name, lw=0.8)
left.set_yscale("log"); left.set_xlabel("step"); left.set_title("G's points: mean distance from the circle")
left.legend()
right.set_xlabel("step"); right.set_title("mean D(G(z)) on the training batch"); right.legend()
plt.show()

# %% [markdown]
# Against D's head start the minimax loss hands G a gradient about a thousand times smaller than the
# non-saturating one, in proportion to D(G(z)), as section 3's plot says. Adam softens the blow: it divides each
# step by a running average of the gradient's size, so both Gs lift D(G(z)) off the floor within a few dozen
# steps (right). (Plain SGD takes the size at face value: there the minimax G would start a thousand times
# slower.) The difference that remains is *which* fakes G listens to. The minimax gradient weighs each fake by
# D(G(z)), so it listens to the fakes D already half believes and ignores the ones D rejects; the
# non-saturating gradient weighs them by 1 − D(G(z)), the other way round. On the left, the non-saturating G
# reaches the circle much sooner. Every GAN in minigen uses the non-saturating loss.
#
# ## 7. Training on the ring
#
# Now a fresh pair from the start, with equal learning rates (5e-4, a little above the 2e-4 minigen's MLP GAN
# uses, so that fast mode gets somewhere in 1,500 steps):

# %%
minigen.manual_seed(0)
G, D = ToyGenerator(2), ToyDiscriminator()
steps = fast_or_full(1500, 10000)
snapshots, curves = train_ring(G, D, steps, lr_g=5e-4, lr_d=5e-4, every=steps // 10)
shown = [steps // 10, 2 * steps // 10, 4 * steps // 10, 7 * steps // 10, steps]
fig = show_ring(snapshots, shown, "real (grey) and generated (orange) points over training, lr 5e-4 for both")
plt.show()

fig = viz.loss_panels({"losses": {k: smooth(*curves[k]) for k in ("D loss", "G loss")},
                       "D's mean output": {k: smooth(*curves[k]) for k in ("D(x)", "D(G(z))")}},
                      title="the ring, moving averages over 50 steps")
plt.show()

# %% [markdown]
# G first spreads its points over the whole circle (all 8 modes *reached*: each is the nearest centre of many
# points), then gathers them into the eight sharp clusters (modes covered *sharply*: at least 1 % of the points
# within 3 standard deviations, 0.06, of a centre), which takes longer. The curves do not fall like a
# classifier's: D's loss stays near, a little below, 2·log 2 ≈ 1.39 (its value at the game's solution) and its
# outputs near ½, because every time D improves, G catches up. A GAN's losses say whether the game is balanced,
# not how good the samples are; for that we look at the samples, and, in lesson 10, measure them.
#
# ## 8. Mode collapse
#
# Now the same game with G learning ten times faster than D (learning rates 5e-3 and 5e-4):

# %%
minigen.manual_seed(0)
G, D = ToyGenerator(2), ToyDiscriminator()
collapse_steps = fast_or_full(1200, 3000)
collapsed, _ = train_ring(G, D, collapse_steps, lr_g=5e-3, lr_d=5e-4, every=collapse_steps // 24)
shown = sorted(collapsed)[3::4]
fig = show_ring(collapsed, shown, "G ten times faster than D: real (grey) and generated (orange)")
plt.show()


def mode_shares(snapshots):
    """For each snapshot, the share of G's points whose nearest centre is each mode: (8, snapshots)."""
    nearest = [np.argmin(((p[:, None] - centers[None]) ** 2).sum(-1), 1) for p in snapshots.values()]
    return np.stack([np.bincount(n, minlength=8) / len(n) for n in nearest], axis=1)


fig, axes = plt.subplots(1, 2, figsize=(11, 3))
for ax, (title, shots) in zip(axes, (("balanced (section 7)", snapshots), ("G ten times faster", collapsed))):
    image = ax.imshow(mode_shares(shots), aspect="auto", cmap="magma", vmin=0, vmax=1,
                      extent=(0, max(shots), 7.5, -0.5))
    ax.set_xlabel("step"); ax.set_ylabel("mode"); ax.set_title(title)
fig.colorbar(image, ax=axes, label="share of G's points")
fig.suptitle("which mode G's points are nearest, over training", y=1.02)
save_figure(fig, "09_mode_collapse")
plt.show()

# %% [markdown]
# G puts nearly all its points in one place, near one or two modes (and not even sharply on them); D learns
# to call that spot fake; G moves all its points to another mode, which D has stopped watching; and round it
# goes (right: one bright cell per column, jumping between rows). At any moment most of the ring is missing,
# though over time G visits all of it. This is **mode collapse** (or the "Helvetica scenario", in Goodfellow's
# tutorial), and the game explains it. The theory of section 2 assumes D is at its best D* for the current G.
# Against a *fixed* D, the best G is not a copy of the data: it is to put every sample at the single point D
# likes most. Alternating gradient steps do not really compute min_G max_D; when G moves much faster than D they
# behave more like max_D min_G, whose inner step is exactly this: G collapses onto D's favourite point, and D
# chases it.
#
# Nothing in the losses warns about it (D's loss can look healthy throughout); one has to look at the samples,
# or count them, as the mode counts do here and lesson 10's class shares do for digits. What helps: keeping D
# at least as fast as G, as in section 7, Adam's β₁ = 0.5, batch norm in G (lesson 10), and in lesson 12 a
# different game (WGAN-GP) whose critic gives useful gradients everywhere. How robust is the picture? With seeds
# 0, 1 and 2, the fast G never reaches more than 4 modes at once (mostly 1 or 2) in 1,200 steps, while with
# balanced rates every seed reaches all 8 within 300 steps and then sharpens them, slowly and unevenly (2 to 8
# sharp modes at step 1,500).
#
# ## 9. From points to digits
#
# The MLP GAN of `minigen.models.gan` is the same game on 28×28 images: G maps 100 noise numbers through
# 256, 512 and 1024 units to 784 pixels with a tanh at the end (images in [−1, 1], so the data is scaled to
# match), D maps 784 pixels through 1024, 512 and 256 units to one logit, with LeakyReLU(0.2) (a leaky slope
# keeps gradients flowing back to G where ReLU would cut them) and dropout (`nn.Dropout(0.3)`: in training mode
# it zeroes each unit's output with probability 0.3 and scales the rest by 1/0.7, so that D cannot lean on a few
# units and memorise the training images; `eval()` switches it off). In full mode it trains for 3
# epochs on MNIST; fast mode runs a quarter-width version for 150 steps on 1,000 embedded digits, enough to
# check that the code runs and to see where G starts, not to see digits.

# %%
DATASET = fast_or_full("digits", "mnist")
images, _ = digit_images(DATASET, train=True, n=fast_or_full(1000, None))            # (N, 28, 28) in [0, 1]
images = (images * 2 - 1)[:, None]                                                   # (N, 1, 28, 28) in [−1, 1]
loader = data.DataLoader(data.TensorDataset(images), batch_size=64, shuffle=True, seed=0,
                         drop_last=True)                                 # skip each epoch's last, smaller batch
minigen.manual_seed(0)
G = Generator(100, hidden=fast_or_full((64, 128, 256), (256, 512, 1024)))
D = Discriminator(hidden=fast_or_full((256, 128, 64), (1024, 512, 256)))
print(f"G {G.num_parameters():,} and D {D.num_parameters():,} parameters; {len(loader)} steps per epoch")
opt_g = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
fixed_z = minigen.randn(64, 100)
image_curves = {name: ([], []) for name in ("D loss", "G loss", "D(x)", "D(G(z))")}
total_steps = fast_or_full(150, 3 * len(loader))
step = 0
while step < total_steps:
    for (x,) in loader:
        fake = G(minigen.randn(x.shape[0], 100))                                     # (64, 1, 28, 28)
        real_logits, fake_logits = D(x), D(fake.detach())
        loss_d = discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)
        loss_g = generator_loss(D(fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
        step += 1
        for name, value in zip(image_curves, (loss_d.item(), loss_g.item(), real_logits.sigmoid().mean().item(),
                                              fake_logits.sigmoid().mean().item())):
            image_curves[name][0].append(step)
            image_curves[name][1].append(value)
        if step % fast_or_full(50, len(loader)) == 0:
            print(f"step {step}: D loss {loss_d.item():.3f}, G loss {loss_g.item():.3f}, "
                  f"D(x) {image_curves['D(x)'][1][-1]:.2f}, D(G(z)) {image_curves['D(G(z))'][1][-1]:.2f}")
        if step == total_steps:
            break

G.eval()
with minigen.no_grad():
    samples = (G(fixed_z).numpy() + 1) / 2                                           # back to [0, 1]
fig = viz.image_grid(samples, nrow=16, title=f"MLP GAN after {total_steps} steps on {DATASET}")
plt.show()
k = fast_or_full(10, 100)
fig = viz.loss_panels({"losses": {n: smooth(*image_curves[n], k) for n in ("D loss", "G loss")},
                       "D's mean output": {n: smooth(*image_curves[n], k) for n in ("D(x)", "D(G(z))")}},
                      title=f"MLP GAN on {DATASET}, moving averages over {k} steps")
plt.show()

# %% [markdown]
# In fast mode the samples are one grey, speckled blob where the digits would be, nearly the same for every
# z: 150 steps is the very beginning. After 3 epochs on MNIST (full mode) you see section 8 again, on images:
# **mode collapse**. Nearly every z gives the same speckled 1 (or 7), D(x) is near 1 and D(G(z)) near 0, and
# D's loss heads for 0: D has won, and G's gradients push every sample the same way. This is not a bug in
# minigen: PyTorch with the same networks, rates and batch size collapses the same way within 5 epochs (the
# project's notes record it). The MLP also has no idea that neighbouring pixels belong together, and must learn
# every stroke at every position separately. Lesson 10 replaces both networks with convolutions (DCGAN) and
# measures the result; lesson 12's WGAN-GP attacks the collapse itself.
#
# The command line trains the same models with a run directory of pictures (samples from fixed noise every
# epoch, an animation of them, the loss panels; on the ring, the scatter and the mode counts):
#
# ```bash
# minigen train gan --dataset ring                        # 30 epochs of the ring, about a minute
# minigen train gan --dataset ring --lr 5e-3 --lr-d 5e-4  # section 8's collapse
# minigen train gan --dataset mnist --epochs 10           # the MLP GAN on MNIST
# ```
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson09.py`; the reference answers are in `lessons/solutions/lesson09.py`.
#
# **9.1 The losses on logits.** Write `discriminator_loss(real_logits, fake_logits)` and
# `generator_loss(fake_logits, minimax=False)` with minigen ops: D's loss −mean log σ(r) − mean log(1 − σ(f)),
# G's non-saturating loss −mean log σ(f), and with `minimax=True` the game's own mean log(1 − σ(f)). They must
# stay finite for logits of ±1000, and the minimax gradient must vanish where D rejects the fakes.
#
# **9.2 One training step.** Write `train_step(G, D, opt_g, opt_d, real, z)`: section 5's step as a function,
# D then G, returning the two losses. The checks recompute each player's gradient on separate copies of the
# networks, so a missing `detach()` or an unfrozen D shows up.
#
# The cell below runs your 9.1 on a few logits, beside minigen's:

# %%
lesson09 = exercise_module(9)
logits = minigen.tensor([[-1000.0], [-3.0], [0.0], [3.0], [1000.0]])
try:
    print("your D loss", lesson09.discriminator_loss(logits, logits).item(),
          " minigen's", discriminator_loss(logits, logits).item())
    print("your G loss", lesson09.generator_loss(logits).item(), " minigen's", generator_loss(logits).item())
except NotImplementedError as error:
    print("not written yet:", error)

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson09 tests/test_lesson09.py` runs this lesson's tests against the
# solutions; `MINIGEN_CHECK=exercises python -m pytest -m lesson09 tests/test_lesson09.py` against your file.
# From here: `check(9, "exercises")`.

# %%
check(9)
