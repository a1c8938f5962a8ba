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
# # Lesson 12 — WGAN-GP: gradients of gradients
#
# **Time:** about 40 seconds in fast mode (the default: small networks on the ring of lesson 09, then a glimpse
# of the image version on 2,000 embedded digits) and about 5 minutes in full mode (`MINIGEN_LESSON_MODE=full`:
# longer runs on the ring, then 3 epochs on MNIST's 60,000 images, found through `$MINIGEN_DATA`, `data/` or
# downloaded) on a 2-core CPU.
#
# Lesson 09 found that against the best discriminator the GAN's generator minimises the Jensen–Shannon
# divergence, and then watched it collapse onto a mode or two. This lesson changes the game. **WGAN** (Arjovsky,
# Chintala and Bottou, 2017) measures the distance between the data and the generator with the **Wasserstein-1**
# or earth mover's distance, estimated by a *critic* that must be 1-Lipschitz; **WGAN-GP** (Gulrajani et al.,
# 2017) enforces that with a **gradient penalty**. The penalty is a function of the critic's gradient, so
# training the critic differentiates a derivative: the autograd engine's `create_graph=True`, met in lesson 01
# and checked with `gradgradcheck` in lesson 02, is what makes WGAN-GP possible.

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import data, metrics, nn, optim, viz
from minigen.data import Ring
from minigen.models import Critic, DCGANGenerator, ToyDiscriminator, ToyGenerator
from minigen.models import gan, wgan_gp
from minigen.models.wgan_gp import gradient_penalty, interpolate
from minigen.nn import functional as F
from course import FAST, check, digit_images, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. When the distributions do not overlap
#
# Take lesson 09's ring as the data, and as "generator" the same ring shrunk by a factor s: points s·x. For
# s ≤ 0.9 the two sets of points do not overlap (each mode has a standard deviation of 0.02, and its shrunk copy
# sits 2(1 − s) ≥ 0.2 closer to the centre), and they get closer as s grows to 1.
#
# **Jensen–Shannon** cannot see that. Where p_G is zero, p_data alone decides, and vice versa, so for any two
# distributions on disjoint sets JS(p_data ‖ p_G) = log 2, whatever the distance between the sets. The best
# discriminator separates them perfectly, and the value of lesson 09's game is stuck at 2·log 2 − log 4 = 0:
# a flat landscape, with no direction for G to move in.
#
# The **Wasserstein-1 distance** is the cost of the cheapest way to move the mass of p_G onto p_data, each unit of
# mass paying the distance it travels:
#
# W(p_data, p_G) = min over couplings γ of E_γ ‖x − x̃‖  (E_γ: the average over pairs (x, x̃) drawn from γ),
#
# where a coupling γ is a joint distribution of pairs (x, x̃) with marginals p_data and p_G: a transport plan.
# For the shrunk ring it is exactly (1 − s)·E‖x‖ ≈ 2(1 − s). An upper bound: move each point s·x out along its
# radius to x, which costs (1 − s)‖x‖. A lower bound, from the next section: for any function f whose slope is
# at most 1 everywhere, E f(x) − E f(x̃) cannot exceed the cost of any transport plan; f(x) = ‖x‖ gives
# E‖x‖ − E‖s·x‖ = (1 − s)·E‖x‖. Both bounds agree.
#
# Let us measure both with networks, s going from 0 (every fake point at the origin) to 1 (the data itself). A
# GAN discriminator trained with lesson 09's loss gives an estimate of JS, (log 4 − its loss)/2 (lesson 09's
# V(D*, G) = 2·JS − log 4). A critic trained as this lesson will explain gives an estimate of W. One network of
# each follows s along, 80 steps per value in fast mode:

# %%
ring = Ring(train=True)                                   # 10,000 points (N, 2)
held_out = Ring(train=False).data                         # 2,000 other points, to evaluate on
rng = np.random.default_rng(0)
minigen.manual_seed(0)
LAM, CLIP = 10.0, 0.01              # the penalty's weight λ (WGAN-GP's 10) and the clip c (WGAN's 0.01), section 3


def clip_weights(module, c):
    """WGAN's original constraint: every weight and bias into [−c, c], after each step."""
    for p in module.parameters():
        p.data[...] = np.clip(p.data, -c, c)


