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
# # Lesson 05 — Transposed convolution
#
# **Time:** about 5 seconds in fast mode (the default) and about 10 seconds in full mode
# (`MINIGEN_LESSON_MODE=full`, which checks more random cases) on a 2-core CPU.
#
# A classifier shrinks an image to a label. A generator must go the other way, from a small
# code to a 28×28 image. Convolutions with stride shrink; we need a layer that grows. Lesson 04 already met
# one: the backward pass of a convolution takes a gradient the size of the *output* and returns one the size of
# the *input*. Used as a layer of its own, that map is the **transposed convolution**. This lesson builds it
# from that observation, works out its output sizes, and looks at its best-known flaw, checkerboard
# artifacts, and at the usual remedy: resize, then convolve.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import nn
from minigen.nn import functional as F
from course import FAST, check, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. The gradient of a convolution is a layer that grows
#
# Take y = conv(x, w) with stride 2: x is (1, 3, 8, 8), y is (1, 4, 4, 4). For an upstream gradient g shaped
# like y, backward returns ∂⟨g, y⟩/∂x, shaped like x. Since the convolution is *linear* in x, that gradient does
# not depend on x at all: it is a linear function of g alone, mapping a 4×4 grid to an 8×8 one.
#
# minigen names that function `F.conv_transpose2d(g, w, stride, padding, output_padding)`. The same weight w
# is used, now read as (in_channels=4, out_channels=3, kh, kw). Computing it both ways:

# %%
rng = np.random.default_rng(0)
x = minigen.tensor(rng.standard_normal((1, 3, 8, 8)), requires_grad=True)
w = minigen.tensor(rng.standard_normal((4, 3, 3, 3)))
g = minigen.tensor(rng.standard_normal((1, 4, 4, 4)))

y = F.conv2d(x, w, stride=2, padding=1)                       # (1, 3, 8, 8) → (1, 4, 4, 4)
(grad_x,) = minigen.grad(y, x, grad_outputs=g)                # (1, 4, 4, 4) → (1, 3, 8, 8)
grown = F.conv_transpose2d(g, w, stride=2, padding=1, output_padding=1)
print("y:", y.shape, " gradient:", grad_x.shape, " conv_transpose2d:", grown.shape)
print("largest difference:", float(np.abs(grad_x.numpy() - grown.numpy()).max()))

# %% [markdown]
# That is also why it is called *transposed*. Write the convolution as a matrix C acting on the flattened
# image, y = C x. Its gradient with respect to x is Cᵀ g: the transposed matrix. (It is sometimes called
# "deconvolution", a misleading name: it does not undo the convolution, it only has the shapes of an inverse.)
#
# And since conv_transpose is Cᵀ, its own gradient is (Cᵀ)ᵀ = C, a convolution again: the two layers are each
# other's backward, which is how minigen implements them (`minigen/ops/conv.py`), and why gradients of
# gradients flow through both.

# %% [markdown]
# ## 2. What it does: every input pixel stamps the kernel
#
# Reading Cᵀ column by column gives a direct picture. Each input pixel places a copy of the kernel, scaled by
# the pixel's value, onto the output, with copies `stride` pixels apart; where copies overlap, they add. (The
# ordinary convolution *gathers* a patch into one output; the transposed one *scatters* one input over a patch.)
# Below, a 3×3 kernel with stride 2, first for a single lit pixel, then for three:

# %%
kernel = minigen.tensor(np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32)[None, None])  # (1, 1, 3, 3)
single = np.zeros((1, 1, 3, 3), dtype=np.float32)
single[0, 0, 1, 1] = 1
three = np.zeros((1, 1, 3, 3), dtype=np.float32)
three[0, 0, 0, 0], three[0, 0, 1, 1], three[0, 0, 1, 2] = 1, 1, 0.5

fig, axes = plt.subplots(1, 4, figsize=(9, 2.5), gridspec_kw={"width_ratios": [3, 7, 3, 7]})
for (ax_in, ax_out), image in zip((axes[:2], axes[2:]), (single, three)):
    out = F.conv_transpose2d(minigen.tensor(image), kernel, stride=2).numpy()      # (1, 1, 7, 7)
    for ax, values, title in ((ax_in, image[0, 0], "input 3×3"), (ax_out, out[0, 0], "output 7×7")):
        ax.imshow(values, cmap="Blues", vmin=0, vmax=4)
        for (r, c), v in np.ndenumerate(values):
            if v:
                ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=7)
        ax.set_title(title, fontsize=9); ax.set_xticks([]); ax.set_yticks([])
plt.show()

