"""Lesson 2: every op's forward values against a NumPy reference, and the numerically delicate corners.

The gradient checks only say that backward agrees with forward; this file says that forward is right. The
references are written independently in strategies.py (plain NumPy, often a different formula: log1p(exp)
for softplus, a loop over examples for nll_loss).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen.nn import functional as F
from strategies import CASES, as_numpy, broadcastable, outputs_of

pytestmark = pytest.mark.lesson02


@pytest.mark.parametrize("op", sorted(CASES))
@given(data=st.data())
def test_forward_matches_numpy(op, data, device):
    case = data.draw(CASES[op], label="case")
    out = outputs_of(case.fn(*case.inputs(device, requires_grad=False)))
    assert len(out) == 1
    expected = np.asarray(case.ref(*case.arrays))
    assert out[0].shape == expected.shape
    assert out[0].dtype == np.float64
    np.testing.assert_allclose(as_numpy(out[0]), expected, rtol=1e-10, atol=1e-12)


_COMPARISONS = [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                ("gt", np.greater), ("ge", np.greater_equal)]


@pytest.mark.parametrize("name, ref", _COMPARISONS)
@given(data=st.data())
def test_comparisons_match_numpy_and_carry_no_gradient(name, ref, data, device):
    sa, sb = data.draw(broadcastable(2), label="shapes")
    small_ints = st.integers(-2, 2).map(float)  # small integers: plenty of equal pairs
    a = data.draw(hnp.arrays(np.float64, sa, elements=small_ints), label="a")
    b = data.draw(hnp.arrays(np.float64, sb, elements=small_ints), label="b")
    x = minigen.tensor(a, device=device, requires_grad=True)
    for result, expected in [(getattr(minigen, name)(x, minigen.tensor(b, device=device)), ref(a, b)),
                             (getattr(x, name)(1.0), ref(a, 1.0))]:
        assert result.dtype == np.bool_ and not result.requires_grad and result.grad_fn is None
        np.testing.assert_array_equal(as_numpy(result), expected)


def test_comparison_operators(device):
    x = minigen.tensor([1.0, 2.0, 3.0], device=device)
    np.testing.assert_array_equal(as_numpy(x == 2.0), [False, True, False])
    np.testing.assert_array_equal(as_numpy(x != 2.0), [True, False, True])
    np.testing.assert_array_equal(as_numpy(x < 2.0), [True, False, False])
    np.testing.assert_array_equal(as_numpy(x <= 2.0), [True, True, False])
    np.testing.assert_array_equal(as_numpy(x > 2.0), [False, False, True])
    np.testing.assert_array_equal(as_numpy(x >= 2.0), [False, True, True])
    np.testing.assert_array_equal(as_numpy(2.0 < x), [False, False, True])  # reflected


@given(data=st.data())
def test_argmax_argmin_match_numpy(data, device):
    a = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                             elements=st.integers(-3, 3).map(float)), label="x")  # ties: the first index
    x = minigen.tensor(a, device=device)
    assert minigen.argmax(x).item() == np.argmax(a) and x.argmin().item() == np.argmin(a)
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1), label="dim")
    keep = data.draw(st.booleans(), label="keepdim")
    for got, want in [(x.argmax(dim, keep), np.argmax(a, dim, keepdims=keep)),
                      (minigen.argmin(x, dim, keep), np.argmin(a, dim, keepdims=keep))]:
        assert got.dtype == np.int64
        np.testing.assert_array_equal(as_numpy(got), want)


def test_reductions_of_a_0d_tensor(device):
    x = minigen.tensor(2.5, dtype=minigen.float64, device=device)
    for y in [x.sum(), x.mean(), x.amax(), x.max(), x.logsumexp(0), x.sum(0), x.mean(-1, keepdim=True)]:
        assert y.shape == () and y.item() == 2.5


# --- Numerical stability ------------------------------------------------------------------------------------
LARGE = [-1000.0, -50.0, 0.0, 50.0, 1000.0]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow on the way
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_tanh_softplus_are_stable_for_large_inputs(dtype, device):
    x = minigen.tensor(LARGE, dtype=dtype, device=device)
    np.testing.assert_allclose(as_numpy(minigen.sigmoid(x)), [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], atol=1e-30)
    np.testing.assert_allclose(as_numpy(minigen.tanh(x)), [-1.0, -1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(as_numpy(F.softplus(x)), [0.0, np.exp(-50.0), np.log(2.0), 50.0, 1000.0],
                               rtol=1e-6, atol=1e-30)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_family_is_stable_for_large_logits(dtype, device):
    z = minigen.tensor([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype, device=device)
    atol = 1e-3 if dtype == "float32" else 1e-12  # float32 resolves 1000 to 6e-5
    np.testing.assert_allclose(as_numpy(F.log_softmax(z, dim=1)),
                               [[0.0, -1000.0, -2000.0], [-np.log(3)] * 3], rtol=1e-6, atol=atol)
    # softmax = exp(log_softmax): the absolute error of log_softmax (≈ |z|·eps) becomes a relative one
    np.testing.assert_allclose(as_numpy(F.softmax(z, dim=1)), [[1.0, 0.0, 0.0], [1 / 3] * 3],
                               rtol=1e-4 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(as_numpy(z.logsumexp(1)), [1000.0, -1000.0 + np.log(3)], rtol=1e-6)
    loss = F.cross_entropy(z, minigen.tensor([2, 0], device=device), reduction="none")
    np.testing.assert_allclose(as_numpy(loss), [2000.0, np.log(3)], rtol=1e-6, atol=atol)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # log(0) = −inf is the answer here
def test_logsumexp_of_all_minus_infinity_is_minus_infinity(device):
    x = minigen.tensor([[-np.inf, -np.inf], [0.0, -np.inf]], dtype=minigen.float64, device=device)
    np.testing.assert_array_equal(as_numpy(x.logsumexp(1)), [-np.inf, 0.0])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_binary_cross_entropy_with_logits_is_stable(device):
    z = minigen.tensor(LARGE, dtype=minigen.float64, device=device, requires_grad=True)
    t = minigen.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=minigen.float64, device=device)
    loss = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    # (z = −50, t = 0) is −50 + softplus(50): the 1.9e-22 is below float64's resolution at 50, as in PyTorch
    np.testing.assert_allclose(as_numpy(loss), [1000.0, np.log1p(np.exp(-50.0)), np.log(2.0),
                                                np.log1p(np.exp(-50.0)), 1000.0], rtol=1e-12, atol=1e-15)
    loss.sum().backward()
    np.testing.assert_allclose(as_numpy(z.grad), [-1.0, 0.0, -0.5, 0.0, 1.0], atol=1e-20)


@settings(max_examples=50, deadline=None)
@given(z=hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=2, max_side=64),
                    elements=st.floats(-120, 120, width=32)),
       scale=st.sampled_from([1.0, 1e-3, 1e-8]))
def test_softplus_array_is_within_a_few_ulp_in_float32(z, scale):
    """softplus_array's log1p-by-corrected-log against float64 log(1 + eᶻ) (NumPy's logaddexp): float32 results
    within 8 ulp (it measured ≤ 5.3) wherever the result is a normal number, float64 ones within 8 ulp too.
    Drawn z reaches far left, where e^{−|z|} < 2⁻²⁴ and plain log(1 + e) would return 0 (the scale brings many
    values near 0, where log1p(e) ≈ log 2)."""
    from minigen.ops.elementwise import softplus_array
    z = (z * np.float32(scale)).astype(np.float32)
    for dtype, ulp in ((np.float32, 2.0 ** -24), (np.float64, 2.0 ** -53)):
        zd = z.astype(dtype)
        got = softplus_array(zd)
        assert got.dtype == dtype and got.shape == z.shape
        ref = np.logaddexp(0.0, zd.astype(np.float64))
        normal = ref > np.finfo(dtype).tiny
        assert np.all(np.abs(got - ref)[normal] <= 8 * ulp * ref[normal])
        assert np.all(np.abs(got - ref)[~normal] <= np.finfo(dtype).smallest_subnormal * 2)


def test_softplus_array_keeps_e_where_one_plus_e_rounds_to_one():
    """Far left log1p(e^{z}) = e^{z} to full precision: the case a plain log(1 + e) loses entirely."""
    from minigen.ops.elementwise import softplus_array
    z = np.array([-20.0, -30.0, -50.0, -80.0], np.float32)
    np.testing.assert_allclose(softplus_array(z), np.exp(z.astype(np.float64)), rtol=4e-7)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_fused_bce_with_logits_matches_its_composition(data):
    """The one-function loss (no pos_weight) against (1 − t)·z + softplus(−z) built from basic ops, float64: the
    values, both gradients under a random upstream gradient, and the gradients of ⟨∂ℓ/∂z, v⟩ + ⟨∂ℓ/∂t, u⟩ for z
    and t (double backward, the mixed ∂²ℓ/∂z∂t included)."""
    from minigen.ops.loss import BinaryCrossEntropyWithLogits, _softplus
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    z0 = rng.standard_normal(shape) * data.draw(st.sampled_from([1.0, 10.0, 60.0]))
    t0, up, v, u = rng.random(shape), rng.standard_normal(shape), rng.standard_normal(shape), rng.standard_normal(shape)
    results = []
    for loss_of in (lambda z, t: BinaryCrossEntropyWithLogits()(z, t), lambda z, t: (1.0 - t) * z + _softplus(-z)):
        z = minigen.tensor(z0, dtype=minigen.float64, requires_grad=True)
        t = minigen.tensor(t0, dtype=minigen.float64, requires_grad=True)
        loss = loss_of(z, t)
        gz, gt = minigen.autograd.grad(loss, [z, t], minigen.tensor(up), create_graph=True)
        ggz, ggt = minigen.autograd.grad((gz * minigen.tensor(v)).sum() + (gt * minigen.tensor(u)).sum(), [z, t])
        results.append([a.detach().numpy() for a in (loss, gz, gt, ggz, ggt)])
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, rtol=1e-12, atol=1e-14)


def test_bce_with_logits_of_integers_is_the_composition():
    """Integer logits and targets skip the one-function loss (its in-place float steps need a float array) and
    give the composition's float result, as before it existed."""
    z, t = minigen.tensor([[2, -1]]), minigen.tensor([[1, 0]])
    loss = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    assert loss.dtype.kind == "f"
    np.testing.assert_allclose(loss.numpy(), [[np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0))]], rtol=1e-6)


