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
# # Lesson 07 — The autoencoder
#
# **Time:** about 15 seconds in fast mode (the default: 2,000 digits, 15 epochs) and about 1½ minutes
# in full mode (`MINIGEN_LESSON_MODE=full`: all 10,000 embedded digits, 30 epochs) on a 2-core CPU. The first
# run also renders the digits (about 3 ms each) and caches them under `data/`.
#
# This is the first *generative* model of the course, or nearly. An **autoencoder** squeezes each image
# through a narrow bottleneck, a code z of a few numbers, and learns to rebuild the image from the code alone.
# To succeed it must discover what digits have in common: the code becomes a compact description of the image.
# With a 2-number code we can draw the whole code space and see what it learned, and we will see why decoding
# *random* codes does not yet give good digits, the problem lesson 08's variational autoencoder solves.

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import data, nn, optim, viz
from minigen.models import Autoencoder
from minigen.models.autoencoder import reconstruction_loss
from minigen.nn import functional as F
from course import FAST, check, digit_images, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. The data
#
# minigen's default dataset needs no download: 28×28 digits rendered from the fonts matplotlib ships, with
# random strokes, slants and wobbles, white on black like MNIST (`minigen/data/digits.py` explains how). Pixels
# are scaled to [0, 1]. (To use MNIST instead, set `DATASET = "mnist"`; it is found through `$MINIGEN_DATA`,
# `data/` or downloaded.)

# %%
DATASET = "digits"
train_images, train_labels = digit_images(DATASET, train=True, n=fast_or_full(2000, 10000))
test_images, test_labels = digit_images(DATASET, train=False, n=fast_or_full(500, 2000))
print(f"{len(train_images)} training and {len(test_images)} test images of shape {train_images.shape[1:]}, "
      f"pixels in [{train_images.min()}, {train_images.max()}]")
fig = viz.image_grid(train_images[:48], nrow=12, title="training images")
plt.show()

# %% [markdown]
# ## 2. Encoder, bottleneck, decoder
#
# `minigen.models.Autoencoder` is two stacks of lesson 03's dense layers. The **encoder** maps the 784 pixels
# through 512 and 128 units down to the code, here 2 numbers; the **decoder** mirrors it, from the code back to
# 784 numbers, one per pixel. Nothing else forces the network to compress: the bottleneck alone does.

# %%
minigen.manual_seed(0)
model = Autoencoder(latent_dim=2)                 # 784 → 512 → 128 → 2 → 128 → 512 → 784
print(model)
print(f"{model.num_parameters():,} parameters")
x = minigen.tensor(train_images[:5])                                    # (5, 28, 28)
print("images", x.shape, "→ codes", model.encode(x).shape, "→ outputs", model(x).shape)

# %% [markdown]
# ## 3. The loss: cross-entropy on logits
#
# How different is a reconstruction from the original? Treat each pixel value p ∈ [0, 1] as the probability
# that the pixel is on, and the decoder's output for that pixel as a **logit** l, the log-odds of "on"
# (probability σ(l), σ the sigmoid). The loss is the binary cross-entropy, summed over the 784 pixels and
# averaged over the batch:
#
# BCE(l, p) = −[p·log σ(l) + (1 − p)·log(1 − σ(l))] = softplus(l) − p·l,
#
# where softplus(l) = log(1 + eˡ). Why the second form? The first computes σ(l) and then its logarithm. In
# float32, 1 − σ(20) rounds to exactly 0, and log 0 = −∞: one confidently wrong pixel makes the loss infinite
# and its gradient NaN (and σ(−100) ≈ 4e-44 is so close to float32's limit that its log comes out wrong in the
# fourth digit). The logits form never takes the log of a small number:

# %%
logits = minigen.tensor([-100.0, -20.0, 0.0, 20.0, 100.0], requires_grad=True)
target = minigen.tensor([1.0, 1.0, 1.0, 0.0, 0.0])
with np.errstate(all="ignore"):
    naive = -(target * logits.sigmoid().log() + (1 - target) * (1 - logits.sigmoid()).log())
stable = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
print("from probabilities:", naive.detach().numpy())
print("from logits:       ", stable.detach().numpy())
stable.sum().backward()
print("gradient (logits form), σ(l) − p:", logits.grad.numpy())

# %% [markdown]
# (Exercise 7.1 asks you to write the logits form yourself, with minigen ops.) The autoencoder's loss is this
# cross-entropy, summed over the pixels and averaged over the batch, in nats (natural-log units) per image:

# %%
print(inspect.getsource(reconstruction_loss))
print(f"before training: {reconstruction_loss(model(x), x).item():.1f} nats per image "
      f"(784·log 2 = {784 * np.log(2):.1f} for a decoder that always says ½)")

# %% [markdown]
# ## 4. Training
#
# The loop is lesson 03's, with the data coming in shuffled mini-batches from a `DataLoader`: forward, loss,
# zero the gradients, backward, Adam step. After every epoch we measure the loss on the test images, inside
# `no_grad()` since no gradient is needed there.

