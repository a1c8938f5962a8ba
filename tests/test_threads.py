"""minigen/threads.py and the fast convolution path that uses it (conv.use_winograd).

- run_split: every share of the work runs once, on at most num_threads() threads at a time (the caller's one of
  them), exceptions reach the caller (also from the caller's own share), BLAS is back to its thread count
  afterwards;
- the Winograd passes split over two threads give the numbers one thread gives; so do SiLU, GroupNorm and
  LayerNorm (forward and backward) split over the batch, which also match their compositions of basic ops;
- conv2d_array and conv2d_input_grad_array with fast=True (the passes of passes.py, or Winograd when
  conv.WINOGRAD is on) against their plain twins (fast=False: im2col and one product; the scatter) on
  hypothesis-drawn shapes, within the float32 bound of tests/test_winograd.py or of a sum's reordering; and which
  cases take the fast paths;
- conv2d_weight_grad_array with fast=True (the sum over cache-sized passes of images, passes.py) against its
  plain twin (one unfolding, one product) over drawn kernels, strides, paddings, dilations, channel-last or not
  inputs, one to three threads and passes of one or a few images, in float64 and float32.
"""

import threading

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from minigen import threads
from minigen.ops import conv, passes


@pytest.fixture
def two_threads():
    before = threads.num_threads()
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(before)


def test_run_split_runs_each_share_once_on_threads(two_threads):
    seen, names = [], set()

    def part(k, T):
        seen.append((k, T))
        names.add(threading.current_thread().name)

    threads.run_split(part, 5)
    assert sorted(seen) == [(0, 2), (1, 2)]
    assert threading.current_thread().name in names                  # share 0: the caller's own
    assert any(name.startswith("minigen") for name in names)         # share 1: the pool's thread
    assert threads._pool._max_workers == 1                           # T − 1 threads: the caller is the T-th
    seen.clear()
    threads.run_split(part, 1)                        # one part: no point in a thread
    assert seen == [(0, 1)]


def test_run_split_with_one_thread_runs_in_the_caller():
    before = threads.num_threads()
    threads.set_num_threads(1)
    try:
        names = []
        threads.run_split(lambda k, T: names.append((k, T, threading.current_thread().name)), 4)
        assert names == [(0, 1, threading.current_thread().name)]
    finally:
        threads.set_num_threads(before)


def test_run_split_passes_errors_on_and_restores_blas(two_threads):
    blas_threads = [lib["num_threads"] for lib in threads._blas_controller().info() if lib["user_api"] == "blas"]

    def part(k, T):
        if k == 1:
            raise ValueError("share 1 failed")

    with pytest.raises(ValueError, match="share 1 failed"):
        threads.run_split(part, 2)
    after = [lib["num_threads"] for lib in threads._blas_controller().info() if lib["user_api"] == "blas"]
    assert after == blas_threads

    done = threading.Event()

    def caller_fails(k, T):                            # share 0 runs in the caller: its error, after share 1 ends
        if k == 0:
            raise ValueError("share 0 failed")
        done.wait(0.05)
        done.set()

    with pytest.raises(ValueError, match="share 0 failed"):
        threads.run_split(caller_fails, 2)
    assert done.is_set()
    after = [lib["num_threads"] for lib in threads._blas_controller().info() if lib["user_api"] == "blas"]
    assert after == blas_threads


def test_a_run_split_inside_a_share_runs_there(two_threads):
    """A share that itself calls run_split (over_first_axis inside a pass, say) runs that work in its own thread,
    whichever thread it is: the pool's one thread is busy with the outer call, so waiting for it would hang."""
    inner = []

    def outer(k, T):
        threads.run_split(lambda j, U: inner.append((k, j, U)), 2)

    runner = threading.Thread(target=threads.run_split, args=(outer, 2), daemon=True)   # a hang fails the test
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive(), "run_split inside a share hung"
    assert sorted(inner) == [(0, 0, 1), (1, 0, 1)]


