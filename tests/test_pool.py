"""Lessons 4 and 5: max_pool2d and avg_pool2d (lesson 4), interpolate (lesson 5, resize-then-conv).

Gradients and gradients of gradients against finite differences on parameters valid by construction; both
poolings against naive loops; the tie rule of max pooling (the first maximum of a window gets the gradient),
overlapping windows accumulating, PyTorch's average divisors, nearest-neighbour indices; dtypes; bad inputs.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigen
from minigen.nn import functional as F
from conv_strategies import distinct_values, pool_cases, pool_output_size

lesson04 = pytest.mark.lesson04
lesson05 = pytest.mark.lesson05


def _numpy(t):
    return minigen.backend.to_numpy(t.data)


def naive_pool(x, case, reduce, count_include_pad=True):
    """Windows from the definition: taps (a·s + i·d − p, b·s + j·d − p) inside the image, or padding."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = case.kernel, case.stride, case.padding, case.dilation
    Ho, Wo = (pool_output_size(n, k, s, p, d, case.ceil_mode) for n, k, s, p, d in
              zip((H, W), case.kernel, case.stride, case.padding, case.dilation))
    y = np.zeros((N, C, Ho, Wo))
    for a in range(Ho):
        for b in range(Wo):
            taps = [(a * sh + i * dh - ph, b * sw + j * dw - pw) for i in range(kh) for j in range(kw)]
            inside = [(r, c) for r, c in taps if 0 <= r < H and 0 <= c < W]
            if not inside:  # a window entirely in the padding (dilation can do that)
                y[:, :, a, b] = -np.inf
                continue
            values = np.stack([x[:, :, r, c] for r, c in inside], axis=-1)
            if reduce == "max":
                y[:, :, a, b] = values.max(-1)
            else:  # PyTorch's divisor: the window clipped to the padded image, or the real pixels only
                rows = min(a * sh - ph + kh, H + ph) - (a * sh - ph)
                cols = min(b * sw - pw + kw, W + pw) - (b * sw - pw)
                y[:, :, a, b] = values.sum(-1) / (rows * cols if count_include_pad else len(inside))
    return y


# --- Max pooling ---------------------------------------------------------------------------------------------------
@lesson04
@given(case=pool_cases())
def test_max_pool2d_matches_naive_loops(case):
    x = np.random.default_rng(0).standard_normal(case.x_shape)
    y = F.max_pool2d(minigen.tensor(x), case.kernel, case.stride, case.padding, case.dilation, case.ceil_mode)
    np.testing.assert_array_equal(y.numpy(), naive_pool(x, case, "max"))


@lesson04
@given(case=pool_cases())
def test_max_pool2d_gradcheck(case, device):
    x = minigen.tensor(distinct_values(case.x_shape), device=device, requires_grad=True)
    fn = lambda x: F.max_pool2d(x, case.kernel, case.stride, case.padding, case.dilation, case.ceil_mode)  # noqa
    # dilation can put a whole window in the padding: its output is −∞, and ⟨v, y⟩ has no derivative
    assume(np.isfinite(_numpy(fn(x.detach()))).all())
    assert minigen.gradcheck(fn, (x,))
    assert minigen.gradgradcheck(fn, (x,))


@lesson04
def test_max_pool2d_tie_goes_to_the_first_maximum():
    """A window of equal values sends its whole gradient to its first element (row-major), as PyTorch."""
    x = minigen.tensor([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [2.0, 0.0, 2.0]]]], dtype=minigen.float64,
                       requires_grad=True)
    y, indices = F.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), [[[[0, 5], [6, 5]]]])
    y.backward(minigen.tensor([[[[1.0, 10.0], [100.0, 1000.0]]]], dtype=minigen.float64))
    # overlapping windows that pick the same pixel add up (pixel 5 gets 10 + 1000)
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1, 0, 0], [0, 0, 1010], [100, 0, 0]]]])


@lesson04
def test_max_pool2d_padding_and_indices():
    x = minigen.tensor(np.arange(16.0).reshape(1, 1, 4, 4) * -1)   # the maximum is at the top-left
    y, indices = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), [[[[0, -1], [-4, -5]]]])    # padding (−∞) never wins
    np.testing.assert_array_equal(indices.numpy(), [[[[0, 1], [4, 5]]]])
    x = minigen.full((1, 1, 2, 2), -np.inf, requires_grad=True)
    y, indices = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    assert indices.item() == 0                                       # a real −∞ beats the padding
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1, 0], [0, 0]]]])
    assert indices.dtype == np.int64
    y, indices = F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True)
    assert y.shape == (1, 1, 2, 2)


