"""Lessons 4 and 5: conv2d and conv_transpose2d.

- gradients (and gradients of gradients) against finite differences, on parameters drawn valid by construction
  (conv_strategies.py): padding, non-square kernels and strides, dilation, output_padding, groups, bias;
- the adjoint identity ⟨conv(x, w), y⟩ = ⟨x, conv_transpose(y, w)⟩;
- both against naive loops written straight from the definition, on tiny inputs;
- the fast version against the simple one (conv_simple.py), on small drawn cases, a larger batch and a chain;
- dtypes (float32 in → float32 out), unbatched inputs, 'same'/'valid' padding, inputs never mutated;
- bad inputs: errors that name the op, the expected and the actual shapes, and the parameters at fault.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen
from minigen.nn import functional as F
from minigen.ops import conv as fast
from minigen.ops.conv_simple import conv2d_simple, conv_transpose2d_simple
from conv_strategies import conv_cases

lesson04 = pytest.mark.lesson04
lesson05 = pytest.mark.lesson05


def _tensors(case, device="cpu", seed=0, requires_grad=True):
    x, w, b = case.arrays(seed)
    make = lambda a: minigen.tensor(a, device=device, requires_grad=requires_grad)  # noqa: E731
    return make(x), make(w), (make(b) if b is not None else None)


def _op(case, fn=None):
    fn = fn or (F.conv_transpose2d if case.transposed else F.conv2d)
    return lambda x, w, b=None: fn(x, w, b, **case.kwargs())


def _numpy(t):
    return minigen.backend.to_numpy(t.data)


# --- Naive loops, straight from the definitions ----------------------------------------------------------------
def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            group = o // (O // groups)
            for a in range(Ho):
                for bb in range(Wo):
                    total = 0.0 if b is None else b[o]
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                r, s = a * sh + i * dh - ph, bb * sw + j * dw - pw
                                if 0 <= r < H and 0 <= s < W:
                                    total += x[n, group * Cg + c, r, s] * w[o, c, i, j]
                    y[n, o, a, bb] = total
    return y


def naive_conv_transpose2d(x, w, b, stride, padding, dilation, groups, output_padding):
    """Each input pixel stamps the kernel, scaled by its value, onto the output (the scatter form)."""
    N, C, H, W = x.shape
    _, Og, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = stride, padding, dilation, output_padding
    Hout = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    Wout = (W - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    y = np.zeros((N, Og * groups, Hout, Wout))
    Cg = C // groups
    for n in range(N):
        for c in range(C):
            group = c // Cg
            for a in range(H):
                for bb in range(W):
                    for o in range(Og):
                        for i in range(kh):
                            for j in range(kw):
                                r, s = a * sh + i * dh - ph, bb * sw + j * dw - pw
                                if 0 <= r < Hout and 0 <= s < Wout:
                                    y[n, group * Og + o, r, s] += x[n, c, a, bb] * w[c, o, i, j]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


@lesson04
@given(case=conv_cases())
def test_conv2d_matches_naive_loops(case):
    x, w, b = case.arrays()
    y = F.conv2d(minigen.tensor(x), minigen.tensor(w), None if b is None else minigen.tensor(b), **case.kwargs())
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, b, case.stride, case.padding, case.dilation,
                                                       case.groups), rtol=1e-10, atol=1e-12)


@lesson05
@given(case=conv_cases(transposed=True))
def test_conv_transpose2d_matches_naive_loops(case):
    x, w, b = case.arrays()
    y = F.conv_transpose2d(minigen.tensor(x), minigen.tensor(w), None if b is None else minigen.tensor(b),
                           **case.kwargs())
    expected = naive_conv_transpose2d(x, w, b, case.stride, case.padding, case.dilation, case.groups,
                                      case.output_padding)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@lesson05
@given(case=conv_cases(transposed=True, max_channels=3, max_kernel=5, groups=(1,)), n_threads=st.integers(1, 3),
       cache=st.integers(1, 2048))
def test_input_gradient_gather_matches_scatter(case, n_threads, cache):
    """The fast input gradient (polyphase gather) against its plain twin (matrix product, then col2im scatter)
    on the same arrays, for every stride, padding, kernel and output size a transposed conv accepts; its images
    in passes of any size (a small cache: one image each, often) on one to three threads."""
    from minigen import threads
    from minigen.ops import passes
    x, w, _ = case.arrays()                            # (the gather path is for dilation 1: the case's is ignored)
    geom = fast.Geometry(case.stride, case.padding, (1, 1), 1)
    out_hw = tuple(fast.conv_transpose_output_size(n, k, s, p, 1, o) for n, k, s, p, o in
                   zip(x.shape[2:], w.shape[2:], case.stride, case.padding, case.output_padding))
    if min(out_hw) <= 0:
        return
    before = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(passes, "CACHE_BYTES", cache)
            gather = fast._input_grad_polyphase(x, w, geom, out_hw)
    finally:
        threads.set_num_threads(before)
    scatter = fast._input_grad_col2im(x, w, geom, out_hw)
    np.testing.assert_allclose(gather, scatter, rtol=1e-12, atol=1e-12)
    gather32 = fast._input_grad_polyphase(x.astype(np.float32), w.astype(np.float32), geom, out_hw)
    assert gather32.dtype == np.float32


# --- Gradients ---------------------------------------------------------------------------------------------------
@lesson04
@given(case=conv_cases())
def test_conv2d_gradcheck(case, device):
    assert minigen.gradcheck(_op(case), [t for t in _tensors(case, device) if t is not None])


@lesson05
@given(case=conv_cases(transposed=True))
def test_conv_transpose2d_gradcheck(case, device):
    assert minigen.gradcheck(_op(case), [t for t in _tensors(case, device) if t is not None])


@lesson04
@given(case=conv_cases(max_batch=1, max_channels=1, max_extra=1, groups=(1,)))
def test_conv2d_gradgradcheck(case, device):
    assert minigen.gradgradcheck(_op(case), [t for t in _tensors(case, device) if t is not None])


@lesson05
@given(case=conv_cases(transposed=True, max_batch=1, max_channels=1, max_extra=1, groups=(1,)))
def test_conv_transpose2d_gradgradcheck(case, device):
    assert minigen.gradgradcheck(_op(case), [t for t in _tensors(case, device) if t is not None])


@lesson04
@given(case=conv_cases(max_batch=1, max_channels=1, max_extra=1, groups=(2,), bias=False))
def test_grouped_conv2d_gradgradcheck(case):
    assert minigen.gradgradcheck(_op(case), list(_tensors(case)[:2]))


@lesson04
@given(case=conv_cases(max_batch=1, max_channels=1, max_extra=1, groups=(1,), bias=False))
def test_weight_gradient_gradcheck(case):
    """Conv2dWeightGrad (∂/∂w ⟨g, conv(x, w)⟩), checked on its own: its backward is a conv_transpose and a conv."""
    x, w, _ = _tensors(case)
    geom, out_hw = fast.conv_geometry("conv2d", x, w, case.stride, case.padding, case.dilation, case.groups)
    g = minigen.tensor(np.random.default_rng(1).standard_normal((x.shape[0], w.shape[0]) + out_hw),
                       requires_grad=True)
    fn = lambda x, g: fast.Conv2dWeightGrad(geom, w.shape[2:])(x, g)  # noqa: E731
    assert minigen.gradcheck(fn, (x, g))
    assert minigen.gradgradcheck(fn, (x, g))


@lesson04
def test_gradient_penalty_through_conv_and_conv_transpose():
    """WGAN-GP's pattern: the norm of ∂D/∂x, itself differentiated, through both ops (against gradcheck)."""
    rng = np.random.default_rng(0)
    w1 = minigen.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)   # conv_transpose: 3 → 2
    w2 = minigen.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)   # conv: 2 → 2

    def penalty(z, w1, w2):
        x = F.conv_transpose2d(z, w1, stride=2, padding=1, output_padding=1)       # (1, 2, 4, 4)
        d = F.conv2d(F.leaky_relu(x, 0.2), w2, stride=2, padding=1).sum()
        gx, = minigen.grad(d, x, create_graph=True)
        return ((gx * gx).sum() + 1e-12) ** 0.5
    z = minigen.tensor(rng.standard_normal((1, 3, 2, 2)), requires_grad=True)
    assert minigen.gradcheck(penalty, (z, w1, w2), atol=1e-6, rtol=1e-5)