def test_set_num_threads_refuses_zero():
    with pytest.raises(ValueError, match="set_num_threads"):
        threads.set_num_threads(0)


def test_over_first_axis_covers_the_axis_and_splits_only_large_numpy_arrays(two_threads, monkeypatch):
    calls = []
    record = lambda a, b: calls.append((a, b))         # noqa: E731
    threads.over_first_axis(record, np.zeros((7, 3)))  # small: one call, no thread
    assert calls == [(0, 7)]
    calls.clear()
    monkeypatch.setattr(threads, "MIN_SPLIT", 0)
    threads.over_first_axis(record, np.zeros((7, 3)))
    assert sorted(calls) == [(0, 3), (3, 7)]           # contiguous, covering 0 … 6 once
    calls.clear()

    class DeviceArray:                                 # not a NumPy array (CuPy's, say): never CPU threads
        shape, size = (7, 3), 21
    threads.over_first_axis(record, DeviceArray())
    assert calls == [(0, 7)]


def _arrays(N, C, O, H, W, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, C, H, W)).astype(dtype), rng.standard_normal((O, C, 3, 3)).astype(dtype)


def test_split_passes_give_the_numbers_of_one_thread():
    from minigen.ops import winograd
    x, w = _arrays(9, 16, 24, 8, 7, 0)
    before = threads.num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            threads.set_num_threads(n)
            with pytest.MonkeyPatch.context() as mp:     # 2 images per pass: 5 passes to share out
                mp.setattr(winograd, "_images_per_pass", lambda xp, N, *rest: min(2, N))
                results.append(winograd.winograd_conv3x3(x, w, (1, 1)).copy())
    finally:
        threads.set_num_threads(before)
    np.testing.assert_allclose(results[1], results[0], rtol=0, atol=1e-6 * np.abs(results[0]).max())
    np.testing.assert_allclose(results[2], results[0], rtol=0, atol=1e-6 * np.abs(results[0]).max())


@st.composite
def fast_cases(draw):
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H, W = (draw(st.integers(max(1, 3 - 2 * p), 9)) for p in padding)
    return (draw(st.integers(1, 4)), draw(st.integers(16, 20)), draw(st.integers(16, 20)), H, W, padding,
            draw(st.integers(1, 2)), draw(st.integers(0, 2 ** 16)))


def _bound(x, w, padding):
    """Σ|x||w| per output (the direct sum on absolute values), in float64."""
    geom = conv.Geometry((1, 1), padding, (1, 1), 1)
    out_hw = (x.shape[2] + 2 * padding[0] - 2, x.shape[3] + 2 * padding[1] - 2)
    return conv.conv2d_array(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64), geom, out_hw)[0]