D = ToyDiscriminator()                                     # lesson 09's discriminator: a point → a logit
critic = ToyDiscriminator()                                # the same network as a critic: a point → a score
clipped = ToyDiscriminator()                               # and a critic kept small by clipping its weights
clip_weights(clipped, CLIP)
opt_d = optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_c = optim.Adam(critic.parameters(), lr=5e-4, betas=(0.5, 0.9))
opt_clipped = optim.Adam(clipped.parameters(), lr=5e-4, betas=(0.5, 0.9))

scales = [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0]
per_scale = fast_or_full(80, 400)
found = {name: [] for name in ("JS from D", "W from the critic", "W from the clipped critic")}
for s in scales:
    for step in range(per_scale * (3 if s == 0 else 1)):                 # a longer first stretch
        real = minigen.tensor(ring.data[rng.integers(0, len(ring), 256)])          # (256, 2)
        fake = minigen.tensor(s * ring.data[rng.integers(0, len(ring), 256)])      # (256, 2): the shrunk ring

        loss = gan.discriminator_loss(D(real), D(fake))                 # lesson 09's D
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()

        loss = critic(fake).mean() - critic(real).mean() + LAM * gradient_penalty(critic, real, fake)
        opt_c.zero_grad()                                               # maximise E f(x) − E f(x̃), penalised
        loss.backward()
        opt_c.step()

        loss = clipped(fake).mean() - clipped(real).mean()              # the same, kept small by clipping
        opt_clipped.zero_grad()
        loss.backward()
        opt_clipped.step()
        clip_weights(clipped, CLIP)

    x, x_fake = minigen.tensor(held_out), minigen.tensor(s * ring.data[:2000])
    with minigen.no_grad():
        found["JS from D"].append((np.log(4) - gan.discriminator_loss(D(x), D(x_fake)).item()) / 2)
        found["W from the critic"].append(critic(x).mean().item() - critic(x_fake).mean().item())
        found["W from the clipped critic"].append(clipped(x).mean().item() - clipped(x_fake).mean().item())
    if s == 0.6:                                                        # keep a picture of the critics
        grid = np.linspace(-2.6, 2.6, 105, dtype=np.float32)
        points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
        with minigen.no_grad():
            landscape = critic(minigen.tensor(points)).numpy().reshape(len(grid), len(grid))
        weights = {name: np.concatenate([p.data.ravel() for n, p in net.named_parameters() if n.endswith("weight")])
                   for name, net in (("clipped critic", clipped), ("critic with the gradient penalty", critic))}

true_w = [(1 - s) * np.linalg.norm(held_out, axis=1).mean() for s in scales]
for s, w, *estimates in zip(scales, true_w, *found.values()):
    print(f"s = {s:.1f}: W = {w:.3f};  " + ",  ".join(f"{k} {v:.4f}" for k, v in zip(found, estimates)))

# %% [markdown]
# The discriminator's estimate of JS stays near log 2 ≈ 0.693 while the rings are apart and drops to 0 only
# when they coincide: it knows *whether* the sets differ, never *by how much*. The critic's estimate follows the
# true distance down to 0 (a little above it; section 3 says why). The clipped critic's is proportional to the
# distance too, but hundreds of times smaller, by a factor section 3 comes back to.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(scales, found["JS from D"], "o-", label="JS, from a GAN discriminator")
axes[0].axhline(np.log(2), color="0.6", ls="--", label="log 2")
axes[0].plot(scales, true_w, "k:", label="W, exact: (1 − s)·E‖x‖")
axes[0].plot(scales, found["W from the critic"], "o-", label="W, from the critic (penalty)")
axes[0].set_xlabel("s: the fake ring is the real one shrunk by s"); axes[0].legend(fontsize=8)
axes[0].set_title("two measures of the gap")
ratio = np.array(found["W from the clipped critic"][:-1]) / np.array(true_w[:-1])
axes[1].plot(scales[:-1], ratio, "o-", color="tab:red")
axes[1].set_ylim(0, 1.5 * ratio.max()); axes[1].set_xlabel("s")
axes[1].set_title(f"clipped critic: estimate / true W (c = {CLIP})")
contours = axes[2].contourf(grid, grid, landscape, levels=20, cmap="viridis")
axes[2].scatter(*ring.data[:500].T, s=2, c="white"); axes[2].scatter(*(0.6 * ring.data[:500]).T, s=2, c="tab:orange")
axes[2].set_aspect("equal"); axes[2].set_title("the critic f(x) at s = 0.6")
fig.colorbar(contours, ax=axes[2])
save_figure(fig, "12_js_and_w")
plt.show()