# --- Identities --------------------------------------------------------------------------------------------------
@lesson05
@given(case=conv_cases(bias=False))
def test_adjoint_identity(case):
    """⟨conv(x, w), y⟩ = ⟨x, conv_transpose(y, w)⟩, with the output_padding that gives back x's size."""
    x, w, _ = case.arrays()
    yshape = F.conv2d(minigen.tensor(x), minigen.tensor(w), **case.kwargs()).shape
    y = np.random.default_rng(1).standard_normal(yshape)
    output_padding = tuple((n + 2 * p - d * (k - 1) - 1) % s for n, p, d, k, s in
                           zip(x.shape[2:], case.padding, case.dilation, w.shape[2:], case.stride))
    left = (F.conv2d(minigen.tensor(x), minigen.tensor(w), **case.kwargs()).numpy() * y).sum()
    back = F.conv_transpose2d(minigen.tensor(y), minigen.tensor(w), output_padding=output_padding,
                              **case.kwargs())
    assert back.shape == x.shape
    np.testing.assert_allclose(left, (x * back.numpy()).sum(), rtol=1e-10, atol=1e-10)


@lesson04
@given(case=conv_cases())
def test_fast_conv2d_matches_simple(case):
    _check_fast_matches_simple(case, conv2d_simple)


@lesson05
@given(case=conv_cases(transposed=True))
def test_fast_conv_transpose2d_matches_simple(case):
    _check_fast_matches_simple(case, conv_transpose2d_simple)


