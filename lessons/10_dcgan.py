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
# # Lesson 10 — DCGAN, and measuring a generator
#
# **Time:** about 20 seconds in fast mode (the default: 2,000 embedded digits, a narrow DCGAN for 400 steps, a
# small evaluator for 3 epochs) and about 4 minutes in full mode (`MINIGEN_LESSON_MODE=full`: MNIST's 60,000
# training images, found through `$MINIGEN_DATA`, `data/` or downloaded; the DCGAN for 2 epochs, the evaluator
# for 1) on a 2-core CPU.
#
# Lesson 09's MLP GAN treats an image as 784 unrelated numbers. **DCGAN** (Radford, Metz and Chintala, 2016)
# plays the same game with the layers that know images are made of local patterns: convolutions (lesson 04) in
# the discriminator, transposed convolutions (lesson 05) in the generator, batch normalization (lesson 06) in
# between. It made GAN training on images far more reliable than before, and its recipe is still the usual
# starting point. We build it, train it, and then face the question lesson 09 left open: a GAN has no
# likelihood to report, so **how good are its samples?** We answer with numbers from a classifier that knows
# digits: the Fréchet distance, the classifier score and the class shares.

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import data, metrics, nn, optim, viz
from minigen.models import Classifier, DCGANDiscriminator, DCGANGenerator
from minigen.models.dcgan import init_weights
from minigen.models.gan import discriminator_loss, generator_loss
from minigen.nn import functional as F
from minigen.models.gan import slerp
from course import FAST, check, digit_images, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. The DCGAN recipe
#
# The paper's guidelines, each with its reason:
#
# - **No pooling, no hidden dense layers.** Many networks shrink their maps by a fixed rule, *pooling* (max
#   pooling replaces each 2×2 block by its largest value), and grow them by copying pixels (lesson 05's resize).
#   Here D shrinks the image with *strided* convolutions, G grows it with strided *transposed* convolutions:
#   both learn their own down- and upsampling. One dense layer remains at each end, to reshape noise into a
#   small map and a map into one logit.
# - **Batch normalization** in G, and in D's inner layers (never on D's input or G's output; lesson 06,
#   section 7). It keeps each layer's inputs at a steady scale while both networks move, and in G it helps
#   against collapse: with every layer's output normalized over the batch, G cannot easily map every z to the
#   same image.
# - **ReLU in G, LeakyReLU(0.2) in D, tanh at G's output.** The leaky slope lets gradients from D reach G through
#   every unit; tanh bounds G's pixels to [−1, 1], where the data is scaled to match.
# - **Weights from N(0, 0.02²)** (standard deviation 0.02), batch-norm scales from N(1, 0.02²), biases 0.
# - **Adam with β₁ = 0.5**, learning rate 2e-4 (lesson 09 explained why a shorter memory suits a moving target).
#
# ## 2. Two generators, layer by layer
#
# `minigen.models.dcgan` has two versions for 28×28 images. `arch="5x5"` follows TensorFlow's DCGAN tutorial:
# 5×5 kernels, LeakyReLU in G too, dropout instead of batch norm in D. `arch="421"` follows the paper more
# closely: kernel 4, stride 2, padding 1 everywhere, ReLU in G, batch norm in D. Both start from a (4w, 7, 7)
# map (w is the width, 64 by default) and double its size twice. A forward pass, layer by layer, with each
# transposed convolution's output size from lesson 05's formula (dilation 1), H_out = (H − 1)·s − 2p + k +
# output_padding, and each convolution's from lesson 04's, ⌊(H + 2p − k)/s⌋ + 1:

# %%
def transposed_size(h, k, s, p, op=0):
    return (h - 1) * s - 2 * p + k + op


def conv_size(h, k, s, p):
    return (h + 2 * p - k) // s + 1


