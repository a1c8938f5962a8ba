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
# # Lesson 04 — Convolution
#
# **Time:** about 5 seconds in fast mode (the default) and about 10 seconds in full mode
# (`MINIGEN_LESSON_MODE=full`, which times larger convolutions) on a 2-core CPU.
#
# A dense layer connects every pixel to every unit: 784 inputs × 128 units is 100,352 weights, and a digit
# shifted by one pixel looks completely new to it. A **convolution** slides one small kernel over the whole
# image: the same few weights look for the same pattern everywhere. This lesson writes it three times, as
# DeZero does: as plain loops (obviously right, slow), as **im2col** followed by one matrix product (fast,
# and the way minigen's `conv2d_simple` works), and then looks at minigen's fast version. Along the way we
# derive the backward pass, which turns out to be a convolution run backwards, the subject of lesson 05.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen.nn import functional as F
from minigen.ops.conv_simple import conv2d_simple
from course import FAST, check, digit_images, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. What a convolution computes
#
# Input x has shape (N, C, H, W): N images, C channels, H×W pixels. The weight w has shape (O, C, kh, kw): O
# kernels, each spanning all C input channels. Output channel o at pixel (a, b) is the dot product of kernel o
# with the patch of the image under it:
#
# y[n, o, a, b] = Σ_c Σ_i Σ_j w[o, c, i, j] · x[n, c, a·s + i, b·s + j]
#
# where s is the **stride** (how far the kernel jumps). Often the image is first surrounded by p rows and
# columns of zeros (**padding**) so the kernel can sit on the border. (Deep learning's "convolution" does not
# flip the kernel; mathematicians call this cross-correlation.)
#
# Three hand-made 3×3 kernels on a digit (from minigen's embedded dataset, which lesson 07 introduces): one
# responds to vertical edges, one to horizontal edges, one blurs.

# %%
images, labels = digit_images("digits", n=64)
digit = minigen.tensor(images[:1, None])                       # (1, 1, 28, 28)
kernels = minigen.tensor(np.array([
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],                       # vertical edges (Sobel)
    [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],                       # horizontal edges
    np.full((3, 3), 1 / 9),                                     # blur
], dtype=np.float32)[:, None])                                  # (3, 1, 3, 3): O=3 kernels, C=1
out = F.conv2d(digit, kernels, padding=1)                      # → (1, 3, 28, 28)

fig, axes = plt.subplots(1, 4, figsize=(9, 2.5))
for ax, image, title in zip(axes, [digit[0, 0]] + [out[0, k] for k in range(3)],
                            ["input", "vertical edges", "horizontal edges", "blur"]):
    edges = title.endswith("edges")                            # signed: blue one way, red the other
    ax.imshow(image.numpy(), cmap="RdBu_r" if edges else "gray", vmin=-3 if edges else 0, vmax=3 if edges else 1)
    ax.set_title(title, fontsize=9); ax.axis("off")
save_figure(fig, "04_kernels")
plt.show()

# %% [markdown]
# ## 2. Version one: loops
#
# Straight from the formula: pad, then for every image, output channel and output pixel, multiply the kernel
# by the patch under it and sum. Slow (four Python loops), but there is nothing to get wrong, so it is the
# reference the fast versions are tested against (`tests/test_conv.py` has one like it).