@settings(deadline=None, max_examples=40)
@given(fast_cases(), st.booleans())
def test_fast_conv_matches_its_plain_twin(case, winograd):
    """3×3 stride-1 float32 with ≥ 16 channels: the passes (the default) or Winograd (conv.WINOGRAD)."""
    N, C, O, H, W, padding, n_threads, seed = case
    x, w = _arrays(N, C, O, H, W, seed)
    geom = conv.Geometry((1, 1), padding, (1, 1), 1)
    out_hw = (H + 2 * padding[0] - 2, W + 2 * padding[1] - 2)
    assert conv.use_winograd(x, w, geom) and conv.use_passes(x, w, geom)
    before = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(threads, "MIN_SPLIT", 0)
            mp.setattr(conv, "WINOGRAD", winograd)
            mp.setattr(passes, "CACHE_BYTES", 1 << 12)           # a few images per pass: several passes
            fast, cols = conv.conv2d_array(x, w, geom, out_hw)
            plain, plain_cols = conv.conv2d_array(x, w, geom, out_hw, fast=False)
            gy = np.random.default_rng(seed + 1).standard_normal(fast.shape).astype(np.float32)
            gx_fast = conv.conv2d_input_grad_array(gy, w, geom, (H, W))
            gx_plain = conv.conv2d_input_grad_array(gy, w, geom, (H, W), fast=False)
    finally:
        threads.set_num_threads(before)
    assert cols is None and plain_cols is not None           # the fast path unfolds nothing
    assert fast.shape == plain.shape == (N, O) + out_hw and fast.dtype == np.float32
    # Both are float32 sums of C·9 products; each is within a few eps32 of the exact value relative to Σ|x||w|
    # (tests/test_winograd.py derives Winograd's bound): so they are within 2·(C + 10)·u·Σ|x||w| of each other.
    tol = 2 * (C + 10) * 2.0 ** -24
    assert np.all(np.abs(fast - plain) <= tol * _bound(x, w, padding) + 1e-30)
    gbound = conv.conv2d_input_grad_array(np.abs(gy).astype(np.float64), np.abs(w).astype(np.float64), geom, (H, W))
    assert gx_fast.shape == gx_plain.shape == x.shape
    assert np.all(np.abs(gx_fast - gx_plain) <= 2 * (O + 10) * 2.0 ** -24 * gbound + 1e-30)


@pytest.mark.parametrize("dtype, C, O, kernel, stride, fast", [
    (np.float32, 16, 16, 3, 1, True),
    (np.float64, 16, 16, 3, 1, False),     # the gradient checks' dtype keeps the plain path
    (np.float32, 1, 32, 3, 1, False),      # one input channel: the transforms would cost more than they save
    (np.float32, 32, 1, 3, 1, False),
    (np.float32, 32, 32, 3, 2, False),     # stride 2
    (np.float32, 32, 32, 5, 1, False),     # 5×5
    (np.float32, 32, 32, 1, 1, False),     # 1×1
])
def test_which_convolutions_could_take_winograd(dtype, C, O, kernel, stride, fast):
    x = np.zeros((2, C, 8, 8), dtype)
    w = np.zeros((O, C, kernel, kernel), dtype)
    assert conv.use_winograd(x, w, conv.Geometry((stride, stride), (1, 1), (1, 1), 1)) is fast


@pytest.mark.parametrize("dtype, C, kernel, stride, dilation, groups, fast", [
    (np.float32, 16, 3, 1, 1, 1, True),
    (np.float64, 16, 3, 1, 1, 1, True),    # the gradient checks go through the passes too
    (np.float32, 1, 3, 1, 1, 1, True),     # any number of channels
    (np.float32, 32, 5, 2, 1, 1, True),    # any kernel and stride
    (np.float32, 32, 1, 1, 1, 1, False),   # 1×1: cols is x itself, nothing to keep in cache
    (np.float32, 32, 3, 1, 2, 1, False),   # dilation
    (np.float32, 32, 3, 1, 1, 2, False),   # groups
])
def test_which_convolutions_take_the_passes(dtype, C, kernel, stride, dilation, groups, fast):
    x = np.zeros((2, C, 8, 8), dtype)
    w = np.zeros((8, C // groups, kernel, kernel), dtype)
    geom = conv.Geometry((stride, stride), (1, 1), (dilation, dilation), groups)
    assert conv.use_passes(x, w, geom) is fast


@st.composite
def passes_cases(draw):
    kernel = (draw(st.integers(2, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, kernel[0] - 1)), draw(st.integers(0, kernel[1] - 1)))
    H = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 9))
    W = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 9))
    return (draw(st.integers(1, 7)), draw(st.integers(1, 6)), draw(st.integers(1, 6)), H, W, kernel, stride,
            padding, draw(st.booleans()), draw(st.integers(1, 3)), draw(st.integers(1, 4096)),
            draw(st.sampled_from([np.float64, np.float32])), draw(st.integers(0, 2 ** 16)))


