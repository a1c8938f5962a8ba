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
# # Lesson 08 — The variational autoencoder
#
# **Time:** about 10 seconds in fast mode (the default: 2,000 embedded digits, 20 epochs) and about
# 2½ minutes in full mode (`MINIGEN_LESSON_MODE=full`: MNIST's 60,000 training images, 20 epochs; MNIST is
# found through `$MINIGEN_DATA`, `data/` or downloaded) on a 2-core CPU.
#
# Lesson 07's autoencoder put each image at *some* point of its code space, leaving holes and odd shapes, so
# random codes decoded to smudges. The **variational autoencoder** (Kingma and Welling, 2014) turns the
# autoencoder into a proper generative model, p(x) = ∫ p(x|z) p(z) dz, with a prior p(z) = N(0, I) that we can
# sample from. Two ideas make it trainable: a lower bound on log p(x) (the **ELBO**) that we can maximise, and
# the **reparameterization trick** that lets gradients pass through random sampling. At the end, any code drawn
# from N(0, I) decodes to a digit, and we can walk smoothly from one digit to another.

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import data, optim, viz
from minigen.models import VAE
from minigen.models.vae import kl_divergence, loss_function, reparameterize
from minigen.nn import functional as F
from course import FAST, check, digit_images, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. Codes become distributions
#
# The encoder no longer outputs a point. For each image x it outputs a Gaussian over codes,
# q(z|x) = N(μ(x), diag σ²(x)): a mean μ and, for numerical convenience, the log-variance log σ² (any real
# number is a valid log-variance, while σ² must stay positive). The decoder is lesson 07's: from a code z to 784
# pixel logits, p(x|z) = Bernoulli(sigmoid(logits(z))) per pixel. (From here on σ is always the standard
# deviation; the sigmoid is written out.)

# %%
minigen.manual_seed(0)
model = VAE(latent_dim=2, hidden=(400,))            # 784 → 400 → (μ, log σ²) in 2-D;  2 → 400 → 784
print(model)
x = minigen.rand(3, 28, 28)
mu, logvar = model.encode(x)
print("3 images →  μ", mu.shape, " log σ²", logvar.shape, " → logits", model.decode(mu).shape)

# %% [markdown]
# ## 2. The evidence lower bound
#
# We want the decoder to make the training images likely: maximise log p(x) = log ∫ p(x|z) p(z) dz. The
# integral is hopeless (most codes explain a given image badly), so we sample codes where they matter, from
# q(z|x), and correct for it:
#
# log p(x) = log E_q[p(x|z) p(z) / q(z|x)],  where E_q averages over codes z ∼ q(z|x).
#
# The logarithm is concave (it bends downward), so the log of an average is at least the average of the logs:
# log E[Y] ≥ E[log Y], **Jensen's inequality**. Applied here, with log(ab) = log a + log b:
#
# log p(x) ≥ E_q[log p(x|z)] + E_q[log p(z) − log q(z|x)] = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)),
#
# where KL(q ‖ p) = E_q[log q(z) − log p(z)] is the **Kullback–Leibler divergence** of q from p: never negative,
# and 0 only when q = p. The right-hand side is the **ELBO**, and it has two readable terms:
#
# - **reconstruction**, E_q[log p(x|z)] = −(lesson 07's cross-entropy): decode codes sampled around μ(x) and
#   score the image. It wants each q(z|x) narrow and the codes of different images apart;
# - **KL(q(z|x) ‖ N(0, I))**, how far each image's code distribution is from the prior. It wants every
#   q(z|x) to look like N(0, I): codes near the origin, spread out. Pulling against the first term, it is what
#   fills the code space without holes.
#
# The training loss is −ELBO. For two Gaussians the KL has a closed form, per latent dimension
# −½(1 + log σ² − μ² − σ²). A Monte Carlo estimate, the average of log q(z) − log p(z) over samples z ∼ q,
# agrees:

# %%
mu_, logvar_ = minigen.tensor([[1.0, -0.5]]), minigen.tensor([[-1.0, 0.3]])
closed = kl_divergence(mu_, logvar_).item()
rng = np.random.default_rng(0)
std = np.exp(0.5 * logvar_.numpy())
z = mu_.numpy() + std * rng.standard_normal((200_000, 2))
log_q = (-0.5 * ((z - mu_.numpy()) / std) ** 2 - np.log(std)).sum(1)      # the constants −½ log 2π cancel
log_p = (-0.5 * z ** 2).sum(1)
print(f"KL closed form {closed:.4f}, Monte Carlo over 200,000 samples {np.mean(log_q - log_p):.4f}")
print(inspect.getsource(kl_divergence))