# %% [markdown]
# ## 3. Output sizes, and why `output_padding` exists
#
# An input pixel at position a stamps output rows a·s − p … a·s − p + d·(k − 1). So H input rows give
#
# H_out = (H − 1)·s − 2p + d·(k − 1) + 1 + output_padding,
#
# the convolution's size formula solved for the input size. But the convolution's formula has a floor in it: a
# stride-2 conv maps *both* 28 and 27 rows to 14. Going back up from 14 is therefore ambiguous, and
# `output_padding` (0 ≤ output_padding < stride) picks which one: it adds that many rows at the end. The
# generators in this course go 7 → 14 → 28:

# %%
print(" kernel stride padding output_padding:   7 →  ?   14 →  ?")
for k, s, p, op in ((5, 2, 2, 1), (5, 2, 2, 0), (4, 2, 1, 0), (3, 2, 1, 1), (3, 1, 1, 0)):
    sizes = [F.conv_transpose2d(minigen.zeros(1, 1, n, n), minigen.zeros(1, 1, k, k), stride=s, padding=p,
                                output_padding=op).shape[-1] for n in (7, 14)]
    print(f"{k:7} {s:6} {p:7} {op:14}      {sizes[0]:3}        {sizes[1]:3}")

# %% [markdown]
# DCGAN's generator uses kernel 5, stride 2, padding 2, output_padding 1 (the first row); the 4/2/1 row gets
# there without output_padding. Exercise 5.1 asks for the output_padding a layer needs.
#
# ## 4. The adjoint identity, checked
#
# "conv_transpose is the transpose of conv" is a testable claim: for *every* x and y of the right shapes,
# ⟨conv(x, w), y⟩ = ⟨x, conv_transpose(y, w)⟩. minigen's tests check it on hypothesis-drawn parameters; here are
# a few random configurations, with strides, paddings, dilations and non-square kernels:

# %%
for trial in range(fast_or_full(5, 25)):
    kh, kw = rng.integers(1, 5, 2)
    s, d = rng.integers(1, 4), rng.integers(1, 3)
    p = rng.integers(0, 3)
    H = int(rng.integers(d * (max(kh, kw) - 1) + 1, 12))                         # the kernel fits
    xn = rng.standard_normal((2, 3, H, H))
    wn = rng.standard_normal((4, 3, kh, kw))
    yc = F.conv2d(minigen.tensor(xn), minigen.tensor(wn), stride=int(s), padding=int(p), dilation=int(d))
    yn = rng.standard_normal(yc.shape)
    # the output_padding that brings conv_transpose back to H rows and columns
    op = [H - ((n - 1) * s - 2 * p + d * (k - 1) + 1) for n, k in zip(yc.shape[2:], (kh, kw))]
    back = F.conv_transpose2d(minigen.tensor(yn), minigen.tensor(wn), stride=int(s), padding=int(p),
                              output_padding=tuple(int(o) for o in op), dilation=int(d))
    left, right = np.vdot(yc.numpy(), yn), np.vdot(xn, back.numpy())
    print(f"k {kh}×{kw} s {s} p {p} d {d}, x {H}×{H} → y {yc.shape[2]}×{yc.shape[3]}: "
          f"⟨conv x, y⟩ = {left:9.4f}  ⟨x, convᵀ y⟩ = {right:9.4f}")

# %% [markdown]
# ## 5. Checkerboard artifacts
#
# Look again at the stamps in section 2: with kernel 3 and stride 2, neighbouring copies overlap on every
# second row and column only. So even with all weights equal, some output pixels receive two contributions and
# their neighbours one: a **checkerboard**, built into the layer (Odena, Dumoulin and Olah, "Deconvolution and
# Checkerboard Artifacts", Distill 2016). With kernel 4 and stride 2 the overlaps are even (4 is divisible by
# 2), which is why DCGAN-style generators like 4/2/1.
#
# But even overlap only fixes the case of equal weights. Each output pixel of a stride-2 transposed conv sees a
# different subset of the kernel's taps depending on its position (one of 2×2 "phases"), and learned (here:
# random) weights give the phases different strengths. Stack three such layers and feed them a perfectly
# **flat** input: the output should be flat, and it is not. The remedy is to **resize, then convolve**: an
# ordinary nearest-neighbour upsampling (`F.interpolate`, or the `nn.Upsample` layer) followed by a stride-1
# convolution, in which every output pixel uses every tap.