@settings(deadline=None, max_examples=60)
@given(passes_cases())
def test_conv_in_passes_matches_its_plain_twin(case):
    """The forward and the input gradient through passes.py against one unfolding and one product (and the
    scatter), over drawn kernels, strides, paddings, layouts, threads and pass sizes."""
    N, C, O, H, W, kernel, stride, padding, channels_last, n_threads, cache, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C) + kernel).astype(dtype)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    geom = conv.Geometry(stride, padding, (1, 1), 1)
    out_hw = tuple(conv.conv_output_size(n, k, s, p, 1) for n, k, s, p in zip((H, W), kernel, stride, padding))
    gy = rng.standard_normal((N, O) + out_hw).astype(dtype)
    assert conv.use_passes(x, w, geom)
    before = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(passes, "CACHE_BYTES", cache)
            y, cols = conv.conv2d_array(x, w, geom, out_hw)
            gx = conv.conv2d_input_grad_array(gy, w, geom, (H, W))
    finally:
        threads.set_num_threads(before)
    y_plain, _ = conv.conv2d_array(x, w, geom, out_hw, fast=False)
    gx_plain = conv._input_grad_col2im(gy, w, geom, (H, W))
    assert cols is None and y.shape == y_plain.shape and y.dtype == dtype and gx.shape == x.shape
    u = np.finfo(dtype).eps / 2
    a = lambda t: np.abs(t).astype(np.float64)  # noqa: E731
    y_bound = conv.conv2d_array(a(x), a(w), geom, out_hw, fast=False)[0]
    gx_bound = conv._input_grad_col2im(a(gy), a(w), geom, (H, W))
    K = kernel[0] * kernel[1]
    assert np.all(np.abs(y - y_plain) <= 2 * 2 * K * C * u * y_bound + 1e-300)
    assert np.all(np.abs(gx - gx_plain) <= 2 * 2 * K * O * u * gx_bound + 1e-300)