# %% [markdown]
# The picture on the right is the critic that gives the estimate at s = 0.6 (the data in white, the shrunk ring
# in orange): low at the origin, rising steadily
# outward, a cone like f(x) = ‖x‖ (plus a constant) over the region between the two rings, exactly the function
# whose value gap was the lower bound above. Its gradient at each fake point is the unit vector pointing
# outward, which is precisely the direction a generator would need to move that point. That is the promise of
# WGAN: a loss that measures how far G is from the data, and gradients that point the way however far it is.
#
# ## 2. The critic: Kantorovich–Rubinstein duality
#
# A function f is **1-Lipschitz** when |f(a) − f(b)| ≤ ‖a − b‖ for all a, b: its slope is at most 1 in every
# direction. For such an f and any coupling γ of p_data and p_G,
#
# E_data f(x) − E_G f(x̃) = E_γ [f(x) − f(x̃)] ≤ E_γ ‖x − x̃‖,  with x ∼ p_data under E_data and x̃ ∼ p_G under E_G,
#
# so every 1-Lipschitz function gives a lower bound on the cost of every transport plan, hence on W. The
# **Kantorovich–Rubinstein duality** says the best such lower bound is not just a bound but W itself:
#
# W(p_data, p_G) = max over 1-Lipschitz f of E_data f(x) − E_z f(G(z)),  z ∼ N(0, I).
#
# WGAN turns this into a game. The **critic** f, a network, climbs E f(x) − E f(G(z)) (it scores, with no sigmoid
# and no log: large for data, small for fakes), while keeping its slope at most 1; that maximum is the
# current distance. The generator descends the same quantity, i.e. minimises −E f(G(z)): it moves its samples
# up the critic's slope. The critic's value gap is the running estimate of W, which we can watch fall as G
# improves. Everything hinges on the constraint: without it, the critic could scale itself up and make the
# gap as large as it likes.
#
# ## 3. Keeping the critic 1-Lipschitz: clipping, and the penalty
#
# The first WGAN clipped every weight into [−c, c] after each step. A network with bounded weights has a
# bounded slope, so the critic is K-Lipschitz for *some* K, and the gap estimates K·W. The measurement above
# shows what that means: K came out at a few thousandths here, steady enough that the estimate is proportional
# to W, but nobody told us K; it depends on c, the architecture and how training went. Worse, the way to a
# large gap under the clip is to push weights against it. Here are the weights of the two critics:

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
for ax, (name, w) in zip(axes, weights.items()):
    ax.hist(w, bins=60, color="tab:red" if name.startswith("clipped") else "tab:blue")
    if name.startswith("clipped"):
        ax.set_xticks([-CLIP, 0, CLIP])
    ax.set_title(f"{name}: {np.mean(np.abs(w) > 0.99 * CLIP):.0%} of its weights at ±c"
                 if name.startswith("clipped") else f"{name}: std {w.std():.3f}", fontsize=10)
fig.suptitle("the weights of the two critics at s = 0.6", y=1.03)
plt.show()

# %% [markdown]
# All, or nearly all, of the clipped critic's weights sit at ±c: the clip, not the data, decides what it can
# express (a network whose weights are all ±c is little more than a pattern of signs). Gulrajani et al. show
# such critics learning overly simple functions, with gradients that vanish or explode through deep networks
# depending on c.
#
# **The gradient penalty.** A differentiable f is 1-Lipschitz exactly when ‖∇f(x)‖ ≤ 1 everywhere, and the
# optimal critic has ‖∇f‖ = 1 along the straight lines between the points that the best transport plan pairs
# (it rises at unit rate from x̃ to x, like ‖x‖ above). We cannot check "everywhere", nor find the best pairs,
# so WGAN-GP checks points on lines between randomly paired real and generated samples, and instead of a hard
# constraint adds a penalty to the critic's loss:
#
# x̂ = α·x + (1 − α)·x̃,  α ∼ U[0, 1],      GP = E[(‖∇f(x̂)‖ − 1)²],
#
# critic loss = E f(x̃) − E f(x) + λ·GP,  λ = 10,      generator loss = −E f(G(z)).
#
# Two details. α is drawn **once per example**: x̂ must lie on the line between one real and one generated
# image, and a different α for every pixel would scatter it off that line (exercise 12.1). And the penalty is
# **two-sided**, pulling the slope toward 1 from below too, which Gulrajani et al. found to work slightly
# better than punishing only slopes above 1. The penalty is soft, so the estimate runs slightly above W: a
# critic with slope 1 + δ where 1 would do gains δ·W and pays λδ², best at δ = W/(2λ), which is 10 % above W at
# W = 2, λ = 10, and less as G closes the gap (compare section 1's numbers).

