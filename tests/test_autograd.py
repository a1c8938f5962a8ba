"""Lesson 1: the autograd engine's promises.

- forward and backward never mutate their inputs or the upstream gradient (every op, drawn by hypothesis);
- ``.grad`` of different tensors never share memory with each other or with the caller's gradient;
- a tensor used twice receives the sum of both contributions (diamond graphs);
- leaf gradients accumulate across backward calls until zeroed; the graph is freed unless ``retain_graph``;
- ``no_grad`` builds no graph; ``grad()`` follows ``torch.autograd.grad`` (create_graph, allow_unused,
  non-leaf inputs); ``detach``, ``requires_grad_``, ``retain_grad``.
"""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
from minigen import Function, Tensor, grad, no_grad
from minigen.autograd import topological_order
from minigen.backend import xp_of
from minigen.nn import functional as F
from helpers import f64
from strategies import CASES, as_numpy, outputs_of

pytestmark = pytest.mark.lesson01


def shares_memory(a, b) -> bool:
    xp = xp_of(a)
    return bool(xp.shares_memory(a, b)) if hasattr(xp, "shares_memory") else bool(xp.may_share_memory(a, b))


# --- No mutation, no aliasing: every op ------------------------------------------------------------------------
@pytest.mark.parametrize("op", sorted(CASES))
@given(data=st.data(), create_graph=st.booleans())
def test_forward_and_backward_never_mutate_inputs_or_the_upstream_gradient(op, data, create_graph, device):
    case = data.draw(CASES[op], label="case")
    inputs = case.inputs(device)
    before = [x.data.copy() for x in inputs]
    (y,) = outputs_of(case.fn(*inputs))
    upstream = minigen.tensor(np.random.default_rng(1).standard_normal(y.shape), device=device)
    upstream_before = upstream.data.copy()
    y.backward(upstream, create_graph=create_graph)
    for x, x0 in zip(inputs, before):
        np.testing.assert_array_equal(as_numpy(x), as_numpy(Tensor(x0)))
    np.testing.assert_array_equal(as_numpy(upstream), as_numpy(Tensor(upstream_before)))
    grads = [x.grad for x in inputs if x.requires_grad]
    assert all(g is not None and g.shape == x.shape for g, x in zip(grads, (x for x in inputs if x.requires_grad)))
    arrays = [g.data for g in grads] + [upstream.data] + [x.data for x in inputs]
    for i, g in enumerate(grads):
        for j, other in enumerate(arrays):
            if i != j:
                assert not shares_memory(g.data, other), f".grad of input {i} shares memory with array {j}"


def test_gradients_of_an_add_never_alias(device):
    """y = a + b hands the same upstream tensor to both inputs: each .grad must still be its own copy."""
    for create_graph in (False, True):
        a, b = f64([1.0, 2.0], device=device), f64([3.0, 4.0], device=device)
        g = minigen.tensor([1.0, 1.0], dtype=minigen.float64, device=device)
        (a + b).backward(g, create_graph=create_graph)
        assert a.grad is not b.grad and a.grad is not g
        assert not shares_memory(a.grad.data, b.grad.data) and not shares_memory(a.grad.data, g.data)


def test_backward_of_a_leaf_copies_the_gradient(device):
    x = f64([1.0, 2.0], device=device)
    g = minigen.tensor([5.0, 6.0], dtype=minigen.float64, device=device)
    x.backward(g)
    assert not shares_memory(x.grad.data, g.data)
    np.testing.assert_array_equal(as_numpy(x.grad), [5.0, 6.0])


def test_accumulating_builds_a_new_gradient_and_leaves_old_references_alone(device):
    x = f64([1.0, 2.0], device=device)
    (x * 3).sum().backward()
    first = x.grad
    (x * 4).sum().backward()
    np.testing.assert_array_equal(as_numpy(first), [3.0, 3.0])
    np.testing.assert_array_equal(as_numpy(x.grad), [7.0, 7.0])