def _channels_last(a):
    """The same values stored (N, H, W, C) in memory, as a conv's output is (4-D arrays; others unchanged)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if a.ndim == 4 else a


def _forward_backward(fn, shapes, seed, dtype=np.float32, channels_last=False):
    import minigen
    rng = np.random.default_rng(seed)
    layout = _channels_last if channels_last else (lambda a: a)
    # as_tensor keeps the arrays' memory order (minigen.tensor copies into C order, as torch.tensor does)
    inputs = [minigen.as_tensor(layout(rng.standard_normal(s).astype(dtype))).requires_grad_() for s in shapes]
    if channels_last and len(shapes[0]) == 4:
        assert inputs[0].data.transpose(0, 2, 3, 1).flags.c_contiguous
    y = fn(*inputs)
    gy = minigen.as_tensor(layout(rng.standard_normal(y.shape).astype(dtype)))
    y.backward(gy)
    return [y.detach().numpy()] + [t.grad.numpy() for t in inputs]


@settings(deadline=None, max_examples=25)
@given(st.sampled_from(["silu", "group_norm", "layer_norm", "group_norm_no_affine", "cat"]), st.integers(1, 5),
       st.sampled_from([np.float32, np.float64]), st.booleans(), st.integers(0, 2 ** 16))
def test_split_elementwise_and_norms_match_one_thread_and_the_composed_twins(op, N, dtype, channels_last, seed):
    """SiLU, GroupNorm, LayerNorm and cat along channels, forward and backward, split over two threads (every size
    split: MIN_SPLIT 0)
    against one thread, and against compositions of basic ops in float64; inputs and upstream gradients stored
    NCHW or channels-last (a conv's output)."""
    import minigen
    from minigen.nn import functional as F
    from minigen.ops import norm
    C, H, W = 8, 3, 5
    ops = {
        "silu": (F.silu, lambda x: x * minigen.sigmoid(x), [(N, C, H, W)]),
        "group_norm": (lambda x, w, b: F.group_norm(x, 4, w, b), lambda x, w, b: norm.group_norm_composed(x, 4, w, b),
                       [(N, C, H, W), (C,), (C,)]),
        "group_norm_no_affine": (lambda x: F.group_norm(x, 2), lambda x: norm.group_norm_composed(x, 2),
                                 [(N, C, H, W)]),
        "layer_norm": (lambda x, w, b: F.layer_norm(x, (H, W), w, b),
                       lambda x, w, b: norm.layer_norm_composed(x, (H, W), w, b), [(N, C, H, W), (H, W), (H, W)]),
        "cat": (lambda a, b: minigen.cat([a, b], 1),                      # joined = each padded, then added
                lambda a, b: F.pad(a, (0, 0, 0, 0, 0, 3)) + F.pad(b, (0, 0, 0, 0, C, 0)), [(N, C, H, W), (N, 3, H, W)]),
    }
    fused, composed, shapes = ops[op]
    before = threads.num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threads, "MIN_SPLIT", 0)
        try:
            threads.set_num_threads(2)
            split = _forward_backward(fused, shapes, seed, dtype, channels_last)
            threads.set_num_threads(1)
            single = _forward_backward(fused, shapes, seed, dtype, channels_last)
        finally:
            threads.set_num_threads(before)
    reference = _forward_backward(composed, shapes, seed, np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-11
    for a, b, r in zip(split, single, reference):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        np.testing.assert_allclose(a, r, rtol=20 * tol, atol=20 * tol)


@st.composite
def weight_grad_cases(draw):
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 2)), 1)
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H = draw(st.integers(max(1, dilation[0] * (kernel[0] - 1) + 1 - 2 * padding[0]), 9))
    W = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 9))
    return (draw(st.integers(1, 7)), draw(st.integers(1, 6)), draw(st.integers(1, 6)), H, W, kernel, stride,
            padding, dilation, draw(st.booleans()), draw(st.integers(1, 3)), draw(st.integers(1, 4096)),
            draw(st.sampled_from([np.float64, np.float32])), draw(st.integers(0, 2 ** 16)))


@settings(deadline=None, max_examples=60)
@given(weight_grad_cases())
@example((5, 1, 6, 6, 6, (1, 2), (1, 1), (0, 0), (1, 1), False, 2, 64, np.float64, 1))   # K = 2 < 6 = O: colsᵀ @ ȳ
def test_weight_grad_in_passes_matches_its_plain_twin(case):
    N, C, O, H, W, kernel, stride, padding, dilation, channels_last, n_threads, cache, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    if channels_last:                                   # stored as a conv's output is: (N, H, W, C) in memory
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    geom = conv.Geometry(stride, padding, dilation, 1)
    out_hw = tuple(conv.conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                   zip((H, W), kernel, stride, padding, dilation))
    gy = rng.standard_normal((N, O) + out_hw).astype(dtype)
    before = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        with pytest.MonkeyPatch.context() as mp:         # a small cache: several passes even for small images
            mp.setattr(passes, "CACHE_BYTES", cache)
            fast = conv.conv2d_weight_grad_array(x, gy, geom, kernel)
            plain = conv.conv2d_weight_grad_array(x, gy, geom, kernel, fast=False)
    finally:
        threads.set_num_threads(before)
    assert fast.shape == plain.shape == (O, C) + kernel and fast.dtype == dtype
    # both sum the same N·Ho·Wo products per entry in different orders: within 2·n·u of Σ|x||ȳ| each
    bound = conv.conv2d_weight_grad_array(np.abs(x).astype(np.float64), np.abs(gy).astype(np.float64), geom,
                                          kernel, fast=False)
    u = np.finfo(dtype).eps / 2
    assert np.all(np.abs(fast - plain) <= 2 * 2 * N * out_hw[0] * out_hw[1] * u * bound + 1e-300)


