"""The fast walks through channels-last memory against their plain twins: sums over axes as products with ones
(ops/shape.py ``_sum_axes``) and per-(example, channel) values applied along long rows (ops/per_channel.py)."""

import minigen  # noqa: F401  (minigen before NumPy's first BLAS call: threads.py)
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigen.ops.per_channel import per_channel
from minigen.ops.shape import _sum_axes, _sum_by_product


@st.composite
def stored_arrays(draw, ndim_range=(1, 5)):
    """An array of a drawn shape whose memory holds its axes in a drawn order (e.g. NCHW stored as NHWC)."""
    ndim = draw(st.integers(*ndim_range))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    order = draw(st.permutations(range(ndim)))                      # memory order: order[0] outermost
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    base = np.random.default_rng(draw(st.integers(0, 2 ** 16))).standard_normal([shape[i] for i in order])
    return base.astype(dtype).transpose(np.argsort(order)), order


@settings(max_examples=300, deadline=None)
@given(stored_arrays(), st.data())
def test_sums_over_any_axes_in_any_memory_order_match_numpy(stored, data):
    x, order = stored
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, x.ndim - 1), min_size=1))))
    got = _sum_axes(x, axes)
    want = x.astype(np.float64).sum(axis=axes, keepdims=True)
    assert got.shape == want.shape and got.dtype == x.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if x.dtype == np.float32 else 1e-12, atol=1e-5)
    product = _sum_by_product(x, axes)                             # the product path itself, where it applies
    if product is not None:
        np.testing.assert_allclose(product.reshape(want.shape), want, rtol=1e-5, atol=1e-5)


def test_the_product_path_takes_a_channels_last_image_batch():
    """The case it is for: (N, C, H, W) stored as (N, H, W, C), summed over (H, W) or over (N, H, W)."""
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 4, 5, 3).transpose(0, 3, 1, 2)
    for axes in [(2, 3), (0, 2, 3)]:
        got = _sum_by_product(x, axes)
        assert got is not None
        np.testing.assert_array_equal(got, x.sum(axis=axes))
    assert _sum_by_product(x, (1, 2)) is None                      # C and H are not one block of memory


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4), st.integers(1, 40), st.integers(1, 60), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from(["add", "subtract", "multiply"]), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2 ** 16))
def test_per_channel_values_match_broadcasting(n, C, L, channels_last, per_example, in_place, ufunc, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, L, C) if channels_last else (n, C, L)).astype(dtype)
    x = x.transpose(0, 2, 1) if channels_last else x                # (n, C, L) either way
    v = rng.standard_normal((n, C) if per_example else (C,)).astype(dtype)
    want = getattr(np, ufunc)(x, v[..., None])
    out = x if in_place else np.empty_like(x)
    got = per_channel(getattr(np, ufunc), x, v, out)
    assert got is out
    np.testing.assert_array_equal(got, want)                        # same operations, only another walk


@pytest.mark.parametrize("C, L, k", [(32, 784, 28), (64, 196, 14), (128, 49, 7), (3, 7, 7), (2000, 5, 1)])
def test_per_channel_rows_take_the_largest_divisor_that_fits(C, L, k):
    """k pixels per row: the largest divisor of L with k·C ≤ ROW (1024), at least 1."""
    from minigen.ops.per_channel import _repeats
    assert _repeats(L, C) == k


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 5), st.integers(1, 6), st.integers(1, 5), st.integers(1, 5),
       st.sampled_from(["same", "per_image", "per_channel", "other"]), st.booleans(), st.booleans(),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2 ** 16))
def test_add_arrays_split_over_threads_matches_numpy(N, C, H, W, kind, channels_last, swap, dtype, seed):
    """Additions of large arrays (every size here: MIN_SPLIT 0) on two threads, with a per-(example, channel)
    value along long rows, equal NumPy's + exactly, in either memory order and either operand order."""
    from minigen import threads
    from minigen.ops.elementwise import add_arrays
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((N, H, W, C) if channels_last else (N, C, H, W)).astype(dtype)
    a = a.transpose(0, 3, 1, 2) if channels_last else a
    b = rng.standard_normal({"same": (N, C, H, W), "per_image": (N, C, 1, 1), "per_channel": (1, C, 1, 1),
                             "other": (1, 1, H, 1)}[kind]).astype(dtype)
    a, b = (b, a) if swap else (a, b)
    before = threads.num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threads, "MIN_SPLIT", 0)
        try:
            threads.set_num_threads(2)
            got = add_arrays(a, b)
        finally:
            threads.set_num_threads(before)
    np.testing.assert_array_equal(got, a + b)
    assert got.dtype == dtype and got.shape == (a + b).shape


@settings(max_examples=150, deadline=None)
@given(stored_arrays(ndim_range=(1, 4)), st.data())
def test_cat_in_any_memory_order_matches_numpy_and_keeps_the_first_inputs_order(stored, data):
    """minigen.cat along any dim (copied one range of examples per thread where large: ops/shape.py Cat) gives
    np.concatenate's numbers, and, joined along a later dim than the first, a result stored in the first input's
    memory order (a conv's channels-last output stays channels-last for the next conv)."""
    from minigen import threads
    x, order = stored
    dim = data.draw(st.integers(0, x.ndim - 1))
    other = np.random.default_rng(0).standard_normal(x.shape[:dim] + (data.draw(st.integers(1, 3)),)
                                                     + x.shape[dim + 1:]).astype(x.dtype)
    before = threads.num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threads, "MIN_SPLIT", 0)
        threads.set_num_threads(data.draw(st.integers(1, 3)))
        try:
            y = minigen.cat([minigen.as_tensor(x), minigen.as_tensor(other)], dim).numpy()
        finally:
            threads.set_num_threads(before)
    np.testing.assert_array_equal(y, np.concatenate([x, other], dim))
    if dim > 0 and min(x.shape) > 1:               # (along dim 0, np.concatenate's own choice of layout; a size
                                                   # of 0 or 1 leaves the order ambiguous)
        assert y.transpose(order).flags.c_contiguous