# %% [markdown]
# ## 3. The reparameterization trick
#
# The reconstruction term needs a sample z ∼ N(μ, σ²), and backward must reach μ and σ through it. A random
# draw has no derivative with respect to its parameters... unless we draw the randomness *first*, from a fixed
# distribution, and then transform it:
#
# z = μ + σ·ε,  ε ∼ N(0, I),  σ = exp(½·log σ²).
#
# Now z is an ordinary differentiable function of μ and σ, with ε a constant input. One classic bug: σ is
# exp(**½**·log σ²). Writing exp(log σ²) uses the variance as the standard deviation.
#
# A check of the trick: for f(z) = z², E[f(z)] = μ² + σ², so ∂/∂μ = 2μ and ∂/∂σ = 2σ. Averaging the gradients of
# f over reparameterized samples estimates exactly those:

# %%
print(inspect.getsource(reparameterize))
mu_t = minigen.tensor(np.full(100_000, 1.5), requires_grad=True)         # 100,000 samples of one z
logvar_t = minigen.tensor(np.full(100_000, np.log(0.8 ** 2)), requires_grad=True)
z = reparameterize(mu_t, logvar_t)
(z ** 2).mean().backward()
grad_mu = mu_t.grad.numpy().sum()
grad_sigma = (logvar_t.grad.numpy() * 2 / 0.8).sum()             # ∂/∂σ = ∂/∂log σ² · 2/σ
print(f"∂E[z²]/∂μ ≈ {grad_mu:.3f} (2μ = 3.0),  ∂E[z²]/∂σ ≈ {grad_sigma:.3f} (2σ = 1.6)")

# %% [markdown]
# ## 4. Training
#
# The loss of one batch is `loss_function`: the cross-entropy summed over pixels plus the KL summed over latent
# dimensions, summed over the batch (as PyTorch's VAE example does); we report it per image, in nats. We also
# record the two terms separately, to watch them pull against each other.

# %%
print(inspect.getsource(loss_function))

DATASET = fast_or_full("digits", "mnist")
train_images, train_labels = digit_images(DATASET, train=True, n=fast_or_full(2000, None))
test_images, test_labels = digit_images(DATASET, train=False, n=fast_or_full(500, 2000))
print(f"{DATASET}: {len(train_images)} training and {len(test_images)} test images")

loader = data.DataLoader(data.TensorDataset(train_images, train_labels), batch_size=128, shuffle=True, seed=0)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
x_test = minigen.tensor(test_images)
curves = {name: ([], []) for name in ("train", "test", "reconstruction", "KL")}          # nats per image
epochs = 20
for epoch in range(1, epochs + 1):
    model.train()
    total = 0.0
    for images, _ in loader:
        logits, mu, logvar = model(images)
        loss = loss_function(logits, images, mu, logvar)         # −ELBO summed over the batch
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    model.eval()
    with minigen.no_grad():
        logits, mu, logvar = model(x_test)
        reconstruction = F.binary_cross_entropy_with_logits(logits, F.flatten(x_test, 1), reduction="sum").item()
        kl = kl_divergence(mu, logvar).sum().item()
    n = len(test_images)
    for name, value in zip(curves, (total / len(train_images), (reconstruction + kl) / n, reconstruction / n, kl / n)):
        curves[name][0].append(epoch)
        curves[name][1].append(value)
    if epoch % 5 == 0 or epoch == 1:
        print(f"epoch {epoch:3}: test −ELBO {curves['test'][1][-1]:.1f} = reconstruction "
              f"{reconstruction / n:.1f} + KL {kl / n:.2f} nats per image")
fig = viz.loss_panels({"−ELBO": {k: curves[k] for k in ("train", "test")},
                       "test: reconstruction": {"reconstruction": curves["reconstruction"]},
                       "test: KL": {"KL": curves["KL"]}}, title="VAE with a 2-D latent, nats per image",
                      xlabel="epoch")
plt.show()

# %% [markdown]
# The reconstruction term does most of the falling. The KL term settles at a few nats: that is how much
# information the codes carry about each image, beyond what the prior already says (5 nats is about 7 bits).
# Every nat the encoder spends on the KL must buy more than a nat of reconstruction, and with only two latent
# dimensions there is not much to buy.
#
# ## 5. Reconstructions, and digits from nothing
#
# Reconstructions decode the mean code μ(x). The real test is new samples: codes drawn from the prior N(0, I),
# decoded. (Compare lesson 07's decoded random codes.)

# %%
with minigen.no_grad():
    mu, _ = model.encode(x_test[:16])
    rebuilt = model.decode(mu).sigmoid().numpy().reshape(-1, 28, 28)
    minigen.manual_seed(1)
    samples = model.decode(minigen.randn(32, 2)).sigmoid().numpy().reshape(-1, 28, 28)
fig = viz.reconstructions(test_images[:16], rebuilt)
plt.show()
fig = viz.image_grid(samples, nrow=16, title="decoded codes drawn from N(0, I)")
plt.show()

# %% [markdown]
# ## 6. The latent map
#
# With a 2-D code we can look at all of it. Left: the mean codes μ(x) of test images, coloured by digit; the KL
# term has packed them into a disc around the origin, roughly the shape of N(0, I). Right: the decoder over a
# grid of codes from −2.5 to 2.5 in each direction (±2.5 standard deviations of the prior). Unlike lesson 07's
# map, every code decodes to something digit-like, and neighbouring codes to similar digits.