@lesson04
def test_max_pool2d_nan_propagates():
    x = minigen.tensor([[[[1.0, np.nan], [3.0, 2.0]]]])
    assert np.isnan(F.max_pool2d(x, 2).item())


# --- Average pooling -----------------------------------------------------------------------------------------------
@lesson04
@given(case=pool_cases(dilation=False), count_include_pad=st.booleans())
def test_avg_pool2d_matches_naive_loops(case, count_include_pad):
    x = np.random.default_rng(0).standard_normal(case.x_shape)
    y = F.avg_pool2d(minigen.tensor(x), case.kernel, case.stride, case.padding, case.ceil_mode, count_include_pad)
    np.testing.assert_allclose(y.numpy(), naive_pool(x, case, "avg", count_include_pad), rtol=1e-12, atol=1e-14)


@lesson04
@given(case=pool_cases(dilation=False), count_include_pad=st.booleans())
def test_avg_pool2d_gradcheck(case, count_include_pad, device):
    x = minigen.tensor(np.random.default_rng(0).standard_normal(case.x_shape), device=device, requires_grad=True)
    fn = lambda x: F.avg_pool2d(x, case.kernel, case.stride, case.padding, case.ceil_mode, count_include_pad)  # noqa
    assert minigen.gradcheck(fn, (x,))
    assert minigen.gradgradcheck(fn, (x,))


@lesson04
def test_avg_pool2d_divisors():
    x = minigen.ones(1, 1, 3, 3)
    np.testing.assert_allclose(F.avg_pool2d(x, 2, padding=1).numpy(), [[[[0.25, 0.5], [0.5, 1.0]]]])
    np.testing.assert_allclose(F.avg_pool2d(x, 2, padding=1, count_include_pad=False).numpy(), np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(F.avg_pool2d(x, 2, divisor_override=1).numpy(), [[[[4.0]]]])


# --- Interpolation ---------------------------------------------------------------------------------------------------
@lesson05
def test_interpolate_nearest_by_hand():
    x = minigen.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    y = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(_numpy(y), [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]])
    y.backward(minigen.tensor(np.arange(16.0).reshape(1, 1, 4, 4)))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0 + 1 + 4 + 5, 2 + 3 + 6 + 7],
                                                     [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]]])
    z = F.interpolate(x, size=(3, 1))        # source index ⌊o · 2/3⌋ → rows 0, 0, 1; column 0
    np.testing.assert_array_equal(_numpy(z), [[[[1], [1], [3]]]])


@lesson05
def test_interpolate_nearest_keeps_inf_and_nan():
    x = minigen.tensor([[[[np.inf, np.nan], [1.0, -np.inf]]]])
    y = F.interpolate(x, scale_factor=2).numpy()
    assert np.isposinf(y[0, 0, 0, 0]) and np.isnan(y[0, 0, 0, 2]) and y[0, 0, 2, 0] == 1 and np.isneginf(y[0, 0, 3, 3])


@lesson05
@given(h=st.integers(1, 4), w=st.integers(1, 4), mode=st.sampled_from(["nearest", "bilinear"]),
       size=st.tuples(st.integers(1, 6), st.integers(1, 6)) | st.sampled_from([2, 1.5, 0.75, (2, 3)]),
       align_corners=st.booleans())
def test_interpolate_gradcheck(h, w, mode, size, align_corners, device):
    x = minigen.tensor(np.random.default_rng(0).standard_normal((2, 2, h, w)), device=device, requires_grad=True)
    by_size = isinstance(size, tuple) and all(isinstance(s, int) for s in size) and size != (2, 3)
    kwargs = {"size": size} if by_size else {"scale_factor": size}
    if not by_size and any(int(n * s) == 0 for n, s in zip((h, w), size if isinstance(size, tuple) else (size,) * 2)):
        return  # an empty output: tested among the errors
    if mode == "bilinear":
        kwargs["align_corners"] = align_corners
    fn = lambda x: F.interpolate(x, mode=mode, **kwargs)  # noqa: E731
    assert minigen.gradcheck(fn, (x,))
    assert minigen.gradgradcheck(fn, (x,))


@lesson05
def test_bilinear_by_hand():
    x = minigen.tensor([[[[0.0, 1.0]]]])
    # align_corners=False: source (o + ½)·½ − ½ clamped at 0 → 0, 0.25, 0.75, 1 (clamped to the last pixel)
    np.testing.assert_allclose(F.interpolate(x, size=(1, 4), mode="bilinear").numpy(), [[[[0, 0.25, 0.75, 1]]]])
    np.testing.assert_allclose(F.interpolate(x, size=(1, 3), mode="bilinear", align_corners=True).numpy(),
                               [[[[0, 0.5, 1]]]])


