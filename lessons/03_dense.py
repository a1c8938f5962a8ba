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
# # Lesson 03 — Tensors, broadcasting and the dense layer
#
# **Time:** about 5 seconds in fast mode (the default) and about 15 seconds in full mode
# (`MINIGEN_LESSON_MODE=full`, which trains longer) on a 2-core CPU.
#
# Lesson 01 built an engine for single numbers. Networks work on arrays: a batch of inputs times a matrix of
# weights. This lesson looks at what a minigen `Tensor` is (shape, dtype, device), at **broadcasting** (how
# arrays of different shapes combine, and what that means for their gradients), and at the workhorse of every
# network, the **dense layer** y = x Wᵀ + b. It ends with a small network that learns to separate two spirals,
# and a picture of what it learned.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import nn, optim
from minigen.demo import spirals
from minigen.nn import functional as F
from course import FAST, check, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. What a tensor is
#
# A tensor wraps an array (NumPy on the CPU, CuPy on a GPU) and adds the autograd bookkeeping of lesson 01.
# Like PyTorch, minigen makes floating-point tensors **float32** unless told otherwise: half the memory of
# float64 and plenty of precision for training (gradient checks, lesson 02, use float64).

# %%
x = minigen.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(x)
print("shape", x.shape, "| dtype", x.dtype, "| device", x.device, "| array type", type(x.data).__name__)
print("integers stay integers:", minigen.tensor([1, 2]).dtype, "| NumPy float64 stays float64:",
      minigen.tensor(np.zeros(2)).dtype)

# %% [markdown]
# One trap deserves a warning. A Python number does not change a tensor's dtype (`x * 2.5` stays float32), but
# since NumPy 2 a NumPy *scalar* does: `np.float32 array * np.float64(2)` is float64. Float64 creeping into a
# float32 network makes everything after it twice as slow. minigen follows PyTorch: a tensor times any scalar
# keeps the tensor's dtype.

# %%
a32 = np.ones(3, dtype=np.float32)
print("NumPy:   float32 array * np.float64(2) →", (a32 * np.float64(2)).dtype)
print("minigen: float32 tensor * np.float64(2) →", (minigen.ones(3) * np.float64(2)).dtype)
print("minigen: float32 tensor * 2.5           →", (minigen.ones(3) * 2.5).dtype)

# %% [markdown]
# ## 2. Broadcasting
#
# Adding a bias vector of shape (4,) to a batch of shape (3, 4) adds it to every row. The rule (NumPy's, and
# PyTorch's): line the shapes up **from the right**; two sizes are compatible when they are equal or one of them
# is 1, and a size-1 (or missing) axis is stretched to match. So (3, 1) and (4,) give (3, 4): the column is
# repeated across, the row repeated down.

# %%
col = minigen.tensor([[0.0], [10.0], [20.0]])     # (3, 1)
row = minigen.tensor([1.0, 2.0, 3.0, 4.0])        # (4,)
total = col + row                                  # → (3, 4)

fig, axes = plt.subplots(1, 3, figsize=(8, 2.4), gridspec_kw={"width_ratios": [1, 4, 4]})
for ax, t, name in zip(axes, (col, row.reshape(1, 4), total), ("col (3, 1)", "row (4,)", "col + row (3, 4)")):
    values = t.numpy()
    ax.imshow(values, cmap="Blues", vmin=-5, vmax=30)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:g}", ha="center", va="center")
    ax.set_title(name, fontsize=9); ax.set_xticks([]); ax.set_yticks([])
plt.show()

# %% [markdown]
# **The gradient of a broadcast is a sum.** Each element of `row` was used 3 times (once per row of the
# result), so its gradient collects 3 contributions; each element of `col` was used 4 times. Backward must
# therefore *sum* the incoming gradient over the stretched axes, to get back to the input's shape. minigen's
# binary ops call `sum_to(g, input.shape)` for that (exercise 3.1 asks you to write it).

# %%
col.requires_grad_(); row.requires_grad_()
(col + row).backward(minigen.ones(3, 4))
print("col.grad", col.grad.shape, col.grad.numpy().ravel(), "(each used 4 times)")
print("row.grad", row.grad.shape, row.grad.numpy(), "(each used 3 times)")

# %% [markdown]
# ## 3. The dense layer and its backward
#
# A dense (fully connected, "linear") layer maps a batch x of shape (N, in) to y of shape (N, out):
#
# y = x Wᵀ + b,  with W of shape (out, in) and b of shape (out,), broadcast over the batch.
#
# Each output is a weighted sum of every input. Its backward follows from yₙₒ = Σᵢ xₙᵢ Wₒᵢ + bₒ. With
# g = ∂L/∂y of shape (N, out):
#
# - ∂L/∂xₙᵢ = Σₒ gₙₒ Wₒᵢ, that is **∂L/∂x = g W** (N, out)·(out, in) → (N, in);
# - ∂L/∂Wₒᵢ = Σₙ gₙₒ xₙᵢ, that is **∂L/∂W = gᵀ x** (out, N)·(N, in) → (out, in);
# - ∂L/∂bₒ = Σₙ gₙₒ, **the sum over the batch**: b was broadcast over it.
#
# The shapes alone almost force these formulas. Let us check them against autograd, with a random g:

# %%
rng = np.random.default_rng(0)
xn, Wn, bn, gn = (rng.standard_normal(s) for s in ((5, 3), (4, 3), (4,), (5, 4)))
x, W, b = (minigen.tensor(v, requires_grad=True) for v in (xn, Wn, bn))
F.linear(x, W, b).backward(minigen.tensor(gn))
for name, autograd, by_hand in (("x", x.grad, gn @ Wn), ("W", W.grad, gn.T @ xn), ("b", b.grad, gn.sum(0))):
    print(f"∂L/∂{name}: largest difference {np.abs(autograd.numpy() - by_hand).max():.1e}")

# %% [markdown]
# `minigen.nn.Linear` is this function with its W and b kept as **parameters**: tensors that a `Module`
# registers when they are assigned as attributes, so that `model.parameters()` finds them for the optimizer.
# They start random, uniform in ±1/√in (PyTorch's default): large enough to break the symmetry between units,
# small enough that the outputs keep a sensible size.

# %%
layer = nn.Linear(3, 4)
print(layer)
for name, p in layer.named_parameters():
    print(f"  {name}: shape {p.shape}, values in [{p.data.min():.2f}, {p.data.max():.2f}]")

# %% [markdown]
# ## 4. A network that separates two spirals
#
# Dense layers alone compose to another dense layer (a product of matrices is a matrix), so between them goes a
# non-linearity, here ReLU(x) = max(x, 0). Two hidden layers of 64 units, and two outputs: one score (logit)
# per class. The loss is the cross-entropy between softmax(logits) and the true class. Adam (`minigen.optim`)
# adapts the step size per parameter.
#
# The data: 400 points on two interleaved spirals (the same as `minigen demo`). No straight line separates them.

# %%
points, labels = spirals(400)
minigen.manual_seed(0)
model = nn.Sequential(
    nn.Linear(2, 64), nn.ReLU(),          # (N, 2) → (N, 64)
    nn.Linear(64, 64), nn.ReLU(),         # → (N, 64)
    nn.Linear(64, 2))                     # → (N, 2) logits
optimizer = optim.Adam(model.parameters(), lr=0.01)
x, y = minigen.tensor(points), minigen.tensor(labels.astype(np.int64))

losses = []
for step in range(fast_or_full(300, 2000)):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
with minigen.no_grad():
    accuracy = (model(x).argmax(1).numpy() == labels).mean()
print(f"{model.num_parameters()} parameters; loss {losses[0]:.3f} → {losses[-1]:.4f}; "
      f"training accuracy {accuracy:.1%}")

# %% [markdown]
# What did it learn? Evaluate the network on a grid covering the plane and colour each point by the probability
# of class 1: the boundary between the colours is the network's decision boundary.

# %%
grid = np.linspace(-1.3, 1.3, 150, dtype=np.float32)
gx, gy = np.meshgrid(grid, grid)
with minigen.no_grad():
    probability = F.softmax(model(minigen.tensor(np.stack([gx.ravel(), gy.ravel()], 1))), dim=1).numpy()[:, 1]

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
left.contourf(gx, gy, probability.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.75)
left.scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu_r", edgecolors="white", linewidths=0.4, s=14)
left.set_aspect("equal"); left.set_title(f"decision boundary (accuracy {accuracy:.0%})")
right.plot(losses); right.set_yscale("log"); right.set_xlabel("step"); right.set_title("cross-entropy")
fig.tight_layout()
save_figure(fig, "03_decision_boundary")
plt.show()

# %% [markdown]
# ## Exercises
#
# Your file is `lessons/exercises/lesson03.py`; the reference answers are in `lessons/solutions/lesson03.py`.
#
# **3.1 `sum_to`: the backward of broadcasting.** Write `sum_to(g, shape)` for NumPy arrays: sum `g` over the
# axes that broadcasting added (leading ones) or stretched (size 1 in `shape`), so that the result has exactly
# `shape`. For example a gradient of shape (2, 3, 4) and `shape` (3, 1) sums axis 0 entirely and axis 2 with
# `keepdims`, giving (3, 1).
#
# **3.2 Fix a broken layer.** `Dense` in the exercise file looks right, and even works for some batch sizes.
# Try it on a batch of one, and on a batch as large as its output size, and compare with `F.linear`:

# %%
lesson03 = exercise_module(3)
layer = lesson03.Dense(3, 4)
for n in (1, 2, 4):
    x = minigen.randn(n, 3)
    try:
        out = layer(x)
        expected = F.linear(x, layer.weight, layer.bias.reshape(-1))
        same = out.shape == expected.shape and np.allclose(out.detach().numpy(), expected.detach().numpy())
        print(f"batch of {n}: output shape {out.shape}, same as F.linear: {same}")
    except RuntimeError as error:
        print(f"batch of {n}: RuntimeError: {error}")

# %% [markdown]
# With the solutions (the default here) every batch gives shape (n, 4) and the same numbers as `F.linear`.
# With your file (`MINIGEN_CHECK=exercises`) one batch size gives the wrong shape, one fails and one gives wrong
# numbers with the right shape, the most dangerous kind of bug. Find the broadcasting mistake and fix it.
#
# **Run the checks.** `python -m pytest -m lesson03` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson03` against your file. From here: `check(3, "exercises")`.

# %%
check(3)
