"""The lessons' exercise checks, and the notebooks' pairing with their jupytext files.

``python -m pytest -m lesson03`` runs one lesson's checks. They look at ``lessons/solutions/lessonNN.py`` by
default, so the suite is green before anyone has solved anything; with ``MINIGEN_CHECK=exercises`` they look at
``lessons/exercises/lessonNN.py``, the learner's file. Each check compares the module under test with the
reference solution *and* with something independent of both (finite differences, minigen's own ops, a naive
loop), so a wrong reference solution fails here too.
"""

import os

import hypothesis
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen import nn
from minigen.nn import functional as F

from helpers import f64
from lesson_checks import LESSONS, reference, under_test  # tests/lesson_checks.py

lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08 = (
    getattr(pytest.mark, f"lesson{n:02d}") for n in range(1, 9))


# --- Lesson 01: a topological order without recursion; SiLU as a Function -----------------------------------
class Node:
    def __init__(self, *prev):
        self._prev = prev


def _random_dag(rng, n):
    nodes = [Node() for _ in range(3)]
    for _ in range(n):
        k = int(rng.integers(1, 4))
        nodes.append(Node(*[nodes[int(i)] for i in rng.integers(0, len(nodes), k)]))  # repeats: a + a
    return Node(*nodes[-3:]), nodes


def _reachable(root):
    seen, stack = {}, [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(node._prev)
    return seen


@lesson01
@pytest.mark.parametrize("seed", range(5))
def test_topological_order_lists_each_reachable_node_once_after_its_inputs(seed):
    root, _ = _random_dag(np.random.default_rng(seed), 60)
    order = under_test(1).topological_order(root)
    ids = [id(v) for v in order]
    assert len(ids) == len(set(ids)), "a node appears more than once"
    assert set(ids) == set(_reachable(root)), "the order must hold exactly the nodes reachable from root"
    assert set(ids) == {id(v) for v in reference(1).topological_order(root)}
    position = {i: k for k, i in enumerate(ids)}
    for v in order:
        for p in v._prev:
            assert position[id(p)] < position[id(v)], "a node comes before one of its inputs"
    assert order[-1] is root


@lesson01
def test_topological_order_needs_no_recursion():
    node = Node()
    for _ in range(20000):
        node = Node(node, Node())
    assert len(under_test(1).topological_order(node)) == 40001


@lesson01
def test_silu_forward_matches_the_formula_and_keeps_float32():
    x = np.linspace(-30, 30, 121)
    y = under_test(1).silu(minigen.tensor(x, dtype=minigen.float64)).numpy()
    np.testing.assert_allclose(y, x / (1 + np.exp(-x)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, reference(1).silu(minigen.tensor(x, dtype=minigen.float64)).numpy())
    with np.errstate(over="raise"):
        y32 = under_test(1).silu(minigen.tensor([-1000.0, 0.0, 1000.0]))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.numpy(), [0.0, 0.0, 1000.0])


@lesson01
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=4),
                    elements=st.floats(-6, 6)))
def test_silu_gradients_and_gradients_of_gradients(x):
    silu = under_test(1).silu
    assert minigen.gradcheck(silu, (f64(x),))
    assert minigen.gradgradcheck(silu, (f64(x),))


# --- Lesson 02: the numerical Jacobian; softmax's backward fixed ---------------------------------------------
@lesson02
@pytest.mark.parametrize("shape", [(), (1,), (2, 3)])
def test_numerical_jacobian_matches_the_analytic_one(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    A = rng.standard_normal((4, x.size))
    f = lambda a: A @ np.tanh(a.reshape(-1))  # noqa: E731
    before = x.copy()
    J = under_test(2).numerical_jacobian(f, x)
    np.testing.assert_array_equal(x, before, err_msg="numerical_jacobian changed its input")
    assert J.shape == (4, x.size)
    np.testing.assert_allclose(J, A * (1 - np.tanh(x.reshape(-1)) ** 2), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(J, reference(2).numerical_jacobian(f, x), rtol=1e-6, atol=1e-8)


@lesson02
def test_numerical_jacobian_of_a_scalar_function_is_one_row():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    J = under_test(2).numerical_jacobian(lambda a: (a ** 2).sum(), x)
    np.testing.assert_allclose(J, [[2.0, 4.0, 6.0, 8.0]], rtol=1e-6)


@lesson02
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-5, 5)))
def test_softmax_backward_passes_a_check_with_a_random_upstream_gradient(x):
    softmax = under_test(2).softmax
    np.testing.assert_allclose(softmax(f64(x, False)).numpy(), F.softmax(f64(x, False), -1).numpy(), rtol=1e-12)
    assert minigen.gradcheck(softmax, (f64(x),))
    assert minigen.gradgradcheck(softmax, (f64(x),))