# %%
def conv2d_loops(x, w, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (H + 2 * padding - kh) // stride + 1
    Wo = (W + 2 * padding - kw) // stride + 1
    y = np.zeros((N, O, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for o in range(O):
            for a in range(Ho):
                for b in range(Wo):
                    patch = xp[n, :, a * stride:a * stride + kh, b * stride:b * stride + kw]   # (C, kh, kw)
                    y[n, o, a, b] = (patch * w[o]).sum()
    return y


rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 9, 9))
w = rng.standard_normal((4, 3, 3, 3))
for stride, padding in ((1, 0), (2, 1)):
    mine = conv2d_loops(x, w, stride, padding)
    theirs = F.conv2d(minigen.tensor(x), minigen.tensor(w), stride=stride, padding=padding).numpy()
    print(f"stride {stride}, padding {padding}: output {mine.shape}, largest difference from F.conv2d "
          f"{np.abs(mine - theirs).max():.1e}")

# %% [markdown]
# ## 3. How big is the output?
#
# Every layer of a convolutional network changes the image size, and getting it wrong is the most common
# error when building one. The kernel must fit inside the padded image: with stride 1 and no padding, an H-row
# image leaves H − kh + 1 positions. Here is what `F.conv2d` gives for an MNIST-sized input under some
# common settings (dilation d spreads the kernel's taps d pixels apart). Exercise 4.1 asks you to derive the
# formula that produces this table.

# %%
probe = minigen.zeros(1, 1, 28, 28)
print(" kernel stride padding dilation → output")
for k, s, p, d in ((3, 1, 0, 1), (3, 1, 1, 1), (5, 1, 2, 1), (5, 2, 2, 1), (4, 2, 1, 1), (3, 2, 0, 1),
                   (3, 1, 2, 2), (7, 3, 0, 1)):
    size = F.conv2d(probe, minigen.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[-1]
    print(f"{k:7} {s:6} {p:7} {d:8}   {size}")

# %% [markdown]
# ## 4. Version two: im2col and one matrix product
#
# The loops do N·O·Ho·Wo small dot products. Matrix multiplication does the same arithmetic far faster (BLAS
# keeps the numbers in cache and uses vector instructions), so we rearrange the problem into one. **im2col**
# ("image to columns") copies every patch into a column of a matrix:
#
# cols[n, (c, i, j), (a, b)] = x[n, c, a + i, b + j]  → shape (N, C·kh·kw, Ho·Wo)
#
# and then y[n] = w.reshape(O, C·kh·kw) @ cols[n]: (O, C·kh·kw) @ (C·kh·kw, Ho·Wo) → (O, Ho·Wo).
#
# We fill cols with one loop over the kh·kw kernel **taps**: tap (i, j) reads the pixel at offset (i, j) of
# every patch, which is simply a shifted slice of the image. Here for stride 1 and no padding (exercise 4.2
# adds both):

# %%
def im2col(x, kh, kw):
    """x (N, C, H, W) → cols (N, C·kh·kw, Ho·Wo), stride 1, no padding."""
    N, C, H, W = x.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    cols = np.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + Ho, j:j + Wo]      # tap (i, j) of every patch at once
    return cols.reshape(N, C * kh * kw, Ho * Wo)


def conv2d_im2col(x, w):
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    cols = im2col(x, kh, kw)                                   # (N, C·kh·kw, Ho·Wo)
    y = w.reshape(O, -1) @ cols                                # (O, C·kh·kw) @ (N, C·kh·kw, Ho·Wo) → (N, O, Ho·Wo)
    return y.reshape(N, O, H - kh + 1, W - kw + 1)


print("largest difference from the loops:", np.abs(conv2d_im2col(x, w) - conv2d_loops(x, w)).max())

# %% [markdown]
# The picture shows im2col on one 4×4 image with a 2×2 kernel: each of the 9 columns is one patch, read in
# the order (i, j); each of the four pixels in the middle (5, 6, 9 and 10) appears in 4 columns, once per patch
# that covers it, while each corner pixel appears in only one.

# %%
tiny = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
cols = im2col(tiny, 2, 2)[0]                                    # (4, 9)
fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.4), gridspec_kw={"width_ratios": [4, 9]})
for ax, values, title in ((left, tiny[0, 0], "image 4×4"), (right, cols, "cols: one patch per column")):
    ax.imshow(values, cmap="viridis", vmin=0, vmax=15)
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, f"{v:g}", ha="center", va="center", color="white", fontsize=8)
    ax.set_title(title, fontsize=9); ax.set_xticks([]); ax.set_yticks([])
plt.show()

# %% [markdown]
# How much faster? Timing both, and minigen's `F.conv2d`, on a batch of digit-sized feature maps, then im2col and
# `F.conv2d` on a batch with more channels (the loops would take seconds there):

# %%
def best_time(fn, repeat=3):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


n = fast_or_full(4, 16)
xb = rng.standard_normal((n, 8, 14, 14)).astype(np.float32)
wb = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
xt, wt = minigen.tensor(xb), minigen.tensor(wb)
t_loops = best_time(lambda: conv2d_loops(xb, wb), repeat=1)
t_cols = best_time(lambda: conv2d_im2col(xb, wb))
t_fast = best_time(lambda: F.conv2d(xt, wt))
print(f"x {xb.shape}, w {wb.shape}:")
print(f"  loops   {1e3 * t_loops:8.1f} ms")
print(f"  im2col  {1e3 * t_cols:8.2f} ms   ({t_loops / t_cols:.0f}× faster than the loops)")
print(f"  minigen {1e3 * t_fast:8.2f} ms   ({t_fast / t_cols:.2f}× im2col's time)")
xb = rng.standard_normal((64, 32, 14, 14)).astype(np.float32)
wb = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
xt, wt = minigen.tensor(xb), minigen.tensor(wb)
t_cols, t_fast = best_time(lambda: conv2d_im2col(xb, wb)), best_time(lambda: F.conv2d(xt, wt))
print(f"x {xb.shape}, w {wb.shape}:")
print(f"  im2col  {1e3 * t_cols:8.2f} ms")
print(f"  minigen {1e3 * t_fast:8.2f} ms   ({t_fast / t_cols:.2f}× im2col's time)")

