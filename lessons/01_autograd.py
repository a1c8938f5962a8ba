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
# # Lesson 01 — Autograd from scratch
#
# **Time:** about 5 seconds in fast mode (the default) and about 10 seconds in full mode
# (`MINIGEN_LESSON_MODE=full`) on a 2-core CPU.
#
# Training a network means nudging every parameter in the direction that lowers the loss. That direction is
# the gradient: for each parameter, how much the loss changes when the parameter moves a little. Networks have
# millions of parameters, so we cannot work the derivatives out by hand. **Automatic differentiation** does
# it for us: while the loss is computed, each number remembers how it was made; afterwards, one sweep backwards
# through that record applies the chain rule and delivers every gradient at once.
#
# In this lesson we build that machine for single numbers (in the spirit of Karpathy's micrograd), watch it
# work on pictures of the computation, and then meet minigen's `Tensor`, which does the same for whole arrays.

# %%
# %matplotlib inline
import math
import random

import matplotlib.pyplot as plt

import minigen
from course import FAST, check, draw_graph, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## 1. A number that remembers where it came from
#
# A `Value` holds a number (`data`), a slot for its gradient (`grad`, filled in later), the values it was made
# from (`_prev`) and the name of the operation (`_op`). Each operation also leaves behind a small function,
# `_backward`, that knows the *local* derivative of that one operation and passes the gradient on to its
# inputs. We start with addition and multiplication.
#
# For `out = a + b` the local derivatives are ∂out/∂a = 1 and ∂out/∂b = 1; for `out = a · b` they are
# ∂out/∂a = b and ∂out/∂b = a. The chain rule says: the gradient of the final result L with respect to `a` is
# the gradient arriving at `out`, times the local derivative. So `_backward` multiplies `out.grad` by the local
# derivative and *adds* the result to the input's `grad` (section 4 shows why adding matters).

# %%
class Value:
    """A scalar that remembers the values it was computed from, so that gradients can flow back."""

    def __init__(self, data, _prev=(), _op="", label=""):
        self.data = float(data)
        self.grad = 0.0                  # ∂L/∂self, filled in by backward
        self._prev = _prev               # the Values this one was computed from
        self._op = _op                   # the operation that made it, for pictures
        self.label = label
        self._backward = lambda: None    # passes self.grad on to self._prev

    def __repr__(self):
        return f"Value({self.label + ': ' if self.label else ''}data={self.data:.4g}, grad={self.grad:.4g})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():                 # ∂out/∂self = 1, ∂out/∂other = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():                 # ∂out/∂self = other, ∂out/∂other = self
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out


# %% [markdown]
# A small expression, L = (a·b + c)·f, written the ordinary way. The result is an ordinary number, but it
# carries its history with it:

# %%
a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
e = a * b; e.label = "e"
d = e + c; d.label = "d"
L = d * f; L.label = "L"
print(L)
print("L was made by", repr(L._op), "from", [v.label for v in L._prev])

# %% [markdown]
# The history is a graph. Leaves (yellow) are the inputs; every other box (blue) was made by an operation.
# All gradients are still 0.

# %%
draw_graph(L, title="L = (a·b + c)·f, forward pass done")
plt.show()

# %% [markdown]
# ## 2. The chain rule by hand
#
# Walk from L back to the leaves, multiplying local derivatives:
#
# - ∂L/∂L = 1.
# - L = d·f, so ∂L/∂f = d = 4 and ∂L/∂d = f = −2.
# - d = e + c, so ∂L/∂c = ∂L/∂d · 1 = −2 and ∂L/∂e = −2.
# - e = a·b, so ∂L/∂a = ∂L/∂e · b = 6 and ∂L/∂b = ∂L/∂e · a = −4.
#
# A derivative is a prediction: move `a` by a small h and L should move by about 6·h. Let us test that
# prediction directly, with plain numbers.

# %%
def L_of(a, b, c, f):
    return (a * b + c) * f