# --- Lesson 03: sum_to, the backward of broadcasting; a dense layer fixed -----------------------------------
@lesson03
@given(big=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3), data=st.data())
def test_sum_to_undoes_broadcasting_as_autograd_does(big, data):
    lead = data.draw(st.integers(0, len(big)), label="leading axes broadcasting added")
    stretched = data.draw(st.lists(st.booleans(), min_size=len(big) - lead, max_size=len(big) - lead),
                          label="axes broadcasting stretched from size 1")
    shape = tuple(1 if s else n for s, n in zip(stretched, big[lead:]))
    g = np.random.default_rng(0).standard_normal(big)
    out = under_test(3).sum_to(g, shape)
    assert np.shape(out) == tuple(shape), (
        f"sum_to(g of shape {big}, {shape}) returned shape {np.shape(out)}: sum away the {lead} leading axes, "
        "then sum with keepdims=True over the axes where shape has 1 and g does not")
    t = f64(np.zeros(shape))
    minigen.ops.broadcast_to(t, big).backward(minigen.tensor(g))
    np.testing.assert_allclose(out, t.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, reference(3).sum_to(g, shape), rtol=1e-12, atol=1e-12)


@lesson03
@pytest.mark.parametrize("n", [1, 2, 4])
def test_dense_gives_one_row_per_example_and_the_numbers_of_f_linear(n):
    layer = under_test(3).Dense(3, 4)
    x = minigen.randn(n, 3, requires_grad=True)
    y = layer(x)
    assert y.shape == (n, 4), f"Dense(3, 4) on a batch of {n}: expected shape ({n}, 4), got {y.shape}"
    expected = x.detach().numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy().reshape(-1)
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-6, err_msg="y = x Wᵀ + b, b added to every row")
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (4,), "the parameter shapes of nn.Linear"
    g = minigen.randn(n, 4)
    y.backward(g)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g.numpy().sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() @ layer.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


# --- Lesson 04: the output size of a convolution; im2col with stride and padding ----------------------------
@lesson04
@given(size=st.integers(1, 40), kernel=st.integers(1, 7), stride=st.integers(1, 4), padding=st.integers(0, 3),
       dilation=st.integers(1, 3))
def test_conv_output_size_is_the_size_conv2d_produces(size, kernel, stride, padding, dilation):
    n = under_test(4).conv_output_size(size, kernel, stride, padding, dilation)
    assert n == reference(4).conv_output_size(size, kernel, stride, padding, dilation)
    if size + 2 * padding >= dilation * (kernel - 1) + 1:  # the kernel fits: conv2d runs
        x, w = minigen.zeros(1, 1, size, 3), minigen.zeros(1, 1, kernel, 1)
        assert n == F.conv2d(x, w, stride=stride, padding=(padding, 0), dilation=dilation).shape[2]
    else:
        assert n <= 0


@lesson04
@given(n=st.integers(1, 2), c=st.integers(1, 3), kh=st.integers(1, 3), kw=st.integers(1, 3),
       stride=st.integers(1, 3), padding=st.integers(0, 2), data=st.data())
def test_im2col_then_one_matrix_product_is_conv2d(n, c, kh, kw, stride, padding, data):
    # sizes valid by construction: the kernel fits inside the padded image
    h = data.draw(st.integers(max(1, kh - 2 * padding), 7), label="h")
    w = data.draw(st.integers(max(1, kw - 2 * padding), 7), label="w")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    weight = rng.standard_normal((2, c, kh, kw))
    cols = under_test(4).im2col(x, kh, kw, stride, padding)
    expected = F.conv2d(minigen.tensor(x), minigen.tensor(weight), stride=stride, padding=padding).numpy()
    assert cols.shape == (n, c * kh * kw, expected.shape[2] * expected.shape[3])
    np.testing.assert_allclose(cols, reference(4).im2col(x, kh, kw, stride, padding), rtol=0, atol=0)
    np.testing.assert_allclose((weight.reshape(2, -1) @ cols).reshape(expected.shape), expected, rtol=1e-10,
                               atol=1e-12)


# --- Lesson 05: the output_padding a transposed convolution needs; the layer as stamps ----------------------
@lesson05
@given(size_in=st.integers(1, 20), kernel=st.integers(1, 6), stride=st.integers(1, 3), padding=st.integers(0, 2),
       dilation=st.integers(1, 2), data=st.data())