# %% [markdown]
# im2col turns hundreds of thousands of tiny dot products into one matrix product: that is the big step. On the small
# batch minigen's `F.conv2d` is about as fast as our 15 lines, a little faster or slower from run to run: each call
# pays a fixed cost of a few hundredths of a millisecond (checking its arguments, wrapping arrays in tensors, copying
# into and out of the layout of section 7), as large as the arithmetic itself at this size. With more channels the
# arithmetic dominates and that cost fades; what `F.conv2d` adds over this notebook's version is stride, padding,
# dilation, groups and a backward pass, which section 7 times.

# %% [markdown]
# ## 5. The backward pass, derived
#
# With the patches in cols, the convolution of one image is a matrix product Y = Wm · cols, where Wm is w
# reshaped to (O, C·kh·kw) and Y is (O, Ho·Wo). Lesson 03's rules for a product give, with G = ∂L/∂Y:
#
# - **∂L/∂Wm = Σₙ G · colsᵀ**: each kernel weight's gradient sums, over every patch it touched, the patch value
#   times the gradient there;
# - **∂L/∂cols = Wmᵀ · G**: the gradient of every copied number;
# - **∂L/∂x = col2im(∂L/∂cols)**: im2col only *copied* numbers, so its backward puts each gradient back where its
#   number came from, **adding** when a pixel was copied into several patches (lesson 01: a value used several
#   times sums its gradients).
#
# col2im is the same loop over taps as im2col with the assignment turned into `+=`:

# %%
def col2im(gcols, x_shape, kh, kw):
    """gcols (N, C·kh·kw, Ho·Wo) → gx (N, C, H, W): each entry added into the pixel it was copied from."""
    N, C, H, W = x_shape
    Ho, Wo = H - kh + 1, W - kw + 1
    gcols = gcols.reshape(N, C, kh, kw, Ho, Wo)
    gx = np.zeros(x_shape, dtype=gcols.dtype)
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i:i + Ho, j:j + Wo] += gcols[:, :, i, j]
    return gx


