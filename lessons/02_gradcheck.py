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
# # Lesson 02 — Checking gradients
#
# **Time:** about 5 seconds in fast mode (the default) and about 10 seconds in full mode
# (`MINIGEN_LESSON_MODE=full`, which draws more hypothesis examples) on a 2-core CPU.
#
# Every `backward` in minigen is hand-written code, and a wrong one does not crash: the network simply trains
# badly, or not at all, and nothing says why. So we never trust a backward until it has been compared with
# something that cannot share its mistakes: the **finite difference**, which only ever runs the forward pass.
#
# This lesson builds the check by hand, then uses minigen's `gradcheck`, shows the one trap that lets a wrong
# backward pass a careless check (seeding with `.sum()`), and ends with a property test that hypothesis turns
# into hundreds of checks.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen import Tensor
from minigen.nn import functional as F
from course import FAST, check, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. Finite differences, and how small h should be
#
# The derivative is the limit of a slope: f′(x) ≈ (f(x + h) − f(x)) / h. This *forward difference* is off by
# about ½·h·f″(x), an error proportional to h. The *central difference* (f(x + h) − f(x − h)) / 2h cancels that
# term (expand both sides in a Taylor series) and is off by only about h²·f‴(x)/6.
#
# So make h tiny? No: the computer stores f(x + h) with a relative rounding error ε (about 1e-16 in float64,
# 6e-8 in float32), and dividing by h magnifies it to about ε·|f|/h. The total error falls with h, then rises
# again. Here it is for f = tanh at x = 0.5, whose derivative we know exactly:

# %%
def error_of(difference, dtype, hs):
    x = dtype(0.5)
    exact = 1 - np.tanh(0.5) ** 2
    errors = []
    for h in hs:
        h = dtype(h)
        if difference == "forward":
            slope = (np.tanh(x + h) - np.tanh(x)) / h
        else:
            slope = (np.tanh(x + h) - np.tanh(x - h)) / (2 * h)
        errors.append(abs(float(slope) - exact))
    return np.maximum(errors, 1e-17)


hs = np.logspace(-12, -1, 45)
fig, ax = plt.subplots(figsize=(6, 3.8))
for dtype, style in ((np.float64, "-"), (np.float32, ":")):
    for difference in ("forward", "central"):
        ax.loglog(hs, error_of(difference, dtype, hs), style, label=f"{difference}, {dtype.__name__}")
ax.axvline(1e-6, color="0.7", lw=0.8)
ax.set_xlabel("h"); ax.set_ylabel("|error|"); ax.legend(fontsize=8)
ax.set_title("finite differences of tanh at 0.5: truncation vs rounding")
save_figure(fig, "02_finite_differences")
plt.show()

# %% [markdown]
# Read the picture from the right: the error first falls as h shrinks (the straight lines of slope 1 and 2
# are the truncation errors), until rounding takes over and it climbs again. In float64 the central difference
# reaches about 1e-11 near h = 1e-6, a thousand times better than the forward difference at its best. In
# float32 nothing gets better than about 1e-6, and at h = 1e-6 the error is around 1e-2: a check at that
# precision could not tell a right gradient from a slightly wrong one. That is why gradient checks run in
# **float64 with h ≈ 1e-6**.
#
# ## 2. Many inputs, many outputs: the upstream gradient
#
# A function f maps an array x to an array y. Its derivative is the Jacobian J, with J[i, j] = ∂yᵢ/∂xⱼ. Backward
# never builds J (for an image it would be enormous). It receives ∂L/∂y from the rest of the network, call it
# v, and returns the **vector-Jacobian product** vᵀJ = ∂⟨v, f(x)⟩/∂x, where ⟨v, y⟩ = Σᵢ vᵢyᵢ.
#
# So to check a backward, pick any v, and compare its result with finite differences of the *scalar* function
# x ↦ ⟨v, f(x)⟩, one input element at a time. Exercise 2.1 builds the whole Jacobian this way; here we use
# the module the checks look at (the solutions unless you set `MINIGEN_CHECK=exercises`) on **softmax**, which
# turns a vector of scores into probabilities, yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ} (lesson 03 uses it to classify). Every
# output depends on every input, so its Jacobian is full:

# %%
lesson02 = exercise_module(2)