# %%
with minigen.no_grad():
    codes = model.encode(x_test)[0].numpy()
steps = 15
grid = np.linspace(-2.5, 2.5, steps, dtype=np.float32)
points = np.stack(np.meshgrid(grid, -grid), axis=-1).reshape(-1, 2)          # rows top to bottom: z₂ falls
with minigen.no_grad():
    decoded = model.decode(minigen.tensor(points)).sigmoid().numpy().reshape(-1, 28, 28)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5))
scatter = left.scatter(codes[:, 0], codes[:, 1], c=test_labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=6)
fig.colorbar(scatter, ax=left, ticks=range(10))                 # with vmin, vmax = −0.5, 9.5: ticks mid-colour
left.set_xlim(-3, 3); left.set_ylim(-3, 3); left.set_aspect("equal"); left.set_title("μ(x) of test images")
right.imshow(viz.make_grid(decoded, nrow=steps), cmap="gray")
right.axis("off"); right.set_title("the decoder over z ∈ [−2.5, 2.5]²")
save_figure(fig, "08_latent_map")
plt.show()

# %% [markdown]
# ## 7. Interpolation
#
# Take two test images of different digits, encode them, walk along the straight line between their codes,
# and decode each step. Because the space between codes is filled, the digit changes gradually.
#
# One catch: with only two dimensions, similar digits share a region of the map (4s and 9s; 3s, 5s and 8s), so
# a test image's code can decode to a neighbouring digit, a 4 that comes back looking like a 9. Each row below
# therefore shows the two test images themselves at its ends (first and last column) and, between them, the
# decoder at ten points on the line from one code to the other: the first and last of those ten are the two
# images as the model sees them.

# %%
t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]                         # (10, 1)
first = [int(np.flatnonzero(test_labels == d)[0]) for d in range(10)]       # the first test image of each digit
pairs = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
with minigen.no_grad():
    mu = model.encode(x_test[first])[0].numpy()                              # (10, 2): their codes
    rows = [np.concatenate([test_images[first[a]][None],                     # the image at each end, and
                            model.decode(minigen.tensor((1 - t) * mu[a] + t * mu[b])).sigmoid().numpy()
                            .reshape(-1, 28, 28),                            # 10 decoded steps between
                            test_images[first[b]][None]]) for a, b in pairs]  # 5 rows of 12
ends = ", ".join(f"{test_labels[first[a]]} and {test_labels[first[b]]}" for a, b in pairs)
fig = viz.interpolation(rows, title=f"ends: the test images {ends}; between: the decoder from one code to the other")
plt.show()

# %% [markdown]
# ## 8. The real thing: `minigen train vae`
#
# The same model with a 20-dimensional code (PyTorch's example VAE, whose training step is workload W4 of
# `minigen bench`) is minigen's main job. A run directory collects samples after every epoch, reconstructions,
# interpolations and the loss curves, and
# `minigen eval` estimates the test log-likelihood with the **importance-weighted bound** (Burda et al., 2016),
# the ELBO's tighter cousin: log p(x) ≥ log (1/k) Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x), which approaches log p(x) as the
# number of samples k grows.
#
# ```bash
# minigen train vae --dataset mnist --epochs 10      # MNIST from $MINIGEN_DATA, data/ or a download
# minigen eval runs/vae-mnist --iw-samples 500       # test −ELBO and importance-weighted NLL
# minigen train vae --latent-dim 2                   # this lesson's model: latent_map.png, latent_scatter.png
# ```
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson08.py`; the reference answers are in `lessons/solutions/lesson08.py`.
#
# **8.1 Reparameterize.** Write `reparameterize(mu, logvar, eps)`: z = μ + σ·ε with σ from the log-variance
# (the noise ε is passed in, so the checks can repeat it). Mind the ½.
#
# **8.2 The KL term.** Write `kl_divergence(mu, logvar)`: KL(N(μ, diag σ²) ‖ N(0, I)) for each row, summed over
# the latent dimensions, (N, d) → (N,), with minigen ops. Derive it if you like: for one dimension,
# KL = E_q[log q(z) − log p(z)] = ½(σ² + μ² − 1 − log σ²). Both, against this lesson's numbers:

# %%
lesson08 = exercise_module(8)
eps = minigen.tensor([[0.5, -1.0]])
print("z =", lesson08.reparameterize(minigen.tensor([[1.0, 0.0]]), minigen.tensor([[0.0, np.log(4.0)]]), eps).numpy(),
      "(expected [[1.5, -2.0]]: σ = 1 and 2)")
print(f"KL = {lesson08.kl_divergence(mu_, logvar_).item():.4f} (closed form above: {closed:.4f})")

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson08` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson08` against your file. From here: `check(8, "exercises")`.

# %%
check(8)