def conv2d_backward(x, w, g):
    """∂L/∂x and ∂L/∂w for y = conv2d(x, w) (stride 1, no padding), given g = ∂L/∂y (N, O, Ho, Wo)."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    cols = im2col(x, kh, kw)                                   # (N, K, Ho·Wo), K = C·kh·kw
    G = g.reshape(N, O, -1)                                    # (N, O, Ho·Wo)
    gw = (G @ cols.transpose(0, 2, 1)).sum(0)                  # Σₙ (O, Ho·Wo) @ (Ho·Wo, K) → (O, K)
    gcols = w.reshape(O, -1).T @ G                             # (K, O) @ (N, O, Ho·Wo) → (N, K, Ho·Wo)
    return col2im(gcols, x.shape, kh, kw), gw.reshape(w.shape)


g = rng.standard_normal((2, 4, 7, 7))                          # a random upstream gradient
gx, gw = conv2d_backward(x, w, g)
xt, wt = minigen.tensor(x, requires_grad=True), minigen.tensor(w, requires_grad=True)
F.conv2d(xt, wt).backward(minigen.tensor(g))
print("∂L/∂x: largest difference from autograd", np.abs(gx - xt.grad.numpy()).max())
print("∂L/∂w: largest difference from autograd", np.abs(gw - wt.grad.numpy()).max())

# %% [markdown]
# ## 6. The adjoint identity
#
# im2col and col2im are **adjoint** (transposes of each other, as linear maps): for any x and any c of the
# right shapes, ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩. Copying a number and then pairing it with c gives the same
# total as adding c back into the number's place and pairing there. The same holds one level up: the map
# g ↦ ∂L/∂x of the convolution is the adjoint of the convolution itself,
#
# ⟨conv(x, w), y⟩ = ⟨x, conv_transpose(y, w)⟩,
#
# and minigen exposes that adjoint as its own operation, `F.conv_transpose2d` (lesson 05). Both identities,
# numerically, for random arrays:

# %%
c = rng.standard_normal(im2col(x, 3, 3).shape)
print("⟨im2col(x), c⟩ =", np.vdot(im2col(x, 3, 3), c), " ⟨x, col2im(c)⟩ =", np.vdot(x, col2im(c, x.shape, 3, 3)))
y = rng.standard_normal((2, 4, 5, 5))
conv = F.conv2d(minigen.tensor(x), minigen.tensor(w), stride=2, padding=1).numpy()
adjoint = F.conv_transpose2d(minigen.tensor(y), minigen.tensor(w), stride=2, padding=1).numpy()
print("⟨conv(x, w), y⟩ =", np.vdot(conv, y), " ⟨x, conv_transpose(y, w)⟩ =", np.vdot(x, adjoint))

# %% [markdown]
# ## 7. Version three: minigen's fast convolution
#
# `minigen/ops/conv_simple.py` is section 4 made general (stride, padding, dilation, groups) and
# differentiable: its `Im2col` and `Col2im` are each other's backward, so the pair closes and gradients of
# gradients work. `minigen/ops/conv.py`, the default, computes exactly the same thing faster than `conv_simple`:
#
# - it stores images **channels-last** (N, H, W, C) internally, so every patch row is a run of contiguous
#   numbers, and one strided view plus one copy builds all of cols;
# - forward, input gradient and weight gradient are **one big matrix product each**;
# - col2im adds whole groups of non-overlapping windows in one strided operation instead of tap by tap.
#
# The two versions agree (the tests hold them to each other), and the gradient passes `gradcheck`:

# %%
xt = minigen.tensor(rng.standard_normal((2, 3, 8, 8)), requires_grad=True)
wt = minigen.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
simple = conv2d_simple(xt, wt, stride=2, padding=1)
fast = F.conv2d(xt, wt, stride=2, padding=1)
print("simple vs fast, largest difference:", float(np.abs(simple.detach().numpy() - fast.detach().numpy()).max()))
print("gradcheck:", minigen.gradcheck(lambda a, b: F.conv2d(a, b, stride=2, padding=1), (xt, wt)))

# %% [markdown]
# Forward plus backward on a layer the size of a DCGAN discriminator's second convolution (workload W1 of
# `minigen bench`, lesson 13; a batch of 8 instead of 64 in fast mode), both versions:

# %%
n = fast_or_full(8, 64)
xt = minigen.randn(n, 64, 14, 14, requires_grad=True)
wt = minigen.randn(128, 64, 5, 5, requires_grad=True)
gt = minigen.randn(n, 128, 7, 7)
for name, conv in (("conv2d_simple", conv2d_simple), ("F.conv2d", F.conv2d)):
    seconds = best_time(lambda: conv(xt, wt, stride=2, padding=2).backward(gt))
    print(f"{name:14} forward + backward, x {xt.shape}: {1e3 * seconds:7.1f} ms")

# %% [markdown]
# ## Exercises
#
# Your file is `lessons/exercises/lesson04.py`; the reference answers are in `lessons/solutions/lesson04.py`.
#
# **4.1 The output size.** Write `conv_output_size(size, kernel, stride=1, padding=0, dilation=1)`, the
# formula behind the table in section 3. Hints: a dilated kernel spans d·(k − 1) + 1 pixels; the padded image
# has size + 2·padding; count the positions where the kernel fits, moving stride pixels at a time.
#
# **4.2 im2col with stride and padding.** Generalize section 4's `im2col` to `im2col(x, kh, kw, stride=1,
# padding=0)` (same output layout, (N, C·kh·kw, Ho·Wo)). Then w.reshape(O, −1) @ cols is `F.conv2d` with that
# stride and padding:

# %%
lesson04 = exercise_module(4)
cols = lesson04.im2col(x, 3, 3, stride=2, padding=1)
y = (w.reshape(4, -1) @ cols).reshape(2, 4, 5, 5)
print("im2col with stride 2, padding 1: largest difference from F.conv2d",
      np.abs(y - F.conv2d(minigen.tensor(x), minigen.tensor(w), stride=2, padding=1).numpy()).max())

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson04` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson04` against your file. From here: `check(4, "exercises")`.

# %%
check(4)