h = 1e-6
print("∂L/∂a ≈", (L_of(2.0 + h, -3.0, 10.0, -2.0) - L_of(2.0, -3.0, 10.0, -2.0)) / h, "(by hand: 6)")


# %% [markdown]
# ## 3. Backward, automatically
#
# To do this mechanically, each node must run its `_backward` only after every node that uses it has
# delivered its gradient. A **topological order** lists each node after the nodes it was made from; running
# `_backward` in the *reverse* of that order does exactly what we did by hand. A depth-first search builds it:
# visit a node's inputs first, then append the node.

# %%
def backward(self):
    order, visited = [], set()

    def visit(v):
        if v not in visited:
            visited.add(v)
            for p in v._prev:
                visit(p)
            order.append(v)      # after everything it was made from
    visit(self)
    self.grad = 1.0              # ∂L/∂L
    for v in reversed(order):    # from L back to the leaves
        v._backward()

Value.backward = backward

L.backward()
for v in (a, b, c, f):
    print(v)

# %% [markdown]
# The same numbers as by hand. Here is the graph again, now with every gradient filled in:

# %%
draw_graph(L, title="after L.backward()")
save_figure(plt.gcf(), "01_graph")
plt.show()


# %% [markdown]
# ## 4. A value used twice
#
# Why do the `_backward` functions *add* to `grad` instead of setting it? Take b = a + a. Then ∂b/∂a = 2: the
# gradient reaches `a` along two paths, and the chain rule sums over paths. With `+=` each path adds its share.
# Had we written `self.grad = out.grad`, the second path would overwrite the first and we would get 1.

# %%
x = Value(3.0, label="x")
y = x + x
y.backward()
print("∂(x + x)/∂x =", x.grad)

x = Value(3.0, label="x")
y = x * x
y.backward()
print("∂(x · x)/∂x =", x.grad, "(2x = 6)")

# %% [markdown]
# Adding has a consequence: gradients *accumulate* across calls to `backward`. Training loops therefore set
# every gradient back to zero before each step (`optimizer.zero_grad()` in minigen, as in PyTorch).

# %%
y.backward()
print("after a second backward, x.grad =", x.grad, "(6 + 6): zero the gradients between steps")


# %% [markdown]
# ## 5. More operations: a neuron
#
# Any operation with a known local derivative can join. A neuron needs `tanh` (d tanh(x)/dx = 1 − tanh²(x))
# and a loss needs subtraction and squares. We add them to the class one at a time.

# %%
def tanh(self):
    t = math.tanh(self.data)
    out = Value(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t * t) * out.grad
    out._backward = _backward
    return out


def power(self, k):                      # k is a plain number
    out = Value(self.data ** k, (self,), f"**{k}")

    def _backward():
        self.grad += k * self.data ** (k - 1) * out.grad
    out._backward = _backward
    return out


Value.tanh = tanh
Value.__pow__ = power
Value.__neg__ = lambda self: self * -1
Value.__sub__ = lambda self, other: self + (-other if isinstance(other, Value) else Value(-other))
Value.__radd__ = lambda self, other: self + other      # so that 0 + Value and sum() work
Value.__rmul__ = lambda self, other: self * other

x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
bias = Value(6.8813735870195432, label="b")
n = x1 * w1 + x2 * w2 + bias; n.label = "n"
o = n.tanh(); o.label = "o"
o.backward()
draw_graph(o, title="a neuron: o = tanh(x1·w1 + x2·w2 + b)")
plt.show()


# %% [markdown]
# ## 6. Training with the scalar engine
#
# That is everything needed to train. A tiny network (3 inputs → 4 tanh units → 4 tanh units → 1 output)
# learns four targets; each step runs forward, zeroes the gradients, runs backward and moves each parameter a
# little against its gradient (gradient descent).

# %%
class Neuron:
    def __init__(self, n_in):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(n_in)]
        self.b = Value(0.0)

    def __call__(self, x):
        return sum((wi * xi for wi, xi in zip(self.w, x)), self.b).tanh()