def _stored(rng, shape, dtype, channels_last):
    """Random numbers of ``shape`` stored NCHW or channels-last (as a conv's output is)."""
    a = rng.standard_normal(shape).astype(dtype)
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if channels_last else a


def _with_threads_and_cache(n_threads, cache, fn):
    """fn() on ``n_threads`` threads with passes of at most ``cache`` bytes (several passes even for small
    images), the settings restored afterwards."""
    before = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(passes, "CACHE_BYTES", cache)
            return fn()
    finally:
        threads.set_num_threads(before)


@st.composite
def conv_backward_cases(draw):
    kernel = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)).filter(lambda k: k != (1, 1)))   # 1×1: no passes
    stride = (1, 1)                                                  # strided convs: two separate gradients
    padding = (draw(st.integers(0, kernel[0] - 1)), draw(st.integers(0, kernel[1] - 1)))
    H = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 9))
    W = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 9))
    crop = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))      # an output cropped below its natural size
    C = draw(st.integers(1, 6))
    O = draw(st.integers(1, 2 * C))
    return (draw(st.integers(0, 7)), C, O, H, W, kernel, stride, padding, crop, draw(st.booleans()),
            draw(st.booleans()), draw(st.integers(1, 3)), draw(st.integers(1, 4096)),
            draw(st.sampled_from([np.float64, np.float32])), draw(st.integers(0, 2 ** 16)))


@settings(deadline=None, max_examples=80)
@given(conv_backward_cases())
@example((5, 6, 1, 6, 6, (1, 2), (1, 1), (0, 1), (0, 0), True, False, 2, 64, np.float32, 2))   # K = 2 < 6 = C
def test_both_gradients_from_one_unfolding_match_their_plain_twins(case):
    """A stride-1 conv's x̄ and w̄ from one unfolding of ȳ per pass (passes.py) against conv.py's one-product
    twins: drawn kernels (even ones too), paddings, cropped outputs, x and ȳ stored NCHW or channels-last, no
    images at all, one to three threads, passes of one image upward."""
    N, C, O, H, W, kernel, stride, padding, crop, x_last, gy_last, n_threads, cache, dtype, seed = case
    rng = np.random.default_rng(seed)

    x, w = _stored(rng, (N, C, H, W), dtype, x_last), rng.standard_normal((O, C) + kernel).astype(dtype)
    out_hw = tuple(max(1, conv.conv_output_size(n, k, s, p, 1) - c)
                   for n, k, s, p, c in zip((H, W), kernel, stride, padding, crop))
    gy = _stored(rng, (N, O) + out_hw, dtype, gy_last)
    geom = conv.Geometry(stride, padding, (1, 1), 1)
    assert conv.fused_backward(x, w, geom)
    gx, gw = _with_threads_and_cache(n_threads, cache, lambda: conv.conv2d_input_and_weight_grad_array(x, gy, w, geom))
    gx_plain = conv.conv2d_input_grad_array(gy, w, geom, (H, W), fast=False)
    gw_plain = conv.conv2d_weight_grad_array(x, gy, geom, kernel, fast=False)
    assert gx.shape == x.shape and gw.shape == w.shape and gx.dtype == gw.dtype == dtype
    u = np.finfo(dtype).eps / 2                                    # sums of the same products in other orders
    gx_bound = conv.conv2d_input_grad_array(np.abs(gy).astype(np.float64), np.abs(w).astype(np.float64), geom,
                                            (H, W), fast=False)
    gw_bound = conv.conv2d_weight_grad_array(np.abs(x).astype(np.float64), np.abs(gy).astype(np.float64), geom,
                                             kernel, fast=False)
    n_gx, n_gw = O * kernel[0] * kernel[1], N * out_hw[0] * out_hw[1]
    assert np.all(np.abs(gx - gx_plain) <= 2 * 2 * n_gx * u * gx_bound + 1e-300)
    assert np.all(np.abs(gw - gw_plain) <= 2 * 2 * n_gw * u * gw_bound + 1e-300)