def walk(layers, x):
    """Run x through the layers one by one and print each output's shape (and the size formula of convs)."""
    for layer in layers:
        h = x.shape[-1]
        x = layer(x)
        line = f"    {type(layer).__name__:<16} → {str(tuple(x.shape)):<18}"
        if isinstance(layer, (nn.ConvTranspose2d, nn.Conv2d)):
            (k, _), (s, _), (p, _) = layer.kernel_size, layer.stride, layer.padding
            if isinstance(layer, nn.ConvTranspose2d):
                op = layer.output_padding[0]
                line += f"({h} − 1)·{s} − 2·{p} + {k} + {op} = {transposed_size(h, k, s, p, op)}"
            else:
                line += f"⌊({h} + 2·{p} − {k}) / {s}⌋ + 1 = {conv_size(h, k, s, p)}"
        print(line)
    return x


minigen.manual_seed(0)
with minigen.no_grad():
    for arch in ("5x5", "421"):
        G, D = DCGANGenerator(arch=arch), DCGANDiscriminator(arch=arch)
        print(f"arch={arch!r}: G has {G.num_parameters():,} parameters, D {D.num_parameters():,}")
        print("  G: z (2, 100)")
        image = walk(G.net, minigen.randn(2, 100))
        print("  D: image", tuple(image.shape))
        walk([*D.features, D.head], image)

# %% [markdown]
# Why 4/2/1? With kernel k and stride s, a transposed convolution stamps each input pixel's k×k kernel s pixels
# apart. When s divides k, every output pixel is covered by the same number of stamps (k/s per axis); with k = 5
# and s = 2 neighbouring pixels get 3 and 2 in turn: lesson 05's checkerboard. `arch="5x5"` is the network of
# workload W3 of `minigen bench` (lesson 13) and what `minigen train dcgan` uses by default; this lesson trains
# 4/2/1, which is also the cheaper of the two.
#
# The initialization, applied by both constructors:

# %%
print(inspect.getsource(init_weights))
G = DCGANGenerator(arch="421")
conv = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)][0]   # modules(): G and every layer inside
norm = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)][0]
for name, weight in (("transposed conv weights", conv.weight), ("batch-norm scales", norm.weight)):
    values = weight.detach().numpy()
    print(f"{name:<24} mean {values.mean():+.4f}, std {values.std():.4f}")

# %% [markdown]
# ## 3. Training
#
# The training step is lesson 09's: D on a real batch and detached fakes, then G through the frozen D with the
# non-saturating loss. Fast mode uses a narrow network (width 8) on the embedded digits with a higher learning
# rate, to see digit-like shapes within 400 steps; full mode uses width 32 on MNIST for 2 epochs with minigen's
# defaults for DCGAN, 2e-4 for G and 1e-4 for D. At six moments, ever further apart (steps 0, T/16, T/8, T/4,
# T/2 and T of T steps), G draws from the same fixed noise: those samples show training progress, and we keep
# them to measure later.

# %%
DATASET = fast_or_full("digits", "mnist")
train_images, train_labels = digit_images(DATASET, train=True, n=fast_or_full(2000, None))   # (N, 28, 28) in [0, 1]
test_images, test_labels = digit_images(DATASET, train=False, n=fast_or_full(500, 10000))
print(f"{DATASET}: {len(train_images)} training and {len(test_images)} test images")

WIDTH, BATCH = fast_or_full(8, 32), fast_or_full(32, 64)
LR_G, LR_D = fast_or_full(5e-4, 2e-4), fast_or_full(2e-4, 1e-4)
loader = data.DataLoader(data.TensorDataset((train_images * 2 - 1)[:, None]),      # (N, 1, 28, 28) in [−1, 1]
                         batch_size=BATCH, shuffle=True, drop_last=True, seed=0)
minigen.manual_seed(0)
G, D = DCGANGenerator(arch="421", width=WIDTH), DCGANDiscriminator(arch="421", width=WIDTH)
opt_g = optim.Adam(G.parameters(), lr=LR_G, betas=(0.5, 0.999))
opt_d = optim.Adam(D.parameters(), lr=LR_D, betas=(0.5, 0.999))

N_EVAL = fast_or_full(500, 2000)                                   # generated images to measure, per snapshot
fixed_z = np.random.default_rng(1).standard_normal((N_EVAL, 100)).astype(np.float32)