def test_binary_cross_entropy_clamps_each_log_at_minus_100(device):
    p = minigen.tensor([0.0, 1.0], dtype=minigen.float64, device=device)
    t = minigen.tensor([1.0, 0.0], dtype=minigen.float64, device=device)
    np.testing.assert_array_equal(as_numpy(F.binary_cross_entropy(p, t, reduction="none")), [100.0, 100.0])


def test_variance_uses_the_centred_form(device):
    """E[x²] − E[x]² would lose every digit here (1e16 + small): the centred form keeps them."""
    x = minigen.tensor([1e8 + 1.0, 1e8 + 2.0, 1e8 + 3.0], dtype=minigen.float64, device=device)
    assert x.var().item() == pytest.approx(1.0, rel=1e-12)
    assert x.var(unbiased=False).item() == pytest.approx(2 / 3, rel=1e-12)
    assert x.std(correction=0).item() == pytest.approx(np.sqrt(2 / 3), rel=1e-12)


def test_default_softmax_dim_warns_like_pytorch(device):
    x = minigen.tensor([[1.0, 2.0], [3.0, 5.0]], device=device)
    with pytest.warns(UserWarning, match="dim"):
        y = F.softmax(x)
    np.testing.assert_allclose(as_numpy(y), as_numpy(F.softmax(x, dim=1)))