@st.composite
def transposed_backward_cases(draw):
    kernel = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)).filter(lambda k: k != (1, 1)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 9))
    W = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 9))
    return (draw(st.integers(0, 6)), draw(st.integers(1, 5)), draw(st.integers(1, 5)), H, W, kernel, stride, padding,
            draw(st.booleans()), draw(st.booleans()), draw(st.integers(1, 3)), draw(st.integers(1, 4096)),
            draw(st.sampled_from([np.float64, np.float32])), draw(st.integers(0, 2 ** 16)))


@settings(deadline=None, max_examples=60)
@given(transposed_backward_cases())
@example((4, 1, 5, 6, 6, (1, 2), (2, 2), (0, 0), False, True, 2, 64, np.float64, 3))   # K = 2 < 5 = O
def test_a_transposed_convs_gradients_from_one_unfolding_match_their_plain_twins(case):
    """A transposed conv's x̄ = conv(ȳ, w) and w̄ from one unfolding of ȳ per pass against conv.py's one-product
    twins, at strides 1-3 (DCGAN's generator is stride 2), NCHW or channels-last, threads and pass sizes drawn."""
    N, C, O, H, W, kernel, stride, padding, x_last, gy_last, n_threads, cache, dtype, seed = case
    rng = np.random.default_rng(seed)
    geom = conv.Geometry(stride, padding, (1, 1), 1)
    small = tuple(conv.conv_output_size(n, k, s, p, 1) for n, k, s, p in zip((H, W), kernel, stride, padding))

    x, gy = _stored(rng, (N, O) + small, dtype, x_last), _stored(rng, (N, C, H, W), dtype, gy_last)   # y: (N, C, H, W)
    w = rng.standard_normal((O, C) + kernel).astype(dtype)
    assert conv.transposed_backward_fuses(gy, w, geom)
    gx, gw = _with_threads_and_cache(n_threads, cache,
                                     lambda: conv.conv_transpose2d_input_and_weight_grad_array(x, gy, w, geom, small))
    gx_plain = conv.conv2d_array(gy, w, geom, small, fast=False)[0]
    gw_plain = conv.conv2d_weight_grad_array(gy, x, geom, kernel, fast=False)
    assert gx.shape == x.shape and gw.shape == w.shape and gx.dtype == gw.dtype == dtype
    u = np.finfo(dtype).eps / 2
    gx_bound = conv.conv2d_array(np.abs(gy).astype(np.float64), np.abs(w).astype(np.float64), geom, small,
                                 fast=False)[0]
    gw_bound = conv.conv2d_weight_grad_array(np.abs(gy).astype(np.float64), np.abs(x).astype(np.float64), geom,
                                             kernel, fast=False)
    n_gx, n_gw = C * kernel[0] * kernel[1], N * small[0] * small[1]
    assert np.all(np.abs(gx - gx_plain) <= 2 * 2 * n_gx * u * gx_bound + 1e-300)
    assert np.all(np.abs(gw - gw_plain) <= 2 * 2 * n_gw * u * gw_bound + 1e-300)