def generate(G, z, batch=500):
    """Noise (N, 100) → images (N, 28, 28) in [0, 1], with G in evaluation mode (batch norm's running
    statistics, so an image does not depend on the others in its batch)."""
    G.eval()
    with minigen.no_grad():
        out = np.concatenate([G(minigen.tensor(z[i:i + batch])).numpy() for i in range(0, len(z), batch)])
    G.train()
    return (out[:, 0] + 1) / 2


total_steps = fast_or_full(400, 2 * len(loader))
snapshot_steps = sorted({0, total_steps // 16, total_steps // 8, total_steps // 4, total_steps // 2, total_steps})
snapshots = {0: generate(G, fixed_z)}
curves = {name: ([], []) for name in ("D loss", "G loss", "D(x)", "D(G(z))")}
step = 0
while step < total_steps:
    for (x,) in loader:
        fake = G(minigen.randn(x.shape[0], 100))                                    # (B, 1, 28, 28)
        real_logits, fake_logits = D(x), D(fake.detach())                          # (B, 1) each
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
        for name, value in zip(curves, (loss_d.item(), loss_g.item(), real_logits.sigmoid().mean().item(),
                                        fake_logits.sigmoid().mean().item())):
            curves[name][0].append(step)
            curves[name][1].append(value)
        if step in snapshot_steps:
            snapshots[step] = generate(G, fixed_z)
            print(f"step {step:5}: D loss {loss_d.item():.3f}, G loss {loss_g.item():.3f}")
        if step == total_steps:
            break

# %% [markdown]
# The same 12 noise vectors after each number of steps (one row per snapshot): noise, then blobs, then strokes.

# %%
rows = np.concatenate([snapshots[s][:12] for s in snapshot_steps])                  # (snapshots·12, 28, 28)
fig, ax = plt.subplots(figsize=(9, 0.8 * len(snapshot_steps) + 0.5))
ax.imshow(viz.make_grid(rows, nrow=12), cmap="gray", vmin=0, vmax=1)
ax.set_xticks([]); ax.set_yticks([2 + 30 * i + 14 for i in range(len(snapshot_steps))])  # row i's middle
# (make_grid puts 2 pixels of padding around each 28×28 image: row i starts at pixel 2 + 30·i)
ax.set_yticklabels([f"step {s}" for s in snapshot_steps])
ax.set_title(f"DCGAN (4/2/1, width {WIDTH}) on {DATASET}: fixed noise over training")
save_figure(fig, "10_dcgan_progress")
plt.show()
fig = viz.image_grid(snapshots[total_steps][:64], nrow=16, title=f"64 samples after {total_steps} steps")
plt.show()


def smooth(xs, ys, k):
    """A moving average over k steps: (steps, values) → the same, shorter."""
    return xs[k - 1:], np.convolve(ys, np.ones(k) / k, mode="valid")


k = fast_or_full(20, 100)
fig = viz.loss_panels({"losses": {n: smooth(*curves[n], k) for n in ("D loss", "G loss")},
                       "D's mean output": {n: smooth(*curves[n], k) for n in ("D(x)", "D(G(z))")}},
                      title=f"DCGAN on {DATASET}, moving averages over {k} steps")
plt.show()
at, real_mean = smooth(*curves["D(x)"], k)
_, fake_mean = smooth(*curves["D(G(z))"], k)
lead = int(np.argmax(real_mean - fake_mean))                   # where D is furthest ahead
print(f"D's largest lead, at step {at[lead]}: D(x) {real_mean[lead]:.2f}, D(G(z)) {fake_mean[lead]:.2f}; "
      f"at the end: D(x) {real_mean[-1]:.2f}, D(G(z)) {fake_mean[-1]:.2f}")

# %% [markdown]
# As on the ring, the curves describe the state of the game, not the quality of the samples. In both modes D
# pulls ahead early, within the first few hundred steps (D(G(z)) falls, D's loss falls while G's rises): G's
# first outputs are easy to tell from digits. Then G catches up part of the way and the two outputs settle
# apart, drifting towards ½ without reaching it (the numbers above). A D(x) near 1 with D(G(z)) near 0 *for
# long* would mean D has won and G's gradients are fading. Both near ½ means D is only just better than chance,
# which is no obstacle to G improving: G learns from the direction of D's gradient, not from D's loss.
#
# ## 4. Walking through the latent space
#
# If G has learned a smooth map, nearby noise vectors give similar images, and a path between two z gives a
# gradual change. In 100 dimensions the straight line is the wrong path: samples of N(0, I) have norm ≈ √100 =
# 10, and the midpoint of two of them, being nearly orthogonal, has norm ≈ 10/√2 ≈ 7, a place the prior
# almost never produces. The great circle between them (**slerp**) keeps the norm typical:

# %%
print(inspect.getsource(slerp))
ends = np.random.default_rng(2).standard_normal((12, 100)).astype(np.float32)
t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]                            # (10, 1)
half = np.array([[0.5]], dtype=np.float32)
print(f"norms: the ends {np.linalg.norm(ends, axis=1).mean():.1f} on average; halfway between the first two, "
      f"{np.linalg.norm((ends[0] + ends[1]) / 2):.1f} on the straight line, "
      f"{np.linalg.norm(slerp(ends[0], ends[1], half)[0]):.1f} on the great circle")
strips = [generate(G, slerp(ends[2 * i], ends[2 * i + 1], t).astype(np.float32)) for i in range(6)]
fig = viz.interpolation(strips, title="six great-circle walks between two noise vectors")
plt.show()

# %% [markdown]
# ## 5. Measuring: a judge that knows digits
#
# Looking at samples is essential, and not enough: it does not compare runs fairly, and it misses what a
# glance cannot see, such as a digit that never appears. The standard numbers, FID and the Inception score,
# come from an ImageNet classifier (Inception v3). For digits a digit classifier is the better judge. Ours is
# `minigen.models.Classifier`, a LeNet-style CNN: two 5×5 convolutions with max pooling, a 256-unit dense layer
# whose output φ(x) serves as the image's **features**, and a final layer giving 10 logits, whose softmax is the
# class probabilities p(y|x). We train it on the real training images with cross-entropy:

# %%
print(inspect.getsource(Classifier.__init__))
minigen.manual_seed(0)
judge = Classifier(width=fast_or_full(8, 16))
opt = optim.Adam(judge.parameters(), lr=fast_or_full(2e-3, 1e-3))
judge_loader = data.DataLoader(data.TensorDataset(train_images[:, None], train_labels), batch_size=128,
                               shuffle=True, seed=0)
for epoch in range(fast_or_full(3, 1)):
    for x, y in judge_loader:
        loss = F.cross_entropy(judge(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
judge.eval()                                                       # no dropout from here on


def judge_images(images, batch=500):
    """Images (N, 28, 28) in [0, 1] → features φ (N, 256) and class probabilities p(y|x) (N, 10)."""
    features, probs = [], []
    with minigen.no_grad():
        for i in range(0, len(images), batch):
            h = judge.features(minigen.tensor(images[i:i + batch, None]))        # (B, 256)
            features.append(h.numpy())
            probs.append(F.softmax(judge.head(h), dim=1).numpy())               # (B, 10)
    return np.concatenate(features), np.concatenate(probs)


f_test, p_test = judge_images(test_images)
n = min(len(test_images), len(train_images), N_EVAL)
f_train, p_train = judge_images(train_images[:n])
print(f"the judge's test accuracy: {(p_test.argmax(1) == test_labels).mean():.1%}")

# %% [markdown]
# ### The Fréchet distance
#
# Fit a Gaussian to the features of each set of images: N(μ₁, Σ₁) for generated images, N(μ₂, Σ₂) for real
# test images. The **Fréchet distance** (or 2-Wasserstein distance) between two Gaussians has a closed form
# (Dowson and Landau, 1982), and on Inception features it is the FID (Heusel et al., 2017):
#
# d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½).
#
# In one dimension it is (μ₁ − μ₂)² + (σ₁ − σ₂)²: the means must agree, and so must the spreads. Too little
# variety, the mark of mode collapse, shrinks Σ₁ and raises d² even when every sample looks fine.
#
# The matrix square root needs a little care, since Σ₁Σ₂ is not symmetric. But with Σ₁^½ = V diag(√w) Vᵀ from
# the eigendecomposition Σ₁ = V diag(w) Vᵀ (symmetric, so `eigh` applies),
#
# Σ₁Σ₂ = Σ₁^½ (Σ₁^½ Σ₂ Σ₁^½) Σ₁^−½,
#
# so Σ₁Σ₂ is *similar* to M = Σ₁^½ Σ₂ Σ₁^½: they have the same eigenvalues. M is symmetric positive
# semi-definite, so its eigenvalues λᵢ are real and ≥ 0, and tr (Σ₁Σ₂)^½ = Σᵢ √λᵢ. Two symmetric
# eigendecompositions, no iterative matrix square root (exercise 10.2):

# %%
print(inspect.getsource(metrics.sqrtm_psd))
print(inspect.getsource(metrics.frechet_distance))

# %% [markdown]
# ### The classifier score
#
# The Inception score (Salimans et al., 2016), with our judge in Inception's place:
#
# score = exp(E_x[KL(p(y|x) ‖ p(y))]),  p(y) = E_x[p(y|x)].
#
# Each image should be classified confidently (p(y|x) peaked) *and* the classes should be used evenly
# (p(y), the average prediction, flat); the KL between the two is large only when both hold. Since
# E_x KL(p(y|x) ‖ p(y)) = H(p(y)) − E_x H(p(y|x)), with the entropy H(p) = −Σ_y p(y) log p(y) (0 for a sure
# prediction, log 10 for a uniform one), the score is at most exp(log 10) = 10: for
# confident predictions spread evenly over 10 classes. It is 1 when every image gets the same p(y|x), whether
# unsure of everything or sure of one class (exercise 10.1). The **class shares**, the fraction of samples the
# judge assigns to each digit, show *which* classes are missing.

# %%
print(inspect.getsource(metrics.classifier_score))
one_hot = np.eye(10)
print("confident, balanced:", metrics.classifier_score(one_hot[np.arange(1000) % 10]),
      "| all alike:", metrics.classifier_score(np.full((1000, 10), 0.1)),
      "| confident, only 2 classes:", metrics.classifier_score(one_hot[np.arange(1000) % 2]))

# %% [markdown]
# ### Scoring the generator
#
# Three reference points make the numbers readable: real training images against the test images (what a
# perfect generator would score: the FID is not 0, because two finite samples never have identical statistics);
# the untrained G (step 0); and a "collapsed generator" that returns real images of only two digits, ones and
# sevens, perfect images with no variety.

# %%
def scores(images):
    features, probs = judge_images(images)
    shares = metrics.class_shares(probs)
    return {"FID": metrics.fid(features, f_test), "score": metrics.classifier_score(probs),
            "min share": min(shares), "max share": max(shares), "shares": shares}


sets = {"real (train vs test)": train_images[:n],
        "G untrained": snapshots[0][:n],
        f"G after {total_steps} steps": snapshots[total_steps][:n],
        "real 1s and 7s only": train_images[np.isin(train_labels, (1, 7))][:n]}
table = {name: scores(images) for name, images in sets.items()}
print(f"FID against the {len(test_images)} test images\n")
print(f"{'':24} {'images':>7} {'FID':>8} {'score':>7} {'min share':>10} {'max share':>10}")
for name, row in table.items():
    print(f"{name:24} {len(sets[name]):7} {row['FID']:8.2f} {row['score']:7.2f} {row['min share']:10.1%} "
          f"{row['max share']:10.1%}")

# %% [markdown]
# And along training, from the fixed-noise snapshots, beside the class shares of the last one:

# %%
history = {s: scores(snapshots[s][:n]) for s in snapshot_steps}
fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 3.6))
a.plot(snapshot_steps, [history[s]["FID"] for s in snapshot_steps], "o-", label="generated")
a.axhline(table["real (train vs test)"]["FID"], color="0.5", ls="--", label="real train vs test")
a.set_yscale("log"); a.set_xlabel("step"); a.set_title("Fréchet distance to the test set (lower is better)")
a.legend()
b.plot(snapshot_steps, [history[s]["score"] for s in snapshot_steps], "o-", label="generated")
b.axhline(table["real (train vs test)"]["score"], color="0.5", ls="--", label="real images")
b.set_ylim(1, 10); b.set_xlabel("step"); b.set_title("classifier score (higher is better, at most 10)")
b.legend()
digits = np.arange(10)
c.bar(digits - 0.2, table["real (train vs test)"]["shares"], 0.4, label="real")
c.bar(digits + 0.2, table[f"G after {total_steps} steps"]["shares"], 0.4, label="generated")
c.axhline(0.1, color="0.5", lw=0.8)
c.set_xticks(digits); c.set_xlabel("digit the judge sees"); c.set_title("class shares"); c.legend()
plt.show()

# %% [markdown]
# How to read them. The FID falls as the samples improve, but stays far above the real images' own
# train-versus-test value. The score rises from 1 (the untrained G's near-identical grey images all get the
# same prediction); a score well below the real images' means the judge is often unsure what the samples show.
# The collapsed set of real 1s and 7s is the instructive row: its images are perfect, so a glance at a few of
# them would pass, yet its score is about 2 (two classes), its class shares are 0, or nearly, for eight digits,
# and its FID is large, because its features cover two small corners of the real distribution. Each number
# sees something the others miss, which is why `minigen eval` reports all three.
#
# Two cautions. These numbers are only comparable when computed the same way: the same judge, the same number
# of images (the FID of a finite sample is biased upwards, more so for fewer images), the same test set. And
# they measure what the judge can see: a judge trained for one epoch (or, in fast mode, on 2,000 digits) sees
# less than a good one.
#
# ## 6. The same at full scale
#
# `minigen` does all of this from the command line, with run directories, checkpoints, pictures after every
# epoch, and a better judge (the classifier trained for 4 epochs, about 99 % on MNIST's test set):
#
# ```bash
# minigen train classifier --dataset mnist              # the judge: runs/classifier-mnist
# minigen train dcgan --dataset mnist --epochs 10       # 5x5 by default; --arch 421, --width 32, --ema 0.999
# minigen eval runs/dcgan-mnist                         # FID, classifier score, class shares of 10,000 samples,
#                                                       # beside the same numbers for real images
# ```
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson10.py`; the reference answers are in `lessons/solutions/lesson10.py`.
#
# **10.1 The classifier score.** Write `classifier_score(probs)` in NumPy: exp of the mean, over images, of
# KL(p(y|x) ‖ p(y)). Check yourself: one-hot predictions spread evenly over k classes score k.
#
# **10.2 The Fréchet distance.** Write `frechet_distance(mu1, sigma1, mu2, sigma2)` with `np.linalg.eigh`,
# following section 5's derivation. In one dimension it must give (μ₁ − μ₂)² + (σ₁ − σ₂)².
#
# Both, on this lesson's numbers:

# %%
lesson10 = exercise_module(10)
features, probs = judge_images(snapshots[total_steps][:n])
try:
    checked = f"lessons/{lesson10.__name__.replace('.', '/')}.py"           # the solutions or your exercises
    print(f"classifier score: {checked} {lesson10.classifier_score(probs):.4f}, "
          f"minigen's {metrics.classifier_score(probs):.4f}")
    mine = lesson10.frechet_distance(*metrics.gaussian_stats(features), *metrics.gaussian_stats(f_test))
    print(f"Fréchet distance: {checked} {mine:.4f}, minigen's {metrics.fid(features, f_test):.4f}")
except NotImplementedError as error:
    print("not written yet:", error)

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson10 tests/test_lesson10.py` runs this lesson's tests against
# the solutions; `MINIGEN_CHECK=exercises python -m pytest -m lesson10 tests/test_lesson10.py` against your
# file. From here: `check(10, "exercises")`.

# %%
check(10)
