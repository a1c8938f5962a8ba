"""Lesson 2: every op's backward (and backward of backward) against finite differences.

The property tests draw each op's arguments from ``strategies.CASES`` (shapes, dims, keepdim, reductions,
broadcasting, values inside the op's domain) and run ``minigen.gradcheck`` (float64 central differences with a
random upstream gradient, so a backward that is only right for ``.sum()`` fails) and ``minigen.gradgradcheck``.

Finite differences cannot say what happens exactly at a kink or a tie, so the rules minigen documents there
(the same as PyTorch's) are pinned by the hand-written cases below.
"""

import importlib
import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
import minigen.ops
from minigen.nn import functional as F
from strategies import CASES, as_numpy

pytestmark = pytest.mark.lesson02

OPS = sorted(CASES)


@pytest.mark.parametrize("op", OPS)
@given(data=st.data())
def test_gradcheck(op, data, device):
    case = data.draw(CASES[op], label="case")
    assert minigen.gradcheck(case.fn, case.inputs(device))


@pytest.mark.parametrize("op", OPS)
@given(data=st.data())
def test_gradgradcheck(op, data, device):
    case = data.draw(CASES[op], label="case")
    assert minigen.gradgradcheck(case.fn, case.inputs(device))


# Not differentiable (as in PyTorch): comparisons return booleans, argmax and argmin return indices. The test
# below checks that each really makes no graph, so a differentiable op cannot hide in this list.
NOT_DIFFERENTIABLE = {"eq", "ne", "lt", "le", "gt", "ge", "argmax", "argmin"}

# Differentiable ops whose inputs the generic cases above do not draw (images and kernels, indices, random
# masks, running statistics, dtypes): the test that checks each one's gradient, as "file::function".
CHECKED_ELSEWHERE = {
    "linear": "test_nn.py::test_linear_gradcheck",
    "batch_norm": "test_nn.py::test_batch_norm_gradcheck",
    "dropout": "test_nn.py::test_dropout_scales_survivors_and_gradient_uses_same_mask",
    "embedding": "test_nn.py::test_embedding_gradient_scatter_adds_repeated_indices",
    "conv2d": "test_conv.py::test_conv2d_gradcheck",
    "conv_transpose2d": "test_conv.py::test_conv_transpose2d_gradcheck",
    "max_pool2d": "test_pool.py::test_max_pool2d_gradcheck",
    "avg_pool2d": "test_pool.py::test_avg_pool2d_gradcheck",
    "interpolate": "test_pool.py::test_interpolate_gradcheck",
    "cast": "test_dtypes_devices.py::test_to_dtype_is_differentiable_and_casts_the_gradient_back",
}

# Ops whose cases go by other names (forms that each need their own draw).
CASE_NAMES = {"getitem": {"getitem_basic", "getitem_array"}}


def test_every_differentiable_op_in_minigen_ops_has_a_gradient_check():
    """The ops come from ``minigen.ops.__all__``, so a new op without a case (or a test named above) fails here."""
    public = set(minigen.ops.__all__)
    assert NOT_DIFFERENTIABLE | set(CHECKED_ELSEWHERE) <= public, "stale names in the lists above"
    missing = sorted(name for name in public - NOT_DIFFERENTIABLE - set(CHECKED_ELSEWHERE)
                     if not CASE_NAMES.get(name, {name}) & set(CASES))
    assert not missing, f"differentiable ops without a case in tests/strategies.py: {missing}"
    for name, where in CHECKED_ELSEWHERE.items():
        file, function = where.split("::")
        module = importlib.import_module(file.removesuffix(".py"))               # tests/ is on sys.path
        assert callable(getattr(module, function, None)), f"{name}: no test {where}"


@pytest.mark.parametrize("name", sorted(NOT_DIFFERENTIABLE))
def test_the_ops_listed_as_not_differentiable_make_no_graph(name):
    op = getattr(minigen.ops, name)
    required = [p for p in inspect.signature(op).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    x = minigen.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=minigen.float64, requires_grad=True)
    out = op(*[x] * len(required))
    assert not out.requires_grad and out.grad_fn is None and out.dtype != np.float64


# --- Kinks and ties: the documented rules -----------------------------------------------------------------------
def _grad(fn, *xs, upstream=None, device="cpu"):
    """Gradients of ⟨upstream, fn(*xs)⟩ for float64 inputs given as lists."""
    ts = [minigen.tensor(x, dtype=minigen.float64, device=device, requires_grad=True) for x in xs]
    y = fn(*ts)
    g = np.ones(y.shape) if upstream is None else np.asarray(upstream, dtype=np.float64)
    y.backward(minigen.tensor(g, device=device))
    return [as_numpy(t.grad) for t in ts]


def test_relu_gradient_is_zero_at_zero(device):
    (g,) = _grad(F.relu, [-1.0, 0.0, 2.0], upstream=[5.0, 7.0, 3.0], device=device)
    np.testing.assert_array_equal(g, [0.0, 0.0, 3.0])