# --- Graph shapes: diamonds and reuse ----------------------------------------------------------------------
def test_a_tensor_used_twice_accumulates_both_paths(device):
    x = f64([1.0, -2.0, 3.0], device=device)
    a, b = x * 2.0, x.exp()
    y = (a * b).sum()  # d/dx (2x·eˣ) = 2eˣ + 2x·eˣ
    y.backward()
    xs = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(as_numpy(x.grad), 2 * np.exp(xs) * (1 + xs))


def test_the_same_tensor_twice_in_one_op(device):
    x = f64([3.0], device=device)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(as_numpy(x.grad), [7.0])


def test_a_deep_diamond_counts_every_path(device):
    """h doubles at each of 20 levels, each level using the previous one twice: 2²⁰ paths."""
    x = f64(1.0, device=device)
    h = x
    for _ in range(20):
        h = h + h
    h.backward()
    assert x.grad.item() == 2.0 ** 20


def test_a_shared_intermediate_gets_its_gradient_once(device):
    """The function of a tensor used by two consumers runs once, after both (a topological order)."""
    calls = []

    class Counted(Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            calls.append(1)
            return g * 2

    x = f64([1.0, 2.0], device=device)
    h = Counted()(x)
    (h * h + h.exp()).sum().backward()
    assert len(calls) == 1
    hs = np.array([2.0, 4.0])
    np.testing.assert_allclose(as_numpy(x.grad), 2 * (2 * hs + np.exp(hs)))


@given(seed=st.integers(0, 2 ** 16), n=st.integers(1, 25))
def test_topological_order_lists_every_function_once_before_those_that_made_its_inputs(seed, n):
    """autograd.topological_order on a random graph: nodes built from two random earlier nodes each."""
    rng = np.random.default_rng(seed)
    nodes = [f64([1.0]), f64([2.0])]
    for _ in range(n):
        a, b = rng.integers(0, len(nodes), 2)
        nodes.append(nodes[a] * 0.5 + nodes[b] if rng.random() < 0.5 else nodes[a].tanh())
    order = topological_order([nodes[-1]])
    position = {id(fn): i for i, fn in enumerate(order)}
    assert len(position) == len(order), "a function listed twice"
    reachable, stack = set(), [nodes[-1].grad_fn]
    while stack:                                                  # every function the output depends on
        fn = stack.pop()
        if fn is not None and id(fn) not in reachable:
            reachable.add(id(fn))
            stack.extend(x.grad_fn for x in fn.inputs)
    assert set(position) == reachable
    for fn in order:
        for x in fn.inputs:
            if x.grad_fn is not None:
                assert position[id(fn)] < position[id(x.grad_fn)], "a function after one that made its input"


def test_topological_order_needs_no_recursion():
    x = f64([1.0])
    h = x
    for _ in range(20_000):                                       # deeper than Python's recursion limit
        h = h * 1.0
    assert len(topological_order([h])) == 20_000


def test_output_that_is_not_used_downstream_gets_zero_gradient(device):
    x = f64([[3.0, 1.0], [0.0, 5.0]], device=device)
    values, indices = x.max(1)
    (values * 2).sum().backward()
    np.testing.assert_array_equal(as_numpy(x.grad), [[2.0, 0.0], [0.0, 2.0]])


# --- Accumulation and retain_graph ---------------------------------------------------------------------------
def test_second_backward_with_retain_graph_accumulates_until_zeroed(device):
    x = f64([1.0, 2.0], device=device)
    y = (x ** 3).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(as_numpy(x.grad), [3.0, 12.0])
    y.backward(retain_graph=True)
    np.testing.assert_allclose(as_numpy(x.grad), [6.0, 24.0])
    x.grad = None  # zero_grad
    y.backward()
    np.testing.assert_allclose(as_numpy(x.grad), [3.0, 12.0])


def test_backward_through_a_freed_graph_raises_and_mentions_retain_graph(device):
    x = f64([1.0, 2.0], device=device)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    h = x.tanh()
    (h * 2).sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):  # h's own function was freed too
        (h * 3).sum().backward()
    (x * 2).sum().backward()  # a new graph from the same leaf is fine