@lesson05
def test_nearest_gradient_sums_the_copies_and_skips_the_unpicked():
    x = minigen.tensor(np.arange(5.0).reshape(1, 1, 5, 1), dtype=minigen.float64, requires_grad=True)
    y = F.interpolate(x, size=(2, 1))        # ⌊o · 5/2⌋ → rows 0 and 2; rows 1, 3, 4 are skipped
    np.testing.assert_array_equal(_numpy(y).ravel(), [0.0, 2.0])
    y.backward(minigen.tensor([[[[10.0], [20.0]]]], dtype=minigen.float64))
    np.testing.assert_array_equal(_numpy(x.grad).ravel(), [10.0, 0.0, 20.0, 0.0, 0.0])
    x = minigen.tensor([[[[1.0, 2.0]]]], dtype=minigen.float64, requires_grad=True)
    y = F.interpolate(x, size=(1, 3))        # ⌊o · 2/3⌋ → columns 0, 0, 1: pixel 0 has two copies
    y.backward(minigen.tensor([[[[1.0, 10.0, 100.0]]]], dtype=minigen.float64))
    np.testing.assert_array_equal(_numpy(x.grad).ravel(), [11.0, 100.0])


@lesson05
@pytest.mark.parametrize("size", [(4, 4), (3, 5)])
def test_nearest_gradient_keeps_inf_where_it_belongs(size, device):
    """A sum over the copies, not a product by a 0/1 matrix: an infinite gradient reaches only its own pixel
    (0 · ∞ would put NaN into every pixel of its row)."""
    x = minigen.zeros(1, 1, 2, 2, dtype=minigen.float64, device=device, requires_grad=True)
    g = np.ones((1, 1) + size)
    g[0, 0, 0, 0] = np.inf
    F.interpolate(x, size=size).backward(minigen.tensor(g, device=device))
    grad = _numpy(x.grad)[0, 0]
    assert np.isposinf(grad[0, 0]) and np.isfinite(grad.ravel()[1:]).all()


@lesson05
def test_bilinear_gradient_by_hand_is_the_transposed_weights():
    # align_corners=False, 2 → 4: sources 0, 0.25, 0.75, 1.25 (clamped to pixel 1): weight rows [1, 0],
    # [.75, .25], [.25, .75], [0, 1]; the gradient of input j is Σ_o w[o, j] · g[o]
    x = minigen.tensor([[[[0.0, 1.0]]]], dtype=minigen.float64, requires_grad=True)
    F.interpolate(x, size=(1, 4), mode="bilinear").backward(
        minigen.tensor([[[[1.0, 2.0, 3.0, 4.0]]]], dtype=minigen.float64))
    np.testing.assert_allclose(_numpy(x.grad).ravel(), [1 + 1.5 + 0.75, 0.5 + 2.25 + 4], rtol=1e-15)
    # align_corners=True, 2 → 3: sources 0, 0.5, 1
    x.grad = None
    F.interpolate(x, size=(1, 3), mode="bilinear", align_corners=True).backward(
        minigen.tensor([[[[1.0, 2.0, 4.0]]]], dtype=minigen.float64))
    np.testing.assert_allclose(_numpy(x.grad).ravel(), [2.0, 5.0], rtol=1e-15)


@lesson05
def test_scale_factor_sets_the_coordinates_not_only_the_size():
    """PyTorch: with scale_factor the source coordinate uses 1/scale (3 → 4 pixels at scale 1.5: step 2/3), with
    size (or recompute_scale_factor=True) it uses H/Ho (step 3/4): source (o + ½) · step − ½ of output o = 0, 1, 2, 3
    is 0 (clamped), ½, 7/6, 11/6 against 0 (clamped), 5/8, 11/8, 17/8 (the last pixel, 2)."""
    x = minigen.tensor([[[[0.0, 1.0, 2.0]]]], dtype=minigen.float64)
    by_scale = F.interpolate(x, scale_factor=(1, 1.5), mode="bilinear")
    by_size = F.interpolate(x, size=(1, 4), mode="bilinear")
    recomputed = F.interpolate(x, scale_factor=(1, 1.5), mode="bilinear", recompute_scale_factor=True)
    np.testing.assert_allclose(_numpy(by_scale).ravel(), [0.0, 0.5, 7 / 6, 11 / 6], rtol=1e-15)
    np.testing.assert_allclose(_numpy(by_size).ravel(), [0.0, 0.625, 1.375, 2.0], rtol=1e-15)
    np.testing.assert_array_equal(_numpy(recomputed), _numpy(by_size))