# %%
print(inspect.getsource(interpolate))
print(inspect.getsource(gradient_penalty))
real, fake = minigen.randn(4, 1, 28, 28), minigen.randn(4, 1, 28, 28)
x_hat = interpolate(real, fake)
alpha = (x_hat.data - fake.data) / (real.data - fake.data)              # (4, 1, 28, 28): α at every pixel
print("x̂", x_hat.shape, "; per example, α is one number at every pixel:",
      [f"{a.min():.4f}..{a.max():.4f}" for a in alpha])

# %% [markdown]
# ## 4. The ε inside the square root
#
# The norm is computed as √(Σ g² + ε) with ε = 10⁻¹², not √(Σ g²). Its derivative with respect to g is
# g/√(Σ g²): 0/0 where the gradient is exactly zero. In the chain rule that is d√u/du = 1/(2√u) = ∞ at u = 0,
# times du/dg = 2g = 0, and ∞·0 is NaN in floating point. A critic with a dead region (every unit of a ReLU
# layer off) has an exactly zero gradient there, and one such interpolate would put NaN into every weight of
# the critic. With ε inside, the derivative is g/√(Σ g² + ε) = 0 at g = 0, and the norm changes by at most
# √ε = 10⁻⁶:

# %%
for eps in (0.0, 1e-12):
    g = minigen.zeros(2, 3, requires_grad=True)                        # two examples' gradients, both zero
    norm = ((g * g).sum(dim=1) + eps).sqrt()                            # (2,)
    with np.errstate(divide="ignore", invalid="ignore"):
        ((norm - 1) ** 2).mean().backward()
    print(f"ε = {eps:g}: penalty {((norm - 1) ** 2).mean().item():.6f}, its gradient {g.grad.numpy()[0] + 0.0}")

# %% [markdown]
# ## 5. Gradients of gradients
#
# Now the key step. To train the critic we need the gradient of its loss with respect to its weights θ, and
# the loss contains ∇f(x̂; θ), the gradient with respect to x̂, itself a gradient. The penalty's gradient is a
# derivative of a derivative.
#
# A one-number example to see it by hand: the critic f(x; w) = tanh(w·x), at one point x. Its gradient with
# respect to x is g(w) = ∂f/∂x = w·(1 − t²) with t = tanh(w·x), and the penalty is P(w) = (√(g² + ε) − 1)².
# The chain rule gives dP/dw = 2(√(g² + ε) − 1) · g/√(g² + ε) · dg/dw, with
#
# dg/dw = (1 − t²) − 2·w·x·t·(1 − t²)      (the derivative of w·(1 − tanh²(w·x)) with respect to w).
#
# minigen computes g with `minigen.grad`, and `create_graph=True` makes the backward pass that computes g record
# its own operations as a graph, like any forward pass: tanh's backward multiplies by 1 − t², and that
# multiplication becomes a node that depends on w. P is then an ordinary function of w, and `P.backward()`
# differentiates it, running backward through the backward:

# %%
x = minigen.tensor(0.7, dtype=minigen.float64, requires_grad=True)
w = minigen.tensor(1.3, dtype=minigen.float64, requires_grad=True)
eps = 1e-12


def penalty(w, x, create_graph=True):
    f = (w * x).tanh()                                                  # the critic's score at x
    (g,) = minigen.grad(f, x, create_graph=create_graph)                # ∂f/∂x, a tensor that depends on w
    return ((g * g + eps).sqrt() - 1) ** 2, g


P, g = penalty(w, x)
P.backward()                                                            # d/dw through the graph of ∂f/∂x
t, wv, xv = np.tanh(1.3 * 0.7), 1.3, 0.7
gv = wv * (1 - t * t)
by_hand = 2 * (np.sqrt(gv ** 2 + eps) - 1) * gv / np.sqrt(gv ** 2 + eps) * ((1 - t * t) - 2 * wv * xv * t * (1 - t * t))
h = 1e-6
finite = (penalty(minigen.tensor(1.3 + h, dtype=minigen.float64), x)[0].item()
          - penalty(minigen.tensor(1.3 - h, dtype=minigen.float64), x)[0].item()) / (2 * h)
print(f"g = ∂f/∂x = {g.item():.6f} (by hand {gv:.6f}); g has a graph: {g.grad_fn is not None}")
print(f"dP/dw: double backward {w.grad.item():.10f}, by hand {by_hand:.10f}, finite differences {finite:.10f}")
print(inspect.getsource(minigen.ops.elementwise.Tanh.backward))