def _check_fast_matches_simple(case, simple):
    results = []
    for fn in (None, simple):
        x, w, b = _tensors(case)
        y = _op(case, fn)(x, w, b)
        g = minigen.tensor(np.random.default_rng(2).standard_normal(y.shape))
        grads = minigen.grad(y, [t for t in (x, w, b) if t is not None], g)
        results.append([_numpy(y)] + [_numpy(t) for t in grads])
    for fast_result, simple_result in zip(*results):
        np.testing.assert_allclose(fast_result, simple_result, rtol=1e-10, atol=1e-12)


@lesson04
@pytest.mark.parametrize("transposed", [False, True])
def test_larger_batch_matches_simple(transposed):
    rng = np.random.default_rng(0)
    if transposed:
        x, w, kw = rng.standard_normal((16, 12, 8, 8)), rng.standard_normal((12, 8, 3, 3)), dict(output_padding=1)
        fns = (F.conv_transpose2d, conv_transpose2d_simple)
    else:
        x, w, kw = rng.standard_normal((32, 8, 16, 16)), rng.standard_normal((12, 8, 3, 3)), {}
        fns = (F.conv2d, conv2d_simple)
    results = []
    for fn in fns:
        xt, wt = minigen.tensor(x, requires_grad=True), minigen.tensor(w, requires_grad=True)
        y = fn(xt, wt, stride=2, padding=1, **kw)
        gx, gw = minigen.grad(y, (xt, wt), minigen.tensor(np.cos(np.arange(y.numel())).reshape(y.shape)))
        results.append((_numpy(y), _numpy(gx), _numpy(gw)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@lesson04
def test_chained_layers_match_simple():
    """Fast convs hand each other channels-last views (no copies): a chain must agree with the simple version,
    values and gradients, and stay twice differentiable."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 9, 9))
    w1, w2, w3 = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal((4, 4, 2, 2)), rng.standard_normal((4, 2, 3, 3))

    def chain(x, w1, w2, w3, conv=F.conv2d, convt=F.conv_transpose2d):
        h = F.leaky_relu(conv(x, w1, stride=2, padding=1), 0.2)      # (3, 4, 5, 5)
        h = conv(h, w2)                                               # no padding: reads h's memory directly
        return convt(h * 2.0, w3, stride=2, padding=1, output_padding=1)
    results = []
    for fns in ({}, {"conv": conv2d_simple, "convt": conv_transpose2d_simple}):
        ts = [minigen.tensor(a, requires_grad=True) for a in (x, w1, w2, w3)]
        y = chain(*ts, **fns)
        grads = minigen.grad((y * y).sum(), ts)
        results.append([_numpy(y)] + [_numpy(g) for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    small = [minigen.tensor(a, requires_grad=True) for a in (x[:1, :, :5, :5], w1[:2], w2[:2, :2], w3[:2])]
    assert minigen.gradgradcheck(chain, small)


# --- dtypes, shapes, invariants ----------------------------------------------------------------------------------
@lesson04
@pytest.mark.parametrize("transposed", [False, True])
def test_float32_in_float32_out(transposed, device):
    rng = np.random.default_rng(0)
    x = minigen.tensor(rng.standard_normal((2, 4, 6, 6)).astype(np.float32), device=device, requires_grad=True)
    w = minigen.tensor(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), device=device, requires_grad=True)
    b = minigen.tensor(np.zeros(4, np.float32), device=device, requires_grad=True)
    op = F.conv_transpose2d if transposed else F.conv2d
    y = op(x, w, b, stride=2, padding=1)
    assert y.dtype == np.float32
    grads = minigen.grad((y * 2.0).sum(), (x, w, b), create_graph=True)
    assert all(g.dtype == np.float32 for g in grads)
    gg = minigen.grad((grads[0] * grads[0]).sum() + (grads[1] * grads[1]).sum(), (x, w))
    assert all(g.dtype == np.float32 for g in gg)


@lesson04
def test_float32_matches_float64():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4, 9, 9)), rng.standard_normal((6, 4, 3, 3))
    y64 = F.conv2d(minigen.tensor(x), minigen.tensor(w), stride=2, padding=1).numpy()
    y32 = F.conv2d(minigen.tensor(x.astype(np.float32)), minigen.tensor(w.astype(np.float32)), stride=2, padding=1)
    np.testing.assert_allclose(y32.numpy(), y64, rtol=1e-4, atol=1e-4)


@lesson04
def test_device_matches_cpu(device):
    """The same numbers on the device under test (CuPy with --device cuda) as on the CPU."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 7, 7)), rng.standard_normal((6, 2, 3, 2))
    results = []
    for dev in ("cpu", device):
        xt = minigen.tensor(x, device=dev, requires_grad=True)
        wt = minigen.tensor(w, device=dev, requires_grad=True)
        y = F.conv2d(xt, wt, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
        z = F.conv_transpose2d(y, wt, stride=(2, 1), padding=1, groups=2)    # w is (6, 2, 3, 2) either way
        gx, gw = minigen.grad((z * z).sum(), (xt, wt))
        results.append([_numpy(t) for t in (y, z, gx, gw)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@lesson04
@given(size=st.integers(1, 12), kernel=st.integers(1, 5), stride=st.integers(1, 4), padding=st.integers(0, 3),
       dilation=st.integers(1, 3), output_padding=st.integers(0, 3))
def test_output_sizes_count_the_kernel_positions(size, kernel, stride, padding, dilation, output_padding):
    """conv_output_size counts the starts 0, s, 2s, … at which the kernel's span d·(k − 1) + 1 fits in the padded
    input; conv_transpose_output_size inverts it (output_padding picks among the sizes that map back)."""
    span = dilation * (kernel - 1) + 1
    starts = len(range(0, size + 2 * padding - span + 1, stride))
    n = fast.conv_output_size(size, kernel, stride, padding, dilation)
    assert n == starts if starts > 0 else n <= 0                  # ≤ 0: no position fits (conv2d then raises)
    if output_padding < stride:   # (PyTorch also accepts output_padding < dilation: sizes no conv maps back)
        out = fast.conv_transpose_output_size(size, kernel, stride, padding, dilation, output_padding)
        if out > 0:
            assert fast.conv_output_size(out, kernel, stride, padding, dilation) == size


def test_unbatched_input():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(minigen.tensor(x), minigen.tensor(w), padding=1)
    assert y.shape == (4, 6, 6)
    np.testing.assert_allclose(y.numpy(), F.conv2d(minigen.tensor(x[None]), minigen.tensor(w), padding=1).numpy()[0])
    z = F.conv_transpose2d(y, minigen.tensor(w), padding=1)  # w (4, 3, 3, 3): 4 channels in, 3 out
    assert z.shape == (3, 6, 6)


@lesson04
@pytest.mark.parametrize("kernel,dilation", [((3, 3), 1), ((4, 2), 1), ((3, 4), (2, 1)), ((1, 1), 1)])
def test_padding_same_and_valid(kernel, dilation):
    rng = np.random.default_rng(0)
    x, w = minigen.tensor(rng.standard_normal((1, 2, 7, 6))), minigen.tensor(rng.standard_normal((3, 2) + kernel))
    y = F.conv2d(x, w, padding="same", dilation=dilation)
    assert y.shape == (1, 3, 7, 6)
    # 'same' pads d·(k − 1) in total, the odd one at the bottom/right (PyTorch's choice): check by padding by hand
    d = (dilation, dilation) if isinstance(dilation, int) else dilation
    total = [di * (k - 1) for di, k in zip(d, kernel)]
    padded = F.pad(x, (total[1] // 2, total[1] - total[1] // 2, total[0] // 2, total[0] - total[0] // 2))
    np.testing.assert_allclose(y.numpy(), F.conv2d(padded, w, dilation=dilation).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.conv2d(x, w, padding="valid").numpy(), F.conv2d(x, w).numpy())


@lesson04
@pytest.mark.parametrize("transposed", [False, True])
def test_inputs_and_upstream_never_mutated(transposed):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)]
    if transposed:
        arrays[2] = rng.standard_normal(4)
    copies = [a.copy() for a in arrays]
    x, w, b = (minigen.tensor(a, requires_grad=True) for a in arrays)
    op = F.conv_transpose2d if transposed else F.conv2d
    y = op(x, w, b, stride=2, padding=1, groups=2)
    g = rng.standard_normal(y.shape)
    g_copy = g.copy()
    gt = minigen.tensor(g, requires_grad=True)
    grads = minigen.grad(y, (x, w, b), gt, create_graph=True)
    minigen.grad(sum((t * t).sum() for t in grads), (x, w, gt), allow_unused=True)
    for t, a in zip((x, w, b), copies):
        np.testing.assert_array_equal(_numpy(t), a)
    np.testing.assert_array_equal(_numpy(gt), g_copy)


@lesson04
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("wants", ["x", "w", "b"])
def test_gradient_for_one_input_only(transposed, wants):
    """Only the inputs that require grad get one, and each equals the one computed with all three."""
    rng = np.random.default_rng(0)
    w_shape, out_channels = ((4, 3, 3, 3), 6) if transposed else ((4, 2, 3, 3), 4)
    arrays = [rng.standard_normal((2, 4, 5, 5)), rng.standard_normal(w_shape), rng.standard_normal(out_channels)]
    op = F.conv_transpose2d if transposed else F.conv2d
    full = [minigen.tensor(a, requires_grad=True) for a in arrays]
    y = op(*full, stride=2, padding=1, groups=2)
    g = minigen.tensor(rng.standard_normal(y.shape))
    expected = minigen.grad(y, full, g)
    index = "xwb".index(wants)
    some = [minigen.tensor(a, requires_grad=(i == index)) for i, a in enumerate(arrays)]
    got, = minigen.grad(op(*some, stride=2, padding=1, groups=2), some[index], g)
    np.testing.assert_allclose(_numpy(got), _numpy(expected[index]), rtol=1e-12)


@lesson04
def test_a_conv_keeps_no_columns_between_forward_and_backward():
    """The unfolded input is k²/s² times the input's size: the graph keeps x only, and the weight gradient
    unfolds it again (still right: checked against finite differences elsewhere)."""
    x = minigen.randn(2, 3, 8, 8)
    w = minigen.randn(4, 3, 3, 3, requires_grad=True)
    with minigen.no_grad():
        y = F.conv2d(x, w)
    assert y.grad_fn is None and not y.requires_grad
    y = F.conv2d(x, w)
    assert y.grad_fn.cols is None
    g = minigen.randn(*y.shape)
    gw, = minigen.grad(y, w, g)
    expected, = minigen.grad(conv2d_simple(x, w), w, g)
    np.testing.assert_allclose(gw.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    y = F.conv2d(x, w.detach())
    assert y.grad_fn is None


# --- Bad inputs --------------------------------------------------------------------------------------------------
def _raises(match, fn, *args, **kwargs):
    with pytest.raises((RuntimeError, ValueError, TypeError)) as info:
        fn(*args, **kwargs)
    for part in match:
        assert part in str(info.value), (part, str(info.value))
    return str(info.value)


@lesson04
def test_channel_mismatch_names_op_and_shapes():
    x, w = minigen.zeros(1, 1, 8, 8), minigen.zeros(8, 3, 3, 3)
    _raises(["conv2d", "expected input with 3 channels", "(8, 3, 3, 3)", "got input of shape (1, 1, 8, 8)"],
            F.conv2d, x, w)
    _raises(["conv_transpose2d", "expected input with 8 channels", "(1, 1, 8, 8)"], F.conv_transpose2d, x, w)
    _raises(["conv2d", "expected input with 6 channels", "groups=2"], F.conv2d, minigen.zeros(1, 3, 8, 8), w,
            groups=2)


@lesson04
def test_empty_output_names_the_parameters():
    x, w = minigen.zeros(1, 3, 4, 4), minigen.zeros(2, 3, 5, 5)
    message = _raises(["conv2d", "output would be empty", "(1, 3, 4, 4)", "padding=(0, 0)", "kernel 5×5",
                       "dilation=(1, 1)"], F.conv2d, x, w)
    assert "more padding" in message
    _raises(["conv2d", "output would be empty", "dilation=(4, 1)"], F.conv2d, minigen.zeros(1, 3, 8, 8),
            minigen.zeros(2, 3, 3, 3), dilation=(4, 1))
    _raises(["conv_transpose2d", "output would be empty", "padding=(3, 3)"], F.conv_transpose2d,
            minigen.zeros(1, 3, 1, 1), minigen.zeros(3, 2, 3, 3), padding=3)


@lesson04
def test_other_bad_parameters():
    x, w = minigen.zeros(1, 4, 8, 8), minigen.zeros(6, 4, 3, 3)
    _raises(["conv2d", "bias of shape (6,)", "(5,)"], F.conv2d, x, w, minigen.zeros(5))
    _raises(["conv2d", "not divisible by groups=4"], F.conv2d, x, minigen.zeros(6, 1, 3, 3), groups=4)
    _raises(["conv2d", "stride must be at least 1"], F.conv2d, x, w, stride=0)
    _raises(["conv2d", "padding must be at least 0"], F.conv2d, x, w, padding=(1, -1))
    _raises(["conv2d", "'same' is not supported for strided"], F.conv2d, x, w, padding="same", stride=2)
    _raises(["conv2d", "'valid' or 'same'"], F.conv2d, x, w, padding="full")
    _raises(["conv2d", "4-D input", "(8, 8)"], F.conv2d, minigen.zeros(8, 8), w)
    _raises(["conv2d", "4-D weight", "(6, 4, 3)"], F.conv2d, x, minigen.zeros(6, 4, 3))
    _raises(["conv_transpose2d", "output_padding must be smaller than stride or dilation", "output_padding=(2, 2)"],
            F.conv_transpose2d, minigen.zeros(1, 6, 4, 4), w, stride=2, output_padding=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride", [(3, 1), (5, 2), (1, 1)])
def test_an_empty_batch_goes_through_forward_and_backward(dtype, kernel, stride):
    """A batch of no images (PyTorch allows it): empty outputs and input gradients, and a weight gradient of
    zeros (a sum over no images), through the passes of ops/passes.py and the polyphase gather alike."""
    w = minigen.tensor(np.ones((4, 3, kernel, kernel), dtype), requires_grad=True)
    x = minigen.tensor(np.zeros((0, 3, 8, 8), dtype), requires_grad=True)
    y = F.conv2d(x, w, padding=kernel // 2, stride=stride)
    assert y.shape == (0, 4, -(-8 // stride), -(-8 // stride))
    y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape and not w.grad.numpy().any()
    z = minigen.tensor(np.zeros((0, 4, 4, 4), dtype), requires_grad=True)
    wt = minigen.tensor(np.ones((4, 2, kernel, kernel), dtype), requires_grad=True)
    yt = F.conv_transpose2d(z, wt, stride=stride, padding=kernel // 2, output_padding=stride - 1)
    assert yt.shape[:2] == (0, 2)
    yt.sum().backward()
    assert z.grad.shape == z.shape and not wt.grad.numpy().any()