@lesson05
def test_interpolate_errors_name_the_op_and_the_shapes():
    x = minigen.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"interpolate: input \(1, 2, 4, 4\) gives an empty output \(0, 2\)"):
        F.interpolate(x, size=(0, 2))
    with pytest.raises(ValueError, match=r"interpolate: give exactly one of size and scale_factor \(input \(1, 2, 4"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"interpolate: input \(1, 2, 4, 4\) has 2 spatial dims, got size=\(2, 3, 4\)"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(ValueError, match=r"interpolate: input \(1, 2, 4, 4\) needs a positive scale_factor"):
        F.interpolate(x, scale_factor=(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"interpolate: expected a 4-D input \(N, C, H, W\), got shape \(2, 4, 4\)"):
        F.interpolate(minigen.zeros(2, 4, 4), size=3, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners can only be set with mode='bilinear'"):
        F.interpolate(x, size=3, align_corners=False)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an explicit size"):
        F.interpolate(x, size=3, recompute_scale_factor=True)


# --- dtypes and errors ---------------------------------------------------------------------------------------------
@lesson04
@pytest.mark.parametrize("op", [lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 3, 2, 1),
                                lambda x: F.interpolate(x, scale_factor=2),
                                lambda x: F.interpolate(x, size=(5, 7), mode="bilinear")])
def test_float32_in_float32_out(op, device):
    x = minigen.randn(2, 3, 6, 6, device=device, requires_grad=True)
    y = op(x)
    assert y.dtype == np.float32
    g, = minigen.grad((y * 0.5).sum(), x, create_graph=True)
    assert g.dtype == np.float32


@lesson04
def test_unbatched_pooling():
    x = np.random.default_rng(0).standard_normal((3, 6, 6))
    y = F.max_pool2d(minigen.tensor(x), 2)
    assert y.shape == (3, 3, 3)
    np.testing.assert_array_equal(y.numpy(), F.max_pool2d(minigen.tensor(x[None]), 2).numpy()[0])
    assert F.avg_pool2d(minigen.tensor(x), 3).shape == (3, 2, 2)


@lesson04
def test_pooling_errors():
    x = minigen.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"max_pool2d: padding should be at most half of the kernel size"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: the output would be empty .* \(1, 2, 4, 4\) .*kernel_size"):
        F.avg_pool2d(x, 5)
    with pytest.raises(RuntimeError, match=r"max_pool2d: expected a 3-D .* or 4-D .* got shape \(4, 4\)"):
        F.max_pool2d(minigen.zeros(4, 4), 2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="empty output"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=2, mode="bicubic")


@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 4), w=st.integers(1, 4), fh=st.integers(1, 3),
       fw=st.integers(1, 3), layout=st.sampled_from(["contiguous", "channels_last", "sliced"]),
       seed=st.integers(0, 2 ** 16))
def test_nearest_by_whole_factors_matches_the_index_form(n, c, h, w, fh, fw, layout, seed):
    """Whole-number factors take a one-copy forward (channels-last out) and a one-pass adjoint (ops/pool.py);
    both equal the general index form (take, then sums over the copies) for inputs and gradients stored
    NCHW, channels-last or sliced."""
    from minigen.ops import pool

    def stored(a):
        if layout == "channels_last":
            return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        if layout == "sliced":
            return np.concatenate([a, a], axis=3)[..., :a.shape[3]]
        return a
    rng = np.random.default_rng(seed)
    x = stored(rng.standard_normal((n, c, h, w)))
    nearest = pool.Nearest((h, w), np.arange(h * fh) // fh, np.arange(w * fw) // fw, np)
    assert nearest.factors == (fh, fw)
    y = pool.ResizeNearest(nearest).forward(x)
    np.testing.assert_array_equal(y, x.take(nearest.rows, axis=2).take(nearest.cols, axis=3))
    g = stored(rng.standard_normal((n, c, h * fh, w * fw)))
    gx = pool.ResizeNearestAdjoint(nearest).forward(g)
    want = pool._sum_copies(pool._sum_copies(g, nearest.cols, None, w, 3), nearest.rows, None, h, 2)  # scatter
    np.testing.assert_allclose(gx, want, rtol=1e-12, atol=1e-12)