# %%
loader = data.DataLoader(data.TensorDataset(train_images, train_labels), batch_size=128, shuffle=True, seed=0)
optimizer = optim.Adam(model.parameters(), lr=3e-3)
x_test = minigen.tensor(test_images)
history = {"train": ([], []), "test": ([], [])}
epochs = fast_or_full(15, 30)
for epoch in range(1, epochs + 1):
    total = 0.0
    for images, _ in loader:
        loss = reconstruction_loss(model(images), images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(images)
    with minigen.no_grad():
        test_loss = reconstruction_loss(model(x_test), x_test).item()
    for name, value in (("train", total / len(train_images)), ("test", test_loss)):
        history[name][0].append(epoch)
        history[name][1].append(value)
    if epoch % 5 == 0 or epoch == 1:
        print(f"epoch {epoch:3}: train {history['train'][1][-1]:.1f}, test {test_loss:.1f} nats per image")
fig = viz.loss_curves(history, title="autoencoder, 2-D code", xlabel="epoch")
plt.show()

# %% [markdown]
# ## 5. Reconstructions
#
# Test images (top) and what the decoder makes of their 2-number codes (bottom). Two numbers cannot hold every
# detail, so the reconstructions are blurred, "typical" versions of the input, but the digit is mostly right.

# %%
model.eval()
with minigen.no_grad():
    rebuilt = model(x_test[:16]).sigmoid().numpy().reshape(-1, 28, 28)
fig = viz.reconstructions(test_images[:16], rebuilt)
plt.show()

# %% [markdown]
# ## 6. The code space
#
# Every test image is now a point in the plane. Coloured by the digit it shows (the labels were never used in
# training), similar digits land near each other: the encoder has sorted them without being told what they are.
# On the right, the decoder's output for a grid of codes covering the same region.

# %%
with minigen.no_grad():
    codes = model.encode(x_test).numpy()                                # (N, 2)
lo, hi = np.percentile(codes, 2, axis=0), np.percentile(codes, 98, axis=0)
steps = 12
grid = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(hi[1], lo[1], steps)), -1)
with minigen.no_grad():
    decoded = model.decode(minigen.tensor(grid.reshape(-1, 2).astype(np.float32))).sigmoid().numpy()

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5))
points = left.scatter(codes[:, 0], codes[:, 1], c=test_labels, cmap="tab10", s=6)
fig.colorbar(points, ax=left, ticks=range(10))
left.set_xlim(lo[0], hi[0]); left.set_ylim(lo[1], hi[1]); left.set_title("test images, by their codes")
right.imshow(viz.make_grid(decoded.reshape(-1, 28, 28), nrow=steps), cmap="gray")
right.axis("off"); right.set_title("the decoder over the same region")
save_figure(fig, "07_latent")
plt.show()

# %% [markdown]
# ## 7. Why this is not yet a generator
#
# To *make* new digits we would pick a code and decode it. But which codes? The autoencoder never said where
# codes should go: the clusters have odd shapes and sizes, some regions are empty, and the scale is arbitrary.
# Codes drawn at random from a simple distribution (here a Gaussian fitted to the test codes) often fall
# between clusters, and decode to smudges:

# %%
rng = np.random.default_rng(0)
random_codes = rng.multivariate_normal(codes.mean(0), np.cov(codes.T), size=32).astype(np.float32)
with minigen.no_grad():
    samples = model.decode(minigen.tensor(random_codes)).sigmoid().numpy().reshape(-1, 28, 28)
fig = viz.image_grid(samples, nrow=16, title="decoded random codes")
plt.show()

# %% [markdown]
# Lesson 08's variational autoencoder adds one thing: a training signal that makes the codes fill a standard
# Gaussian, so that *any* code drawn from it decodes to a plausible digit.
#
# The same training, with pictures written to a run directory, is one command (`--arch conv` uses
# convolutions, lesson 04, and transposed convolutions, lesson 05):
#
# ```bash
# minigen train ae --latent-dim 2              # this lesson's model on the 10,000 digits
# minigen train ae --arch conv --latent-dim 2 --dataset mnist
# ```
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson07.py`; the reference answers are in `lessons/solutions/lesson07.py`.
#
# **7.1 Cross-entropy on logits.** Write `bce_with_logits(logits, targets)`: the binary cross-entropy summed over
# all elements, in the stable form max(l, 0) − p·l + log(1 + e^(−|l|)) (equal to softplus(l) − p·l), with
# minigen ops so that it has a gradient. It must stay finite for logits of ±1000.
#
# **7.2 Fix a broken decoder.** `make_decoder(latent_dim)` in the exercise file builds a decoder that trains,
# yet whose images never get a black background. The cell below shows the range of pixel values it produces
# for 256 random codes. With your file the darkest is exactly 0.500, whatever the codes and whatever the
# weights: why? Fix it.

# %%
lesson07 = exercise_module(7)
minigen.manual_seed(0)
decoder = lesson07.make_decoder(2)
with minigen.no_grad():
    pixels = decoder(minigen.randn(256, 2) * 3).sigmoid().numpy()
print(f"pixel values from 256 random codes: {pixels.min():.3f} to {pixels.max():.3f}")

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson07` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson07` against your file. From here: `check(7, "exercises")`.

# %%
check(7)