def test_leaky_relu_gradient_is_the_slope_at_zero(device):
    (g,) = _grad(lambda x: F.leaky_relu(x, 0.2), [-1.0, 0.0, 2.0], device=device)
    np.testing.assert_allclose(g, [0.2, 0.2, 1.0])


def test_abs_gradient_is_zero_at_zero(device):
    (g,) = _grad(minigen.abs, [-2.0, 0.0, 3.0], upstream=[2.0, 9.0, 4.0], device=device)
    np.testing.assert_array_equal(g, [-2.0, 0.0, 4.0])


@pytest.mark.parametrize("fn", [minigen.maximum, minigen.minimum])
def test_maximum_minimum_split_ties_in_half(fn, device):
    ga, gb = _grad(fn, [1.0, 2.0, 5.0], [1.0, 3.0, 4.0], upstream=[4.0, 1.0, 1.0], device=device)
    larger = fn is minigen.maximum
    np.testing.assert_allclose(ga, [2.0, 0.0, 1.0] if larger else [2.0, 1.0, 0.0])
    np.testing.assert_allclose(gb, [2.0, 1.0, 0.0] if larger else [2.0, 0.0, 1.0])


def test_maximum_tie_with_a_broadcast_scalar_adds_the_halves(device):
    ga, gb = _grad(minigen.maximum, [0.0, 0.0, 1.0], 0.0, device=device)
    np.testing.assert_allclose(ga, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(gb, 1.0)  # two halves, and nothing from the element it lost to


def test_clamp_passes_the_gradient_on_the_bounds(device):
    (g,) = _grad(lambda x: minigen.clamp(x, 0.0, 1.0), [-0.5, 0.0, 0.5, 1.0, 1.5], device=device)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clamp_with_tensor_bounds_gives_the_tie_to_the_input(device):
    gx, glo, ghi = _grad(lambda x, lo, hi: minigen.clamp(x, lo, hi), [-1.0, 0.0, 0.5, 1.0, 2.0],
                         [0.0] * 5, [1.0] * 5, device=device)
    np.testing.assert_array_equal(gx, [0.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(glo, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [0.0, 0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("name", ["max", "amax", "min", "amin"])
def test_full_reduction_shares_the_gradient_among_ties(name, device):
    x = [3.0, 1.0, 3.0, 3.0] if name in ("max", "amax") else [1.0, 3.0, 1.0, 1.0]
    (g,) = _grad(lambda t: getattr(t, name)(), x, upstream=6.0, device=device)
    np.testing.assert_allclose(g, [2.0, 0.0, 2.0, 2.0])


def test_amax_over_dims_shares_each_row_among_its_ties(device):
    (g,) = _grad(lambda t: t.amax(dim=1), [[1.0, 1.0, 0.0], [2.0, 0.0, 2.0], [5.0, 4.0, 3.0]],
                 upstream=[2.0, 4.0, 1.0], device=device)
    np.testing.assert_allclose(g, [[1.0, 1.0, 0.0], [2.0, 0.0, 2.0], [1.0, 0.0, 0.0]])
    (g,) = _grad(lambda t: t.amin(dim=(0, 2)), [[[1.0, 2.0]], [[1.0, 3.0]]], upstream=[3.0], device=device)
    np.testing.assert_allclose(g, [[[1.5, 0.0]], [[1.5, 0.0]]])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_over_a_dim_sends_the_gradient_to_the_returned_first_index(name, device):
    x = minigen.tensor([[3.0, 1.0, 3.0], [0.0, 0.0, 0.0]], dtype=minigen.float64, device=device,
                       requires_grad=True)
    if name == "min":
        x = (-x).detach().requires_grad_()
    values, indices = getattr(x, name)(1)
    np.testing.assert_array_equal(as_numpy(indices), [0, 0])
    assert indices.dtype == np.int64 and not indices.requires_grad
    values.backward(minigen.tensor([5.0, 7.0], dtype=minigen.float64, device=device))
    np.testing.assert_array_equal(as_numpy(x.grad), [[5.0, 0.0, 0.0], [7.0, 0.0, 0.0]])


def test_max_with_keepdim_returns_indices_of_the_same_shape(device):
    x = minigen.tensor([[1.0, 4.0], [6.0, 2.0]], device=device)
    values, indices = x.max(dim=0, keepdim=True)
    assert values.shape == indices.shape == (1, 2)
    np.testing.assert_array_equal(as_numpy(indices), [[1, 0]])


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_std_of_a_constant_has_zero_gradient(device):
    """√ has an infinite slope at 0: PyTorch's rule (documented in reduce.py) takes the gradient as 0 there."""
    (g,) = _grad(lambda t: t.std(), [2.0, 2.0, 2.0], device=device)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    (g,) = _grad(lambda t: t.std(dim=1), [[1.0, 1.0], [1.0, 3.0]], device=device)
    np.testing.assert_allclose(g, [[0.0, 0.0], [-np.sqrt(0.5), np.sqrt(0.5)]])


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_pow_gradient_for_the_exponent_is_zero_at_a_zero_base(device):
    ga, gb = _grad(lambda a, b: a ** b, [0.0, 0.0, 2.0], [2.0, 0.0, 3.0], device=device)
    np.testing.assert_allclose(ga, [0.0, 0.0, 12.0])
    np.testing.assert_allclose(gb, [0.0, 0.0, 8.0 * np.log(2.0)])


def test_pow_masks_the_base_gradient_where_the_exponent_is_zero(device):
    """PyTorch's rule, documented in elementwise.py: ∂(aᵇ)/∂a is taken as 0 wherever b = 0, so the mixed second
    derivative there is 0 too (the exact value would be 1/a); hypothesis keeps b away from 0."""
    a = minigen.tensor([1.5, 4.0], dtype=minigen.float64, device=device, requires_grad=True)
    b = minigen.tensor([0.0, 0.0], dtype=minigen.float64, device=device, requires_grad=True)
    (ga,) = minigen.grad((a ** b).sum(), a, create_graph=True)
    np.testing.assert_array_equal(as_numpy(ga), [0.0, 0.0])
    (gab,) = minigen.grad(ga.sum(), b, allow_unused=True)
    assert gab is None or (as_numpy(gab) == 0).all()


def test_softplus_is_linear_above_the_threshold(device):
    x = [30.0, 25.0, 3.0]
    (g,) = _grad(lambda t: F.softplus(t, beta=1.0, threshold=20.0), x, device=device)
    np.testing.assert_allclose(g[:2], [1.0, 1.0])
    np.testing.assert_allclose(g[2], 1 / (1 + np.exp(-3.0)))
    y = F.softplus(minigen.tensor(x, dtype=minigen.float64, device=device), beta=2.0, threshold=10.0)
    np.testing.assert_allclose(as_numpy(y), [30.0, 25.0, np.log1p(np.exp(6.0)) / 2])


def test_indexing_with_repeated_indices_adds_up(device):
    (g,) = _grad(lambda t: t[minigen.tensor([0, 2, 0, 0], device=device)], [1.0, 2.0, 3.0],
                 upstream=[1.0, 10.0, 100.0, 1000.0], device=device)
    np.testing.assert_array_equal(g, [1101.0, 0.0, 10.0])
    (g,) = _grad(lambda t: t[[1, 1], [0, 0]], [[1.0, 2.0], [3.0, 4.0]], upstream=[2.0, 3.0], device=device)
    np.testing.assert_array_equal(g, [[0.0, 0.0], [5.0, 0.0]])


def test_repeated_index_double_backward_is_a_gather(device):
    x = minigen.tensor([1.0, 2.0, 3.0], dtype=minigen.float64, device=device, requires_grad=True)
    idx = minigen.tensor([2, 2, 0], device=device)
    y = (x[idx] ** 2).sum()
    (g,) = minigen.grad(y, x, create_graph=True)  # 2·x scattered: [2, 0, 12]
    np.testing.assert_allclose(as_numpy(g), [2.0, 0.0, 12.0])
    (h,) = minigen.grad(g.sum(), x)  # d/dx Σ_k 2·count_k·x_k = 2·count
    np.testing.assert_allclose(as_numpy(h), [2.0, 0.0, 4.0])


def test_cross_entropy_ignored_targets_get_no_gradient(device):
    z = minigen.tensor([[1.0, 2.0, 0.5], [0.3, 0.1, 0.2], [2.0, 1.0, 0.0]], dtype=minigen.float64,
                       device=device, requires_grad=True)
    t = minigen.tensor([2, -100, 0], device=device)
    F.cross_entropy(z, t).backward()
    g = as_numpy(z.grad)
    np.testing.assert_array_equal(g[1], 0.0)
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-15)  # softmax − one-hot sums to 0 per row
    assert (g[[0, 2]] != 0).all()


def test_binary_cross_entropy_gradient_is_finite_at_saturated_probabilities(device):
    """p = 0 or 1 exactly (what a saturated float32 sigmoid gives): each log is clamped at −100 and the gradient
    is PyTorch's (p − t) / max(p(1 − p), 1e-12), finite (composing clamp(log p) would give 0 · 1/0 = NaN)."""
    p = minigen.tensor([0.0, 1.0, 1.0, 0.0, 0.5], dtype=minigen.float64, device=device, requires_grad=True)
    t = minigen.tensor([0.0, 1.0, 0.0, 1.0, 1.0], dtype=minigen.float64, device=device)
    loss = F.binary_cross_entropy(p, t, reduction="sum")
    np.testing.assert_allclose(loss.item(), 200.0 + np.log(2.0))
    loss.backward()
    g = as_numpy(p.grad)
    assert np.isfinite(g).all(), g
    np.testing.assert_allclose(g, [0.0, 0.0, 1e12, -1e12, -2.0])  # confidently wrong: a huge push back