rng = np.random.default_rng(0)
x = rng.standard_normal(5)
J = lesson02.numerical_jacobian(lambda a: F.softmax(minigen.tensor(a), dim=0).numpy(), x)

plt.figure(figsize=(3, 2.6))
plt.imshow(J, cmap="RdBu_r", vmin=-0.3, vmax=0.3)
plt.colorbar(); plt.title("numerical Jacobian of softmax"); plt.xlabel("input j"); plt.ylabel("output i")
plt.show()

v = rng.standard_normal(5)
xt = minigen.tensor(x, requires_grad=True)
F.softmax(xt, dim=0).backward(minigen.tensor(v))          # backward seeded with v: computes vᵀJ
print("backward     vᵀJ:", np.round(xt.grad.numpy(), 8))
print("finite diff. vᵀJ:", np.round(v @ J, 8))

# %% [markdown]
# ## 3. `minigen.gradcheck`
#
# `minigen.gradcheck(fn, inputs)` does exactly this for every input that requires a gradient: it draws a random
# v, runs backward once, and compares with central differences, element by element, within rtol 1e-5 and atol
# 1e-7. Inputs must be float64. It returns True, or raises an error naming the input, the worst element and
# both values:

# %%
x = minigen.randn(3, 4, dtype=minigen.float64, requires_grad=True)
print("softmax:", minigen.gradcheck(lambda t: F.softmax(t, dim=1), (x,)))