# %% [markdown]
# Tanh's backward is written with tensor operations (`g * (1.0 - y * y)`, y the saved output), not raw arrays,
# which is what lets it be recorded and differentiated again. Without `create_graph=True`, g comes back as a
# plain number with no graph, and the penalty has no idea it depends on w:

# %%
P_flat, g_flat = penalty(w, x, create_graph=False)
print("g has a graph:", g_flat.grad_fn is not None, "; P requires grad:", P_flat.requires_grad)
try:
    P_flat.backward()
except RuntimeError as error:
    print("RuntimeError:", error)

# %% [markdown]
# In a real critic the same happens through every layer. A LeakyReLU critic's gradient ∇f(x) is piecewise
# constant in x, a product of weight matrices and slopes, but it still depends on the weights, so the penalty
# still has a gradient for them. Lesson 02's `gradgradcheck` checks second derivatives against finite
# differences; here is the whole penalty's gradient with respect to a small critic's weights, checked the same
# way (float64, as lesson 02 explained):

# %%
rng64 = np.random.default_rng(1)
W1, b1, W2 = (minigen.tensor(rng64.standard_normal(shape), requires_grad=True) for shape in ((8, 2), (8,), (1, 8)))


def small_critic(W1, b1, W2):
    return lambda x: F.linear(F.tanh(F.linear(x, W1, b1)), W2)        # a point (N, 2) → 8 → a score (N, 1)


real64, fake64 = (minigen.tensor(rng64.standard_normal((5, 2))) for _ in range(2))
alpha64 = minigen.tensor(rng64.uniform(size=(5, 1)))
print("gradcheck of GP with respect to the weights:",
      minigen.gradcheck(lambda W1, b1, W2: gradient_penalty(small_critic(W1, b1, W2), real64, fake64, alpha64),
                        (W1, b1, W2)))
print("gradgradcheck of the critic:",
      minigen.gradgradcheck(lambda x, W1, b1, W2: small_critic(W1, b1, W2)(x),
                            (minigen.tensor(rng64.standard_normal((3, 2)), requires_grad=True), W1, b1, W2)))

# %% [markdown]
# ## 6. No batch norm in the critic
#
# `gradient_penalty` takes the gradient of the *sum* of the scores, Σⱼ f(x̂ⱼ), with respect to all the
# interpolates at once, one backward pass for the batch. The row for example i is Σⱼ ∂f(x̂ⱼ)/∂x̂ᵢ, which is
# example i's own gradient only if each score depends on its own input alone. Batch normalisation breaks that:
# it normalises with the batch's mean and variance, so every score depends on every example. Then the
# "per-example gradient norm" is not a property of the critic at a point any more. The critic's score for
# example 0, differentiated with respect to each input of a batch of four:

# %%
minigen.manual_seed(0)
points = minigen.randn(4, 2, requires_grad=True)
for name, net in (("with batch norm", nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2),
                                                     nn.Linear(16, 1))),
                  ("without", nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)))):
    (g,) = minigen.grad(net(points)[0, 0], points)                       # ∂f(x₀)/∂xᵢ for i = 0..3
    print(f"{name:>16}: ‖∂f(x₀)/∂xᵢ‖ for i = 0, 1, 2, 3:", np.linalg.norm(g.numpy(), axis=1).round(4))

# %% [markdown]
# So minigen's `Critic` is lesson 10's DCGAN discriminator with the batch norm taken out (Gulrajani et al.
# suggest layer normalisation, which works within one example, if a critic needs normalising), and without
# dropout, which would make f a random function whose gradient the penalty could not pin down.
#
# ## 7. Training on the ring
#
# The recipe: **n_critic = 5** critic steps per generator step (the critic's estimate is only as good as its
# training, so it gets more of it), Adam with **β = (0.5, 0.9)**, learning rate **1e-4** for both. On the ring
# we make two changes for speed: learning rates of lesson 09, and **λ = 0.1**, the value Gulrajani et al. used
# for their 2-D toys (their code's comment: "smaller lambda seems to help for toy tasks specifically"); with
# λ = 10 these small networks' samples drifted about in the few thousand steps we can afford. The price: with
# so weak a penalty the critic's slope is no longer held near 1 (we print it at the end), so its value gap is W
# times that slope, a running score of progress rather than a calibrated distance.
#
# The test is lesson 09's collapse: G learning ten times faster than its opponent (5e-3 against 5e-4), which
# sent the GAN from mode to mode. Same networks and starting weights, batches of 64 points, and the same number
# of generator steps:

# %%
def train_ring(G, D, g_steps, wasserstein, lr_g=5e-3, lr_d=5e-4, lam=0.1, n_critic=5, batch=64, seed=0):
    """Lesson 09's GAN (``wasserstein=False``, one D step per G step) or WGAN-GP (n_critic critic steps per G
    step) on the ring. Returns G's points for 1,000 fixed noise vectors at 10 moments ({step: (1000, 2)}) and,
    for WGAN-GP, the critic's estimate E f(x) − E f(G(z)) averaged over each G step's critic steps."""
    betas = (0.5, 0.9) if wasserstein else (0.5, 0.999)
    opt_g = optim.Adam(G.parameters(), lr=lr_g, betas=betas)
    opt_d = optim.Adam(D.parameters(), lr=lr_d, betas=betas)
    rng = np.random.default_rng(seed)
    fixed_z = minigen.randn(1000, G.latent_dim)
    snapshots, estimates = {}, []
    for step in range(1, g_steps + 1):
        gaps = []
        for _ in range(n_critic if wasserstein else 1):
            real = minigen.tensor(ring.data[rng.integers(0, len(ring), batch)])      # (64, 2)
            with minigen.no_grad():
                fake = G(minigen.randn(batch, G.latent_dim))                            # (64, 2), no graph to G
            real_scores, fake_scores = D(real), D(fake)
            if wasserstein:
                loss = wgan_gp.critic_loss(real_scores, fake_scores, gradient_penalty(D, real, fake), lam)
                gaps.append(real_scores.mean().item() - fake_scores.mean().item())
            else:
                loss = gan.discriminator_loss(real_scores, fake_scores)
            opt_d.zero_grad()
            loss.backward()                                # WGAN-GP: through minigen.grad, a double backward
            opt_d.step()

        D.requires_grad_(False)
        scores = D(G(minigen.randn(batch, G.latent_dim)))
        loss_g = wgan_gp.generator_loss(scores) if wasserstein else gan.generator_loss(scores)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
        if wasserstein:
            estimates.append(np.mean(gaps))
        if step % (g_steps // 10) == 0:
            with minigen.no_grad():
                snapshots[step] = G(fixed_z).numpy()
    return snapshots, estimates


g_steps = fast_or_full(300, 1500)
runs, nets = {}, {}
for name, wasserstein in (("GAN", False), ("WGAN-GP", True)):
    minigen.manual_seed(0)
    nets[name] = ToyGenerator(2), ToyDiscriminator()                     # (G, D): D is WGAN-GP's critic
    runs[name] = train_ring(*nets[name], g_steps, wasserstein)
critic_net = nets["WGAN-GP"][1]

fig, axes = plt.subplots(2, 5, figsize=(13, 5.6))
for row, (name, (snapshots, _)) in zip(axes, runs.items()):
    for ax, step in zip(row, sorted(snapshots)[1::2]):
        found = metrics.ring_modes(snapshots[step], Ring.centers(), Ring.std)
        ax.scatter(*ring.data[:1000].T, s=2, c="0.75")
        ax.scatter(*snapshots[step].T, s=2, c="tab:orange", alpha=0.5)
        ax.set_xlim(-3, 3); ax.set_ylim(-3, 3); ax.set_aspect("equal"); ax.set_xticks([]); ax.set_yticks([])
        ax.set_title(f"{name}, step {step}:\n{found['modes']} sharp, {found['modes_reached']} reached", fontsize=9)
fig.suptitle("G ten times faster than its opponent: real (grey) and generated (orange)")
save_figure(fig, "12_ring")
plt.show()

# %% [markdown]
# The GAN does what it did in lesson 09: its points huddle on one or two modes at a time. WGAN-GP's spread out
# until every mode is reached, and then gather onto the circle through them. Sharp modes (at least 1 % of the
# points within 0.06 of a centre) take longer than fast mode's 300 generator steps; in full mode's 1,500, five to
# seven of the eight are sharp and the rest of the points lie on the circle between them. That is expected from a
# Wasserstein loss: a point 0.1 from a mode costs W only 0.1, so the last stretch of sharpening earns little,
# while a missing mode costs its whole share times the distance to it. Where the GAN's points go, and the
# critic's estimate over training:

# %%
def mode_shares(snapshots):
    """For each snapshot, the share of G's points whose nearest centre is each mode: (8, snapshots)."""
    nearest = [np.argmin(((p[:, None] - Ring.centers()[None]) ** 2).sum(-1), 1) for p in snapshots.values()]
    return np.stack([np.bincount(n, minlength=8) / len(n) for n in nearest], axis=1)


fig, axes = plt.subplots(1, 3, figsize=(15, 3.2))
for ax, (name, (snapshots, _)) in zip(axes, runs.items()):
    image = ax.imshow(mode_shares(snapshots), aspect="auto", cmap="magma", vmin=0, vmax=1,
                      extent=(0, g_steps, 7.5, -0.5))
    ax.set_xlabel("generator step"); ax.set_ylabel("mode"); ax.set_title(f"{name}: points nearest each mode")
fig.colorbar(image, ax=axes[:2])
estimates = runs["WGAN-GP"][1]
axes[2].plot(np.arange(1, g_steps + 1), estimates, lw=0.6, alpha=0.5)
k = 20
axes[2].plot(np.arange(k, g_steps + 1), np.convolve(estimates, np.ones(k) / k, mode="valid"), label=f"average of {k}")
axes[2].set_xlabel("generator step"); axes[2].set_title("the critic's gap E f(x) − E f(G(z))"); axes[2].legend()
plt.show()

x_hat = interpolate(minigen.tensor(ring.data[:1000]), minigen.tensor(runs["WGAN-GP"][0][g_steps]))
(g,) = minigen.grad(critic_net(x_hat).sum(), x_hat)
print(f"the critic's slope on 1,000 interpolates: mean ‖∇f‖ = {np.linalg.norm(g.numpy(), axis=1).mean():.2f} "
      f"(λ = 0.1 holds it only loosely near 1)")

# %% [markdown]
# Left, the GAN's points jump from mode to mode, all of them at once; in the middle, WGAN-GP's shares even out
# over all eight. Right, the critic's gap swings while G's points are flung about, then settles low as they
# reach the circle, and keeps shrinking in full mode's longer run: a loss that reports progress. With λ = 0.1
# it is not W itself but W times roughly the slope printed above.
#
# ## 8. On digits
#
# For images the recipe is the paper's, unchanged: λ = 10, n_critic = 5, Adam 1e-4 with β = (0.5, 0.9), batches
# of 64. G is lesson 10's DCGAN generator (`arch="421"`), the critic lesson 10's discriminator without batch norm
# (`Critic`). Fast mode only shows that the code runs: quarter-width networks for 250 critic steps, 50 of them
# followed by a generator step, on the embedded digits. Full mode trains width 32, as in section 9's command, for
# 3 epochs of MNIST (2,811 critic steps, 562 generator steps).

# %%
DATASET = fast_or_full("digits", "mnist")
WIDTH = fast_or_full(8, 32)
images, _ = digit_images(DATASET, train=True, n=fast_or_full(2000, None))               # (N, 28, 28) in [0, 1]
loader = data.DataLoader(data.TensorDataset((images * 2 - 1)[:, None]), batch_size=64, shuffle=True,
                         drop_last=True, seed=0)                                       # (64, 1, 28, 28) in [−1, 1]
minigen.manual_seed(0)
G, critic = DCGANGenerator(arch="421", width=WIDTH), Critic(arch="421", width=WIDTH)
opt_g = optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
opt_c = optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
critic_steps = fast_or_full(250, 3 * len(loader))
curves = {"W estimate": ([], []), "gradient penalty": ([], [])}
step = 0
while step < critic_steps:
    for (x,) in loader:
        with minigen.no_grad():
            fake = G(minigen.randn(x.shape[0], 100))                         # (64, 1, 28, 28)
        real_scores, fake_scores = critic(x), critic(fake)                   # (64, 1) each
        penalty = gradient_penalty(critic, x, fake)                          # one α per image
        loss = wgan_gp.critic_loss(real_scores, fake_scores, penalty, lam=10.0)
        opt_c.zero_grad()
        loss.backward()                                                      # a double backward
        opt_c.step()
        step += 1
        curves["W estimate"][0].append(step)
        curves["W estimate"][1].append(real_scores.mean().item() - fake_scores.mean().item())
        curves["gradient penalty"][0].append(step)
        curves["gradient penalty"][1].append(penalty.item())

        if step % 5 == 0:                                                    # n_critic = 5
            critic.requires_grad_(False)
            loss_g = wgan_gp.generator_loss(critic(G(minigen.randn(x.shape[0], 100))))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            critic.requires_grad_(True)
        if step == critic_steps:
            break

k = fast_or_full(10, 50)
smooth = {name: {name: (xs[k - 1:], np.convolve(ys, np.ones(k) / k, mode="valid"))}
          for name, (xs, ys) in curves.items()}
fig = viz.loss_panels(smooth, title=f"WGAN-GP on {DATASET}, averages over {k} critic steps", xlabel="critic step")
save_figure(fig, "12_wasserstein_estimate")
plt.show()
G.eval()
minigen.manual_seed(1)
with minigen.no_grad():
    samples = (G(minigen.randn(64, 100)).numpy() + 1) / 2
fig = viz.image_grid(samples, nrow=16, title=f"WGAN-GP after {critic_steps} critic steps on {DATASET}")
plt.show()
steps, estimate = smooth["W estimate"]["W estimate"]                  # moving averages over k critic steps
peak = int(np.argmax(estimate))
print(f"the critic's estimate, averages over {k} critic steps: first {estimate[0]:.2f}, "
      f"highest {estimate[peak]:.2f} (around critic step {steps[peak]}), last {estimate[-1]:.2f}")

# %% [markdown]
# The estimate first climbs: the critic starts as a near-constant function and needs a few hundred steps to
# find the large gap between noise and digits, faster than G, which moves once per five critic steps, can close
# it. Fast mode's 250 steps end on that climb, so its highest value is at or near its last. In full mode the
# estimate peaks within the first of the three epochs, then G catches up and it falls to the last value printed,
# unlike a GAN's losses, which hover (lessons 09 and 10): this number goes down as the samples get better. A run
# of `minigen train wgan-gp` with full mode's settings averaged 15.2, 10.7 and 3.8 over its first three epochs on
# MNIST, and 1.2 by epoch 15.
#
# The penalty starts at 1: DCGAN's initialisation (weights drawn N(0, 0.02²)) makes the critic nearly flat, slope
# ≈ 0, and (0 − 1)² = 1. Here it is the two-sided penalty that pulls the slope *up* toward 1, and the penalty
# falls as it gets there (the same run: 0.31, 0.16 and 0.03 over the first three epochs).
#
# ## 9. The real thing: `minigen train wgan-gp`
#
# ```bash
# minigen train wgan-gp --dataset mnist --arch 421 --width 32 --epochs 15   # losses.png: the W estimate and GP
# minigen train wgan-gp --dataset ring                                      # λ = 10 and 60 epochs on the ring
# ```
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson12.py`; the reference answers are in `lessons/solutions/lesson12.py`.
#
# **12.1 Interpolates, one α per example.** Write `interpolates(real, fake, u)`: x̂ = α·real + (1 − α)·fake for
# batches of any shape (N, …), with α from u, N numbers in [0, 1] of shape (N,). u must be reshaped to
# (N, 1, …, 1) first: multiplying (N,) by (N, D) would broadcast u along the *last* axis, silently wrong when
# D = N. Return x̂ as a new leaf that requires grad, with no graph back to real or fake.
#
# **12.2 The gradient penalty.** Write `gradient_penalty(critic, real, fake, u, eps=1e-12)`: section 3's
# E[(‖∇f(x̂)‖ − 1)²], the norm per example as √(Σ g² + ε), differentiable with respect to the critic's
# weights (section 5). The checks compare it with a linear critic f(x) = w·x, whose gradient is w everywhere,
# so GP = (√(‖w‖² + ε) − 1)² exactly, with minigen's `gradient_penalty`, and with finite differences of its
# gradient with respect to a critic's weights.
#
# Both, on this lesson's ring critic:

# %%
lesson12 = exercise_module(12)
real, fake = minigen.tensor(ring.data[:6]), minigen.tensor(runs["WGAN-GP"][0][g_steps][:6])
u = minigen.rand(6)
try:
    x_hat = lesson12.interpolates(real, fake, u)
    checked = f"lessons/{lesson12.__name__.replace('.', '/')}.py"           # the solutions or your exercises
    print(f"x̂ from {checked}:", x_hat.shape, "leaf:", x_hat.is_leaf, "requires grad:", x_hat.requires_grad)
    print(f"GP from {checked}: {lesson12.gradient_penalty(critic_net, real, fake, u).item():.6f}, minigen's "
          f"{gradient_penalty(critic_net, real, fake, u.reshape(6, 1)).item():.6f}")
except NotImplementedError as error:
    print("not written yet:", error)

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson12 tests/test_lesson12.py` runs this lesson's tests against
# the solutions; `MINIGEN_CHECK=exercises python -m pytest -m lesson12 tests/test_lesson12.py` against your file.
# From here: `check(12, "exercises")`.

# %%
check(12)