def test_output_padding_for_gives_the_size_conv_transpose2d_produces(size_in, kernel, stride, padding, dilation,
                                                                      data):
    op = data.draw(st.integers(0, max(stride, dilation) - 1), label="output_padding")
    natural = (size_in - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1
    hypothesis.assume(natural + op >= 1)
    x, w = minigen.zeros(1, 1, size_in, 1), minigen.zeros(1, 1, kernel, 1)
    size_out = F.conv_transpose2d(x, w, stride=stride, padding=(padding, 0), output_padding=(op, 0),
                                  dilation=(dilation, 1)).shape[2]
    output_padding_for = under_test(5).output_padding_for
    assert output_padding_for(size_in, size_out, kernel, stride, padding, dilation) == op
    assert reference(5).output_padding_for(size_in, size_out, kernel, stride, padding, dilation) == op
    for impossible in (natural - 1, natural + max(stride, dilation)):
        with pytest.raises(ValueError):
            output_padding_for(size_in, impossible, kernel, stride, padding, dilation)


@lesson05
@given(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5),
       kh=st.integers(1, 4), kw=st.integers(1, 4), stride=st.integers(1, 3), data=st.data())
def test_stamps_are_conv_transpose2d(n, c, o, h, w, kh, kw, stride, data):
    # valid by construction: the cropped output is not empty in either direction, output_padding < stride
    room = min((h - 1) * stride + kh, (w - 1) * stride + kw) - 1          # rows (columns) padding may remove
    padding = data.draw(st.integers(0, min(2, room // 2)), label="padding")
    output_padding = data.draw(st.integers(0, stride - 1), label="output_padding")
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((c, o, kh, kw))
    out = under_test(5).conv_transpose2d_stamps(x, weight, stride, padding, output_padding)
    expected = F.conv_transpose2d(minigen.tensor(x), minigen.tensor(weight), stride=stride, padding=padding,
                                  output_padding=output_padding).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out, reference(5).conv_transpose2d_stamps(x, weight, stride, padding,
                                                                         output_padding), rtol=1e-12, atol=1e-12)


# --- Lesson 06: batch norm's backward in NumPy; a batch-norm layer's evaluation mode fixed -----------------
@lesson06
@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3, 3), (2, 1, 1, 4)])
def test_batch_norm_backward_matches_autograd(shape):
    rng = np.random.default_rng(len(shape))
    x, g, gamma = rng.standard_normal(shape), rng.standard_normal(shape), rng.standard_normal(shape[1])
    xt, wt, bt = f64(x), f64(gamma), f64(np.zeros(shape[1]))
    F.batch_norm(xt, None, None, wt, bt, training=True).backward(minigen.tensor(g))
    grads = under_test(6).batch_norm_backward(x, gamma, g)
    assert len(grads) == 3, f"return three gradients (∂L/∂x, ∂L/∂γ, ∂L/∂β), got {len(grads)}"
    hints = {"x": "r·(h − mean(h) − x̂·mean(h·x̂)) with h = γ·g, r = 1/√(σ² + ε), the means per channel "
                  "(over every axis but 1), σ² the biased variance",
             "γ": "Σ g·x̂ over every axis but 1", "β": "Σ g over every axis but 1"}
    for name, mine, expected, ref in zip(hints, grads, (xt.grad, wt.grad, bt.grad),
                                         reference(6).batch_norm_backward(x, gamma, g)):
        expected = expected.numpy()
        assert np.shape(mine) == expected.shape, (f"∂L/∂{name} for x of shape {shape} has shape {expected.shape}, "
                                                  f"got {np.shape(mine)}")
        np.testing.assert_allclose(mine, expected, rtol=1e-7, atol=1e-10,
                                   err_msg=f"∂L/∂{name} differs from autograd's (F.batch_norm): it is {hints[name]}")
        np.testing.assert_allclose(mine, ref, rtol=1e-7, atol=1e-10, err_msg=f"∂L/∂{name} differs from the solution's")


@lesson06
def test_batch_norm_layer_matches_nn_batchnorm1d_in_training_and_in_evaluation():
    mine, theirs = under_test(6).BatchNorm1d(3), nn.BatchNorm1d(3)
    rng = np.random.default_rng(0)
    for _ in range(5):  # training: outputs, gradients and running statistics as nn.BatchNorm1d
        x = rng.normal(2.0, 3.0, (8, 3)).astype(np.float32)
        a, b = minigen.tensor(x, requires_grad=True), minigen.tensor(x, requires_grad=True)
        ya, yb = mine(a), theirs(b)
        np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-4, atol=1e-5)
        g = minigen.tensor(rng.standard_normal((8, 3)).astype(np.float32))
        ya.backward(g)
        yb.backward(g)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mine.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(mine.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5)
    mine.eval()
    theirs.eval()
    x = minigen.tensor(rng.normal(2.0, 3.0, (6, 3)).astype(np.float32))
    with minigen.no_grad():
        batch = mine(x).numpy()
        np.testing.assert_allclose(batch, theirs(x).numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg="evaluation mode must normalize with the running statistics")
        np.testing.assert_allclose(mine(x[:1]).numpy(), batch[:1], rtol=1e-5, atol=1e-6,
                                   err_msg="in evaluation mode an example's output must not depend on its batch")