def test_a_plain_backward_takes_the_one_unfolding_and_create_graph_does_not():
    """Conv2d's backward uses conv2d_input_and_weight_grad_array (ConvTranspose2d's, its transposed twin) when
    both gradients are wanted and no graph is being built; with create_graph it keeps the differentiable pair
    of functions. (Seen by making it fail.)"""
    import minigen
    from minigen.nn import functional as F
    x = minigen.tensor(np.ones((2, 3, 5, 5)), requires_grad=True)
    w = minigen.tensor(np.ones((4, 3, 3, 3)), requires_grad=True)

    def boom(*args):
        raise AssertionError("one unfolding")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv, "conv2d_input_and_weight_grad_array", boom)
        with pytest.raises(AssertionError, match="one unfolding"):
            F.conv2d(x, w, padding=1).sum().backward()
        gx, gw = minigen.grad(F.conv2d(x, w, padding=1).sum(), [x, w], create_graph=True)
        assert gx.requires_grad and gw.requires_grad
        F.conv2d(x, w, padding=1, stride=2).sum().backward()      # stride 2: the two gradients apart
        assert not conv.fused_backward(x.data, w.data, conv.Geometry((2, 2), (1, 1), (1, 1), 1))
    with pytest.raises(ValueError, match=r"stride \(2, 2\).*one unfolding"):   # called anyway: refused, not wrong
        conv.conv2d_input_and_weight_grad_array(x.data, np.ones((2, 4, 3, 3)), w.data,
                                                conv.Geometry((2, 2), (1, 1), (1, 1), 1))
        mp.setattr(conv, "conv_transpose2d_input_and_weight_grad_array", boom)
        with pytest.raises(AssertionError, match="one unfolding"):
            F.conv_transpose2d(x, minigen.tensor(np.ones((3, 2, 3, 3)), requires_grad=True), stride=2).sum().backward()


def test_the_weight_gradient_takes_passes_only_where_it_pays():
    """Passes on the CPU for one group and a kernel larger than 1×1; a 1×1 kernel (x itself is cols) and groups
    take the one product. (Which path ran is seen by making the passes fail.)"""
    x, gy = np.ones((2, 4, 6, 6)), np.ones((2, 4, 6, 6))

    def boom(*args):
        raise AssertionError("passes")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv, "weight_grad_in_passes", boom)
        with pytest.raises(AssertionError, match="passes"):
            conv.conv2d_weight_grad_array(x, gy, conv.Geometry((1, 1), (1, 1), (1, 1), 1), (3, 3))
        conv.conv2d_weight_grad_array(x, gy, conv.Geometry((1, 1), (0, 0), (1, 1), 1), (1, 1))
        conv.conv2d_weight_grad_array(x, np.ones((2, 4, 6, 6)), conv.Geometry((1, 1), (1, 1), (1, 1), 2), (3, 3))
        conv.conv2d_weight_grad_array(x, gy, conv.Geometry((1, 1), (1, 1), (1, 1), 1), (3, 3), fast=False)


@given(st.integers(1, 300), st.integers(1, 1 << 24), st.integers(1, 4), st.integers(1, 1 << 23))
def test_images_per_pass_fills_the_cache_and_shares_the_passes_evenly(N, per_image, n_threads, cache):
    """At most a cache's worth of images per pass and at least half of it (at least one), and the busiest core
    (passes k, k + T, … go to thread k) never has more images than with passes simply as full as the cache
    allows."""
    def busiest(step):
        sizes = [min(step, N - a) for a in range(0, N, step)]
        return max(sum(sizes[k::n_threads]) for k in range(n_threads))
    before = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(passes, "CACHE_BYTES", cache)
            step = passes.images_per_pass(N, per_image)
    finally:
        threads.set_num_threads(before)
    full = max(1, min(N, cache // per_image))
    assert max(1, full // 2) <= step <= full
    assert busiest(step) <= busiest(full)


@pytest.mark.parametrize("N, per_image, n_threads, step", [
    (64, 49 * 1600 * 4, 2, 8),         # W1's forward: 13 images fill 4 MiB: 38 images on one core, 26 on the other
    (128, 784 * 288 * 4, 2, 4),        # 32 passes of 4 already share evenly
    (128, 49 * 1152 * 4, 2, 16),       # 18 fit: 8 passes, the last of 2 images; 8 of 16 instead
    (7, 10, 2, 4),                     # everything fits in one pass: two, one per core
    (7, 10, 1, 7),
])
def test_images_per_pass_examples(N, per_image, n_threads, step):
    before = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        assert passes.images_per_pass(N, per_image) == step
    finally:
        threads.set_num_threads(before)