def test_chunk_and_split_by_hand(device):
    """Pieces are views of the input (no copy); chunk takes ⌈n / chunks⌉ per piece, so 6 rows in 4 chunks are
    three pieces of 2; each piece's gradient lands in its own rows."""
    x = minigen.tensor(np.arange(12.0).reshape(6, 2), dtype=minigen.float64, device=device, requires_grad=True)
    pieces = x.chunk(4)
    assert [p.shape for p in pieces] == [(2, 2), (2, 2), (2, 2)]
    np.testing.assert_array_equal(as_numpy(pieces[1]), [[4.0, 5.0], [6.0, 7.0]])
    assert all(np.shares_memory(p.data, x.data) for p in pieces) if device == "cpu" else True
    assert [p.shape for p in minigen.chunk(x, 4, dim=1)] == [(6, 1), (6, 1)]
    assert [p.shape for p in minigen.split(x, 4)] == [(4, 2), (2, 2)]
    assert [p.shape for p in x.split([1, 0, 5])] == [(1, 2), (0, 2), (5, 2)]
    a, b = minigen.split(x, [1, 5])
    (3 * a.sum() + (b * b).sum()).backward()
    np.testing.assert_array_equal(as_numpy(x.grad), np.vstack([[3.0, 3.0], 2 * np.arange(2.0, 12.0).reshape(5, 2)]))
    with pytest.raises(IndexError, match="split: dim 2 is out of range for 2 dims"):
        x.split(1, 2)