class WrongExp(minigen.Function):
    """eˣ with a backward that forgot the chain rule's other factor: returns eˣ instead of g·eˣ."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, g):
        return self.output()               # should be g * self.output()


try:
    minigen.gradcheck(lambda t: WrongExp()(t), (x,))
except minigen.GradcheckError as error:
    print("WrongExp:", error)

# %% [markdown]
# ## 4. Why `.sum()` is not enough
#
# A tempting shortcut checks `f(x).sum()`, which is seeding backward with v = (1, 1, …, 1). Some functions
# make that check blind. Batch normalization (lesson 06) subtracts the mean of each column and divides by the
# standard deviation, so each column of its output sums to zero *whatever x is*. The gradient of the sum is
# exactly 0, and any backward that also returns 0 for v = ones passes.
#
# Here is batch norm with a plausible bug: its backward drops one of the two correction terms (the correct
# formula, derived in lesson 06, is ∂L/∂x = (g − mean g − x̂·mean(g·x̂)) / σ).

# %%
class ForgetfulBatchNorm(minigen.Function):
    """Batch norm without γ, β: x̂ = (x − mean) / std per column. Backward drops the x̂·mean(g·x̂) term."""

    def forward(self, x):
        self.inv_std = 1 / np.sqrt(x.var(axis=0) + 1e-5)
        self.x_hat = (x - x.mean(axis=0)) * self.inv_std
        return self.x_hat

    def backward(self, g):
        return (g - g.mean(0, keepdim=True)) * Tensor(self.inv_std)     # forgot − x̂·mean(g·x̂)


bn = lambda t: ForgetfulBatchNorm()(t)                                   # noqa: E731
x = minigen.randn(6, 3, dtype=minigen.float64, requires_grad=True)
print("check of .sum():   ", minigen.gradcheck(lambda t: bn(t).sum(), (x,)))
try:
    minigen.gradcheck(bn, (x,))
except minigen.GradcheckError as error:
    print("check with random v:", error)

# %% [markdown]
# Seeded with ones, the broken backward passes; with a random v, the check fails at once. minigen's own tests
# always seed with random upstream gradients, and so does `gradcheck`.
#
# ## 5. Big inputs: one random direction
#
# Checking element by element costs two forward passes per input element: fine for a 4×4 matrix, slow for a
# convolution's weights. The **directional** check (Chainer's) picks one random direction r and compares the
# single number ⟨vᵀJ, r⟩ with (⟨v, f(x + h·r)⟩ − ⟨v, f(x − h·r)⟩) / 2h: two forward passes whatever the size.
# It cannot say *which* element is wrong, but a wrong gradient almost never hides from a random direction.

# %%
n = fast_or_full(30, 60)
a = minigen.randn(n, n, dtype=minigen.float64, requires_grad=True)
b = minigen.randn(n, n, dtype=minigen.float64, requires_grad=True)
for directional in (False, True):
    started = time.perf_counter()
    ok = minigen.gradcheck(lambda p, q: (p @ q).tanh(), (a, b), directional=directional)
    print(f"{'directional' if directional else 'elementwise'} check of tanh(A @ B), {2 * n * n} inputs: {ok} "
          f"in {time.perf_counter() - started:.3f} s")

# %% [markdown]
# Gradients of gradients get the same treatment: `minigen.gradgradcheck(fn, inputs)` runs `gradcheck` on the
# function that computes the gradient with `create_graph=True` (lesson 01, section 8). Here on softplus(x) =
# log(1 + eˣ), a smooth cousin of ReLU:

# %%
x = minigen.randn(2, 3, dtype=minigen.float64, requires_grad=True)
print("second derivatives of softplus:", minigen.gradgradcheck(F.softplus, (x,)))

# %% [markdown]
# ## 6. A property test you write
#
# One check on one random input proves little about shapes we did not try: 0-d tensors, size-1 axes,
# broadcasting. **Hypothesis** draws the inputs for us, many of them, including the awkward ones, and when a
# check fails it *shrinks* the input to the simplest one that still fails.
#
# A property test is an ordinary function decorated with `@given(...)`: the strategies describe what to draw.
# Here is one for softplus, for arrays of any shape up to 3 axes and values in [−10, 10]. Calling the function
# runs it on every drawn example.

# %%
EXAMPLES = fast_or_full(20, 200)
PHASES = (Phase.generate, Phase.shrink)     # draw, and shrink failures; no database, no explanations
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
values = st.floats(-10, 10)
seen = []


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=PHASES)
@given(x=hnp.arrays(np.float64, shapes, elements=values))
def test_softplus_gradient(x):
    seen.append(x.shape)
    assert minigen.gradcheck(F.softplus, (minigen.tensor(x, requires_grad=True),))


test_softplus_gradient()
print(f"passed on {len(seen)} drawn inputs, shapes such as {sorted(set(seen), key=len)[:6]}")

# %% [markdown]
# Now the same kind of test finds a bug. This leaky ReLU has slope 0.1 for negative inputs, but its backward
# uses 0.01. Values near 0 are excluded (the kink, where the derivative jumps; minigen documents its rule there
# and tests it by hand). Hypothesis finds a failing input and shrinks it:

# %%
class BuggyLeakyReLU(minigen.Function):
    def forward(self, x):
        return np.where(x > 0, x, 0.1 * x)

    def backward(self, g):
        x, = self.inputs
        return g * Tensor(np.where(x.data > 0, 1.0, 0.01))     # bug: the slope is 0.1


away_from_kink = st.floats(-10, 10).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=PHASES)
@given(x=hnp.arrays(np.float64, shapes, elements=away_from_kink))
def test_buggy_leaky_relu_gradient(x):
    assert minigen.gradcheck(lambda t: BuggyLeakyReLU()(t), (minigen.tensor(x, requires_grad=True),))


try:
    test_buggy_leaky_relu_gradient()
except minigen.GradcheckError as error:
    print("hypothesis found:", error)
    print("\n".join(getattr(error, "__notes__", [])))

# %% [markdown]
# The shrunk example is a single negative number: the smallest input that shows the bug. The same pattern, with
# `mutually_broadcastable_shapes` for two-input ops, valid-by-construction convolution parameters and a table
# of each op's domain, is how `tests/test_ops_gradients.py` checks every op in minigen.
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson02.py`; the reference answers are in `lessons/solutions/lesson02.py`.
#
# **2.1 The numerical Jacobian.** Write `numerical_jacobian(f, x, eps=1e-6)`: for a function from a float64
# array to an array, the matrix J of shape (y.size, x.size) with J[i, j] ≈ ∂yᵢ/∂xⱼ by central differences.
# Perturb one element of a copy at a time; leave `x` as it was. (Section 2 used it.)
#
# **2.2 Fix softmax's backward.** The `Softmax` function in the exercise file has a backward that passes a
# check seeded with `.sum()` but is wrong. Show it with `gradcheck`, find the mistake (derive ∂L/∂x from
# yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ}), and fix it.
#
# **Run the checks.** `python -m pytest -m lesson02` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson02` against your file. From here:
# `check(2, "exercises")`.

# %%
check(2)