def test_grad_frees_the_graph_unless_retained(device):
    x = f64([1.0, 2.0], device=device)
    y = (x * x).sum()
    grad(y, x, retain_graph=True)
    grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        grad(y, x)


def test_backward_releases_the_intermediate_tensors(device):
    x = f64([1.0, 2.0], device=device)
    h = x * 2
    y = h.sum()
    ref = weakref.ref(h)
    del h
    assert ref() is not None  # the graph holds it for backward
    y.backward()
    gc.collect()
    assert ref() is None  # freed with the graph


def test_an_addition_does_not_keep_its_inputs_alive(device):
    """Add needs only its inputs' shapes: the product feeding it is freed after forward (nobody else holds it),
    and the gradients still reach w and x through it."""
    rng = np.random.default_rng(0)
    x, w = f64(rng.standard_normal((3, 4)), device=device), f64(rng.standard_normal((4, 5)), device=device)
    h = x @ w                                             # matmul's backward never reads its output
    a = h + 1.0
    y = (a * 2.0).sum()
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is None                                  # the graph holds an edge, not the tensor
    edge = a.grad_fn.inputs[0]
    assert edge.shape == (3, 5) and type(edge.grad_fn).__name__ == "MatMul" and edge.requires_grad
    y.backward()
    np.testing.assert_allclose(as_numpy(w.grad), 2 * as_numpy(x).T @ np.ones((3, 5)), rtol=1e-12)
    np.testing.assert_allclose(as_numpy(x.grad), 2 * np.ones((3, 5)) @ as_numpy(w).T, rtol=1e-12)


def test_a_function_that_reads_its_output_keeps_it_through_an_addition(device):
    """A Function written without the reads_outputs flag (its default says it may read its output): an
    addition after it keeps the output alive, so its backward still finds it."""
    class Square(Function):                               # y = x², backward written with y = x·x … via y/x
        def forward(self, x):
            return x * x

        def backward(self, g):
            x, = self.inputs
            return g * 2.0 * self.output() / x

    x = f64([1.0, -2.0, 3.0], device=device)
    y = (Square()(x) + 1.0).sum()
    y.backward()
    np.testing.assert_allclose(as_numpy(x.grad), [2.0, -4.0, 6.0])


@pytest.mark.parametrize("retain_graph", [False, True])
def test_backward_frees_each_part_of_the_graph_once_it_has_run(device, retain_graph):
    """Peak memory: a function's inputs, what it saved and its outputs' gradients are released as soon as its
    backward has run, not when the whole pass ends (unless retain_graph). A probe at the start of the graph
    (its backward runs last) looks at what is still alive of the graph's far end."""
    seen, refs = {}, []

    class Probe(Function):
        def forward(self, x):
            return x.copy()

        def backward(self, g):
            gc.collect()
            seen["alive"] = [r() is not None for r in refs]
            return g

    x = f64([0.5, -1.0, 2.0], device=device)
    k = Probe()(x).exp()                          # Exp's backward reads its output k; Probe's runs right after
    y = (k * k).sum()
    refs += [weakref.ref(k), weakref.ref(k.grad_fn)]
    del k
    y.backward(retain_graph=retain_graph)
    assert seen["alive"] == [retain_graph, retain_graph]
    np.testing.assert_allclose(as_numpy(x.grad), 2 * np.exp(2 * np.array([0.5, -1.0, 2.0])), rtol=1e-12)