# --- Lesson 07: cross-entropy on logits; a decoder that can draw black ---------------------------------------
@lesson07
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=5),
                    elements=st.floats(-8, 8).filter(lambda v: abs(v) > 1e-3)), data=st.data())
def test_bce_with_logits_matches_minigen_and_has_a_gradient(x, data):
    p = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0, 1)), label="targets")
    bce = under_test(7).bce_with_logits
    logits, targets = f64(x), f64(p, requires_grad=False)
    expected = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
    np.testing.assert_allclose(bce(logits, targets).item(), expected.item(), rtol=1e-10)
    np.testing.assert_allclose(bce(logits, targets).item(), reference(7).bce_with_logits(logits, targets).item(),
                               rtol=1e-10)
    assert minigen.gradcheck(lambda t: bce(t, targets), (logits,))


@lesson07
def test_bce_with_logits_stays_finite_for_huge_logits():
    logits = minigen.tensor([1000.0, -1000.0, 1000.0, -1000.0], requires_grad=True)
    targets = minigen.tensor([0.0, 1.0, 1.0, 0.0])
    loss = under_test(7).bce_with_logits(logits, targets)
    np.testing.assert_allclose(loss.item(), 2000.0, rtol=1e-6)        # two confident mistakes of 1000 nats
    loss.backward()
    np.testing.assert_allclose(logits.grad.numpy(), [1.0, -1.0, 0.0, 0.0], atol=1e-6)  # σ(l) − p


@lesson07
def test_decoder_outputs_logits_of_either_sign():
    minigen.manual_seed(0)
    decoder = under_test(7).make_decoder(2)
    with minigen.no_grad():
        logits = decoder(minigen.randn(64, 2) * 3)
    assert logits.shape == (64, 784)
    assert (logits.numpy() < 0).mean() > 0.1, "logits below 0 (pixels darker than σ(0) = ½) must be possible"
    sizes = [(m.in_features, m.out_features) for m in decoder.modules() if isinstance(m, nn.Linear)]
    assert sizes == [(2, 128), (128, 512), (512, 784)]


# --- Lesson 08: the reparameterization trick; the KL term --------------------------------------------------
def _gaussian_parameters(seed, n=4, d=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.uniform(-2, 1, (n, d)), rng.standard_normal((n, d))


@lesson08
@pytest.mark.parametrize("seed", range(3))
def test_reparameterize_is_mu_plus_sigma_eps_and_differentiable(seed):
    mu, logvar, eps = _gaussian_parameters(seed)
    reparameterize = under_test(8).reparameterize
    z = reparameterize(f64(mu), f64(logvar), f64(eps, False))
    np.testing.assert_allclose(z.detach().numpy(), mu + np.exp(0.5 * logvar) * eps, rtol=1e-12,
                               err_msg="σ = exp(½·log σ²)")
    np.testing.assert_allclose(z.detach().numpy(), reference(8).reparameterize(
        f64(mu), f64(logvar), f64(eps, False)).detach().numpy(), rtol=1e-12)
    assert minigen.gradcheck(lambda m, v: reparameterize(m, v, f64(eps, False)), (f64(mu), f64(logvar)))


@lesson08
@pytest.mark.parametrize("seed", range(3))
def test_kl_divergence_matches_the_closed_form_and_minigen(seed):
    from minigen.models.vae import kl_divergence as minigen_kl
    mu, logvar, _ = _gaussian_parameters(seed)
    kl = under_test(8).kl_divergence
    out = kl(f64(mu), f64(logvar))
    assert out.shape == (4,)
    expected = 0.5 * (np.exp(logvar) + mu ** 2 - 1 - logvar).sum(1)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), minigen_kl(f64(mu), f64(logvar)).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), reference(8).kl_divergence(f64(mu), f64(logvar)).detach().numpy(),
                               rtol=1e-12)
    assert minigen.gradcheck(kl, (f64(mu), f64(logvar)))
    zero = kl(f64(np.zeros((2, 3))), f64(np.zeros((2, 3))))
    np.testing.assert_allclose(zero.detach().numpy(), 0.0, atol=1e-15, err_msg="KL(N(0, I) ‖ N(0, I)) = 0")