@pytest.mark.parametrize("target", [(1, -1, 1, 1), (-1, -1, 1, 1), (-1, 1, -1, 1), (-1,), (1, -1), (-1, -1, -1, -1)])
@pytest.mark.parametrize("layout", ["channels_last", "sliced", "contiguous"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@settings(max_examples=5)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2 ** 16))
def test_sum_to_matches_numpy_in_any_memory_order(target, layout, dtype, N, C, H, W, seed):
    """sum_to (a broadcast's gradient, e.g. a conv's bias gradient) on arrays stored channels-last, sliced or
    contiguous (strided ones take einsum, ops/shape.py) equals NumPy's sum in float64."""
    from minigen.ops.shape import sum_to
    base = np.random.default_rng(seed).standard_normal((N, C, H, W + 1)) * 10
    a = base[..., :W] if layout == "sliced" else base[..., 1:].copy()
    if layout == "channels_last":
        a = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    a = a.astype(dtype)
    shape = tuple(n if t == -1 else t for n, t in zip(a.shape[4 - len(target):], target))
    got = sum_to(minigen.as_tensor(a), shape).numpy()          # as_tensor keeps the memory order
    lead = 4 - len(shape)
    want = a.astype(np.float64).sum(axis=tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)).reshape(shape)
    assert got.shape == shape and got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_leaky_relu_at_special_values_and_any_slope(dtype):
    """NaN stays NaN (as in PyTorch), ±inf map to their limits, and leaky_relu is x for x > 0 and αx below for
    slopes α below 0, between 0 and 1, and above 1 (forward written with maximum/minimum, ops/activation.py)."""
    x = np.array([np.nan, -np.inf, -2.0, -0.0, 0.0, 3.0, np.inf], dtype=dtype)
    np.testing.assert_array_equal(F.relu(minigen.tensor(x)).numpy(), [np.nan, 0, 0, 0, 0, 3, np.inf])
    for alpha in (0.2, -0.5, 2.0):
        want = np.where(x > 0, x, alpha * x)
        want[0] = np.nan
        np.testing.assert_array_equal(F.leaky_relu(minigen.tensor(x), alpha).numpy(), want.astype(dtype))