def test_functions_hold_their_outputs_weakly(device):
    """No reference cycle tensor → grad_fn → tensor: dropping the output frees it at once (no gc needed)."""
    x = f64([1.0, 2.0], device=device)
    gc.disable()
    try:
        y = x.exp()
        ref = weakref.ref(y)
        del y
        assert ref() is None
    finally:
        gc.enable()


# --- Graph recording -------------------------------------------------------------------------------------------
def test_leaves_and_graph_attributes(device):
    x = f64([1.0], device=device)
    c = minigen.tensor([2.0], device=device)
    y = x * c
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    z = c * 2
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None
    assert not (x > 0).requires_grad and not x.argmax().requires_grad
    assert "grad_fn" in repr(y) and "requires_grad=True" in repr(x)


def test_no_grad_builds_no_graph(device):
    x = f64([1.0, 2.0], device=device)
    with no_grad():
        y = (x * 2).exp().sum()
        assert not minigen.is_grad_enabled()
    assert minigen.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    with pytest.raises(RuntimeError):
        y.backward()


def test_no_grad_as_a_decorator_and_enable_grad_inside(device):
    x = f64([1.0, 2.0], device=device)

    @no_grad()
    def step():
        inner = x * 2
        with minigen.enable_grad():
            recorded = x * 3
        return inner, recorded

    inner, recorded = step()
    assert inner.grad_fn is None and recorded.grad_fn is not None
    assert minigen.is_grad_enabled()

    @minigen.enable_grad()
    def recorded_anyway():
        return x * 4
    with no_grad():
        assert recorded_anyway().requires_grad


def test_set_grad_enabled_and_restoring_after_an_exception(device):
    x = f64([1.0], device=device)
    with minigen.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with pytest.raises(ValueError):
        with no_grad():
            raise ValueError
    assert minigen.is_grad_enabled() and (x * 2).requires_grad


def test_backward_inside_no_grad_still_computes_gradients(device):
    x = f64([1.0, 2.0], device=device)
    y = (x * x).sum()
    with no_grad():
        y.backward()
    np.testing.assert_allclose(as_numpy(x.grad), [2.0, 4.0])