# --- course.check: a failing exercise says "Not yet"; checks that cannot run say why -----------------------
def _course():
    import course  # lessons/course.py (tests/lesson_checks.py put lessons/ on sys.path)
    return course


def test_check_reports_failing_exercises_as_not_yet(capsys):
    # the unsolved exercise stubs raise NotImplementedError: failing checks, pytest's exit code 1
    assert _course().check(3, "exercises") is False
    out = capsys.readouterr().out
    assert "failed" in out and "NotImplementedError" in out
    assert "Not yet: edit lessons/exercises/lesson03.py" in out


def test_check_passes_on_the_solutions(capsys):
    assert _course().check(3, "solutions") is True
    assert "passed" in capsys.readouterr().out


def test_check_names_a_missing_pytest_instead_of_blaming_the_exercise(tmp_path):
    # a Python where pytest cannot be imported: the check must say so, not "Not yet: edit ..."
    script = tmp_path / "no_pytest.py"
    script.write_text("import sys\n"
                      "class Block:\n"
                      "    def find_spec(self, name, path=None, target=None):\n"
                      "        if name.split('.')[0] in ('pytest', '_pytest'):\n"
                      "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
                      "sys.meta_path.insert(0, Block())\n"
                      f"sys.path.insert(0, {str(LESSONS)!r})\n"
                      "import course\n"
                      "course.check(3)\n")
    import subprocess
    import sys
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "RuntimeError: the checks need pytest" in result.stderr
    assert "pip install -e '.[lessons]'" in result.stderr
    assert "Not yet" not in result.stdout + result.stderr


def test_check_shows_pytest_errors_that_are_not_failing_checks(tmp_path, monkeypatch):
    # hypothesis broken for the pytest that check() starts: collection fails (exit code 2 to 4, not 1)
    fake = tmp_path / "hypothesis"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'hypothesis' (a test stand-in)\")\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    with pytest.raises(RuntimeError) as raised:
        _course().check(3, "exercises")
    message = str(raised.value)
    assert "could not run: pytest exited with code" in message
    assert "No module named 'hypothesis' (a test stand-in)" in message           # pytest's own words, shown
    assert "Not yet" not in message


def test_check_says_when_no_check_was_selected():
    with pytest.raises(RuntimeError, match="exited with code 5, no tests collected"):
        _course().check(99)                                              # no lesson 99: pytest selects nothing


# --- The notebooks: each .ipynb holds the same cells as its jupytext .py -------------------------------------
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_in_sync_with_its_py_file(source):
    jupytext = pytest.importorskip("jupytext")
    notebook = source.with_suffix(".ipynb")
    rebuild = f"`python lessons/build.py {source.name[:2]}` (with outputs) or `jupytext --sync lessons/{source.name}`"
    assert notebook.exists(), f"{notebook.name} is missing: run {rebuild}"
    cells = [[(c.cell_type, c.source.strip()) for c in jupytext.read(path).cells] for path in (source, notebook)]
    assert cells[0] == cells[1], f"{source.name} and {notebook.name} differ: edit the .py, then run {rebuild}"


def test_every_lesson_has_a_notebook_an_exercise_and_a_solution():
    assert NOTEBOOKS, "no lessons found"
    for source in NOTEBOOKS:
        n = source.name[:2]
        assert (LESSONS / "exercises" / f"lesson{n}.py").exists()
        assert (LESSONS / "solutions" / f"lesson{n}.py").exists()


def test_jupyter_opens_the_ipynb_files_as_notebooks_and_the_helpers_as_python_files():
    # lessons/jupytext.toml, as jupytext's contents manager in JupyterLab resolves it for files in lessons/
    config = pytest.importorskip("jupytext.config")
    found = config.find_jupytext_configuration_file(str(LESSONS))
    assert found is not None and found.endswith("jupytext.toml"), f"lessons/ has no jupytext config: {found}"
    assert config.load_jupytext_configuration_file(found).notebook_extensions == ["ipynb"], (
        "with .py among the notebook extensions JupyterLab lists course.py, build.py and conftest.py as notebooks")
    jupytext = pytest.importorskip("jupytext")
    for source in NOTEBOOKS:  # each lesson stays paired with its .py through its own metadata
        formats = jupytext.read(source.with_suffix(".ipynb")).metadata.get("jupytext", {}).get("formats")
        assert formats == "ipynb,py:percent", f"{source.stem}.ipynb is not paired with {source.name}: {formats}"