class MLP:
    def __init__(self, sizes):
        self.layers = [[Neuron(a) for _ in range(b)] for a, b in zip(sizes, sizes[1:])]

    def __call__(self, x):
        for layer in self.layers:
            x = [neuron(x) for neuron in layer]
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for neuron in layer for p in neuron.w + [neuron.b]]


random.seed(0)
net = MLP([3, 4, 4, 1])
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
losses = []
for step in range(fast_or_full(40, 200)):
    loss = sum((net(x) - y) ** 2 for x, y in zip(xs, ys))
    for p in net.parameters():
        p.grad = 0.0
    loss.backward()
    for p in net.parameters():
        p.data -= 0.05 * p.grad
    losses.append(loss.data)

print(f"{len(net.parameters())} parameters; loss {losses[0]:.3f} → {losses[-1]:.4f}")
print("predictions:", [round(net(x).data, 3) for x in xs], "targets:", ys)
plt.figure(figsize=(5, 3))
plt.plot(losses)
plt.xlabel("step"); plt.ylabel("squared error"); plt.title("the scalar engine learns")
plt.show()

# %% [markdown]
# ## 7. The same thing with minigen's `Tensor`
#
# minigen's engine (`minigen/autograd.py`) is this idea grown up. A `Tensor` holds an array instead of one
# number; `requires_grad=True` marks a leaf whose gradient we want; `.backward()` does what our `backward` did.
# The expression from section 1 gives the same gradients:

# %%
ta, tb, tc, tf = (minigen.tensor(v, requires_grad=True) for v in (2.0, -3.0, 10.0, -2.0))
tL = (ta * tb + tc) * tf
tL.backward()
print("L =", tL.item())
print("grads:", ta.grad.item(), tb.grad.item(), tc.grad.item(), tf.grad.item(), "(by hand: 6, -4, -2, 4)")

# %% [markdown]
# Two things differ from `Value`, both for speed and memory:
#
# 1. **One node per array operation, not per number.** Multiplying two arrays of a million numbers records one
#    node, whose backward handles all the numbers at once with NumPy (or CuPy on a GPU).
# 2. **The node is a separate object, a `Function`.** The tensor points to the `Function` that made it
#    (`grad_fn`); the function holds its input tensors. Our `Value` kept a closure instead.
#
# The recorded graph of a vector computation has exactly the shape of the formula, however long the vectors:

# %%
x = minigen.linspace(-2, 2, 1000, requires_grad=True)
y = (x * 2.0 + 1.0).tanh().sum()
print("y.grad_fn:", type(y.grad_fn).__name__, "made from a tensor of shape", y.grad_fn.inputs[0].shape)
print("functions, output first:", [type(fn).__name__ for fn in minigen.autograd.topological_order([y])])
y.backward()
print("x.grad has shape", x.grad.shape, "— one gradient per element")

# %% [markdown]
# The gradient of Σ tanh(2x + 1) with respect to each xᵢ is 2·(1 − tanh²(2xᵢ + 1)), a bump centred at
# x = −½. Plotting `x.grad` shows exactly that:

# %%
xs_np = x.detach().numpy()
plt.figure(figsize=(5, 3))
plt.plot(xs_np, (x * 2.0 + 1.0).tanh().detach().numpy(), label="tanh(2x + 1)")
plt.plot(xs_np, x.grad.numpy(), label="its gradient (from backward)")
plt.legend(); plt.xlabel("x"); plt.title("backward on a vector")
plt.show()


# %% [markdown]
# ## 8. A new operation: subclass `Function`
#
# Every minigen op is a `Function` with two methods: `forward` takes and returns *arrays*; `backward` takes the
# gradient of the loss with respect to the output (a tensor `g`) and returns the gradient with respect to each
# input. The inputs are in `self.inputs`. Here is y = x³, whose derivative is 3x²:

# %%
class Cube(minigen.Function):
    def forward(self, x):          # arrays in, arrays out
        return x ** 3

    def backward(self, g):         # tensors in, tensors out: ∂L/∂x = g · 3x²
        x, = self.inputs
        return g * 3.0 * x * x


x = minigen.tensor([1.0, 2.0, 3.0], requires_grad=True)
Cube()(x).sum().backward()
print("∂Σx³/∂x =", x.grad, "(3x² = 3, 12, 27)")

# %% [markdown]
# Because `backward` is written with tensor operations, the backward pass can itself be recorded and
# differentiated again. `minigen.grad(..., create_graph=True)` returns gradients that have a graph of their own;
# the derivative of 3x² is 6x. (WGAN-GP, later in the course, needs exactly this: a loss that contains a gradient.)

# %%
x = minigen.tensor([1.0, 2.0, 3.0], requires_grad=True)
(g,) = minigen.grad(Cube()(x).sum(), x, create_graph=True)
print("first derivative 3x²:", g)
(gg,) = minigen.grad(g.sum(), x)
print("second derivative 6x:", gg)

# %% [markdown]
# Finally, recording costs time and memory, and some code (evaluation, sampling, the optimizer's update) never
# needs gradients. Inside `minigen.no_grad()` nothing is recorded:

# %%
w = minigen.tensor([1.0, 2.0], requires_grad=True)
with minigen.no_grad():
    z = w * 2.0
print("inside no_grad: requires_grad =", z.requires_grad, ", grad_fn =", z.grad_fn)

# %% [markdown]
# ## Exercises
#
# Your file is `lessons/exercises/lesson01.py`; each function there raises `NotImplementedError` until you
# write it. The reference answers are in `lessons/solutions/lesson01.py` (try first!).
#
# **1.1 A topological order without recursion.** Our `backward` visits nodes recursively, and Python allows
# only about a thousand nested calls. A chain of a few thousand operations, quite normal in a real network
# unrolled over time, breaks it:

# %%
start = Value(1.0, label="start")
node = start
for _ in range(5000):
    node = node * 1.001
try:
    node.backward()
except RecursionError as error:
    print("RecursionError:", error)

# %% [markdown]
# Write `topological_order(root)`: every node reachable from `root` through `_prev`, each exactly once, each
# after all the nodes in its `_prev`, with an explicit stack instead of recursion (minigen's
# `autograd.topological_order` walks the graph this way, but orders the `Function`s that made the tensors, and
# returns them reversed: outputs first, the order backward visits them, where ours puts every node after its inputs
# and the cell below walks it with `reversed`). With it, the long chain goes through. The cell below uses the
# module the checks look at: the solutions, unless you set `MINIGEN_CHECK=exercises` (or write
# `exercise_module(1, "exercises")` to try your own file; every lesson's exercise cells work the same way):

# %%
lesson01 = exercise_module(1)
order = lesson01.topological_order(node)
node.grad = 1.0
for v in reversed(order):
    v._backward()
print(f"{len(order)} nodes in order; ∂node/∂start = {start.grad:.4f} (1.001⁵⁰⁰⁰ = {1.001 ** 5000:.4f})")

# %% [markdown]
# **1.2 SiLU as a `Function`.** SiLU (also called swish) is y = x·σ(x), with σ the sigmoid. Derive dy/dx,
# write `SiLU.forward` on arrays and `SiLU.backward` with tensor operations (so that gradients of gradients
# work). The checks compare against the solution, against finite differences (next lesson's `gradcheck`) and
# for second derivatives (`gradgradcheck`).
#
# **Run the checks.** From the repository root, `python -m pytest -m lesson01` runs this lesson's tests,
# including these exercise checks, against the *solutions*; `MINIGEN_CHECK=exercises python -m pytest -m
# lesson01` runs them against your file. The cell below does the same from here: change its argument to
# `check(1, "exercises")` when you have written your answers.

# %%
check(1)