# --- grad() --------------------------------------------------------------------------------------------------
def test_grad_returns_a_tuple_and_leaves_dot_grad_alone(device):
    x, w = f64([1.0, 2.0], device=device), f64([3.0, 4.0], device=device)
    gx, gw = grad((x * w).sum(), [x, w])
    np.testing.assert_array_equal(as_numpy(gx), [3.0, 4.0])
    np.testing.assert_array_equal(as_numpy(gw), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad  # no create_graph: plain numbers


def test_grad_with_create_graph_gives_higher_derivatives(device):
    x = f64([0.5, -1.5], device=device)
    (g1,) = grad((x ** 4).sum(), x, create_graph=True)
    (g2,) = grad(g1.sum(), x, create_graph=True)
    (g3,) = grad(g2.sum(), x)
    xs = np.array([0.5, -1.5])
    np.testing.assert_allclose(as_numpy(g1.detach()), 4 * xs ** 3)
    np.testing.assert_allclose(as_numpy(g2.detach()), 12 * xs ** 2)
    np.testing.assert_allclose(as_numpy(g3), 24 * xs)


def test_backward_with_create_graph_makes_a_differentiable_grad(device):
    x = f64([2.0], device=device)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = grad(x.grad.sum(), x)
    np.testing.assert_allclose(as_numpy(g2), [12.0])


def test_gradient_penalty_wgan_gp_style(device):
    """grad(D(x̂), x̂, create_graph=True) and backward through the penalty to the critic's weights: checked
    against finite differences, so every backward on the way must itself be differentiable."""
    rng = np.random.default_rng(0)
    w1 = f64(rng.standard_normal((3, 4)), device=device)
    w2 = f64(rng.standard_normal((4,)), device=device)
    xhat = f64(rng.standard_normal((2, 3)), device=device)

    def penalty(w1, w2, xhat):
        critic = (F.leaky_relu(xhat @ w1, 0.2).tanh() @ w2).sum()
        (g,) = grad(critic, xhat, create_graph=True)
        norm = ((g * g).sum(1) + 1e-12).sqrt()
        return ((norm - 1.0) ** 2).mean()

    assert minigen.gradcheck(penalty, (w1, w2, xhat))


def test_grad_allow_unused(device):
    x, unused = f64([1.0], device=device), f64([2.0], device=device)
    y = (x * 3).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        grad(y, [x, unused], retain_graph=True)
    gx, gu = grad(y, [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 3.0


def test_grad_with_respect_to_a_non_leaf(device):
    x = f64([1.0, 2.0], device=device)
    h = x * 3
    y = (h * h).sum()
    gh, gx = grad(y, [h, x])
    np.testing.assert_allclose(as_numpy(gh), [6.0, 12.0])  # 2h
    np.testing.assert_allclose(as_numpy(gx), [18.0, 36.0])  # 2h · 3


def test_grad_with_several_outputs_and_grad_outputs(device):
    x = f64([1.0, 2.0], device=device)
    y1, y2 = x * 2, x * x
    v1 = minigen.tensor([1.0, 10.0], dtype=minigen.float64, device=device)
    v2 = minigen.tensor([100.0, 1000.0], dtype=minigen.float64, device=device)
    (g,) = grad([y1, y2], x, grad_outputs=[v1, v2])
    np.testing.assert_allclose(as_numpy(g), [2 + 200.0, 20 + 4000.0])


def test_backward_of_a_non_scalar_needs_a_gradient(device):
    x = f64([1.0, 2.0], device=device)
    y = x * 2
    y.backward(minigen.tensor([1.0, -1.0], dtype=minigen.float64, device=device))
    np.testing.assert_array_equal(as_numpy(x.grad), [2.0, -2.0])
    z = f64([[3.0]], device=device) * 2  # one element in any shape: ones are implied
    z.backward()


# --- detach, requires_grad_, retain_grad ------------------------------------------------------------------------
def test_detach_shares_data_and_stops_gradients(device):
    x = f64([1.0, 2.0], device=device)
    d = x.detach()
    assert shares_memory(d.data, x.data) and not d.requires_grad and d.grad_fn is None
    (x * d).sum().backward()  # d is a constant: the gradient is d, not 2x
    np.testing.assert_array_equal(as_numpy(x.grad), [1.0, 2.0])


def test_requires_grad_(device):
    x = minigen.tensor([1.0, 2.0], device=device)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad and not (x * 2).requires_grad


def test_retain_grad_keeps_the_gradient_of_a_non_leaf(device):
    x = f64([1.0, 2.0], device=device)
    h, k = x * 2, x * 3
    h.retain_grad()
    (h * k).sum().backward()
    np.testing.assert_array_equal(as_numpy(h.grad), as_numpy(k.detach()))
    assert k.grad is None  # non-leaves keep nothing unless asked


def test_custom_function_needs_input_grad(device):
    seen = []

    class Mul(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, g):
            seen.append(self.needs_input_grad)
            a, b = self.inputs
            return (g * b if self.needs_input_grad[0] else None), (g * a if self.needs_input_grad[1] else None)

    a, b = f64([2.0], device=device), minigen.tensor([5.0], dtype=minigen.float64, device=device)
    Mul()(a, b).sum().backward()
    assert seen == [(True, False)] and a.grad.item() == 5.0


def test_a_backward_returning_the_wrong_shape_is_reported(device):
    class Bad(Function):
        def forward(self, x):
            return x.sum()

        def backward(self, g):
            return g  # should be broadcast back to x's shape

    x = f64([1.0, 2.0], device=device)
    message = r"bad.backward returned a gradient of shape \(\) for an input of shape \(2,\)"
    with pytest.raises(RuntimeError, match=message):
        Bad()(x).backward()