# %%
ones = minigen.ones(1, 1, 8, 8)
counts = {                                                    # every weight 1: how many copies land where
    "kernel 3, stride 2": F.conv_transpose2d(ones, minigen.ones(1, 1, 3, 3), stride=2, padding=1, output_padding=1),
    "kernel 4, stride 2": F.conv_transpose2d(ones, minigen.ones(1, 1, 4, 4), stride=2, padding=1),
    "resize ×2, conv 3×3": F.conv2d(F.interpolate(ones, scale_factor=2), minigen.ones(1, 1, 3, 3), padding=1)}


def upsampler(kind, k=3):
    """Three ×2 layers, 16 → 16 → 16 → 1 channels, random weights (PyTorch's default initialisation)."""
    layers = []
    for a, b in ((16, 16), (16, 16), (16, 1)):
        if kind == "transposed":
            layers += [nn.ConvTranspose2d(a, b, k, stride=2, padding=(k - 1) // 2, output_padding=k % 2), nn.ReLU()]
        else:
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


minigen.manual_seed(1)
flat = minigen.ones(1, 16, 6, 6)                              # a perfectly flat input
with minigen.no_grad():
    stacks = {"3 × ConvTranspose 3/2": upsampler("transposed", 3)(flat),
              "3 × ConvTranspose 4/2": upsampler("transposed", 4)(flat),
              "3 × (resize ×2, conv 3×3)": upsampler("resize")(flat)}

fig, axes = plt.subplots(2, 3, figsize=(9, 6.6))
for ax, (title, image) in zip(axes[0], counts.items()):
    inside = image[0, 0].numpy()[2:-2, 2:-2]                  # away from the border (zero padding)
    ax.imshow(inside / inside.mean(), cmap="magma", vmin=0, vmax=2)
    ax.set_title(f"{title}\ncopies per pixel: {', '.join(f'{v:g}' for v in np.unique(inside))}", fontsize=9)
    ax.axis("off")
insides = {title: image[0, 0].numpy()[8:-8, 8:-8] for title, image in stacks.items()}  # border effects cropped
scale = max(np.abs(v - v.mean()).max() for v in insides.values())  # one grey scale for the three panels
for ax, (title, inside) in zip(axes[1], insides.items()):
    ax.imshow(inside - inside.mean(), cmap="gray", vmin=-scale, vmax=scale)
    ax.set_title(f"flat input → {title}\nspread: {inside.std() / np.abs(inside).mean():.0%} of the mean", fontsize=9)
    ax.axis("off")
fig.tight_layout()
save_figure(fig, "05_checkerboard")
plt.show()

# %% [markdown]
# Top row: how many kernel copies cover each output pixel (all weights 1, colour relative to the average).
# Kernel 3 with stride 2 gives 1, 2 or 4 copies in a regular pattern: a checkerboard. Kernel 4 with stride 2,
# and the resize-conv, cover every pixel equally. Bottom row: a flat input
# through three layers with random weights. Both transposed stacks print a periodic pattern on it (a period of
# 8 pixels after three ×2 layers); the resize-conv stack stays flat. Trained generators learn to suppress most
# of this, but not always all of it. minigen's DCGAN generator (`minigen/models/dcgan.py`) offers both kinds of
# layer: `arch="5x5"`, kernel 5 and stride 2 (the default), and `arch="421"`; in the samples of the
# first, this is the pattern to look for.
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson05.py`; the reference answers are in `lessons/solutions/lesson05.py`.
#
# **5.1 Which output_padding?** Write `output_padding_for(size_in, size_out, kernel, stride, padding,
# dilation=1)`: the output_padding that makes a transposed convolution map `size_in` to `size_out`, or raise
# `ValueError` when no valid value (0 ≤ output_padding < max(stride, dilation)) does it.
#
# **5.2 Transposed convolution by stamping.** Write `conv_transpose2d_stamps(x, w, stride=1, padding=0,
# output_padding=0)` in NumPy, straight from section 2: for every input pixel, add the kernel scaled by the
# pixel into the (padded) output, then crop the padding. Compared with `F.conv_transpose2d`:

# %%
lesson05 = exercise_module(5)
xn, wn = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 3, 5, 5))
mine = lesson05.conv_transpose2d_stamps(xn, wn, stride=2, padding=2, output_padding=1)
theirs = F.conv_transpose2d(minigen.tensor(xn), minigen.tensor(wn), stride=2, padding=2, output_padding=1).numpy()
print("output", mine.shape, "largest difference from F.conv_transpose2d:", np.abs(mine - theirs).max())
print("output_padding for 7 → 14 with kernel 5, stride 2, padding 2:", lesson05.output_padding_for(7, 14, 5, 2, 2))

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson05` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson05` against your file. From here: `check(5, "exercises")`.

# %%
check(5)
