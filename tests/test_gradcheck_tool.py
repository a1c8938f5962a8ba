"""Lesson 2: the checker checked. A gradient check that cannot fail proves nothing, so each test here feeds
``minigen.gradcheck`` / ``gradgradcheck`` a deliberately wrong backward and asserts that it is caught, with a
message that says where (input, element) and by how much (both values)."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigen
from minigen import Function, GradcheckError, Tensor, gradcheck, gradgradcheck
from helpers import f64
from strategies import DOMAINS, elements

pytestmark = pytest.mark.lesson02


class OffByOneAt(Function):
    """y = x², with a backward that is right everywhere except at one element, where it adds 1."""

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        return x * x

    def backward(self, g):
        x, = self.inputs
        bump = np.zeros(x.shape)
        bump[self.index] = 1.0
        return g * 2.0 * x + Tensor(bump)


MESSAGE = re.compile(r"gradient of input (\d+) \(shape (.*?)\) is wrong at (\d+) of (\d+) elements; worst at index "
                     r"(.*?): analytic (\S+), numeric (\S+) ")


def test_a_wrong_backward_is_caught_and_the_message_names_input_element_and_values():
    a = f64([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    b = f64([[1.0, 2.0, 3.0], [-1.0, -2.0, 0.5]])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a * 3.0 + OffByOneAt((1, 2))(b), (a, b))
    match = MESSAGE.search(str(info.value))
    assert match, str(info.value)
    input_index, shape, n_wrong, n_total, index, analytic, numeric = match.groups()
    assert (input_index, shape, n_wrong, n_total, index) == ("1", "(2, 3)", "1", "6", "(1, 2)")
    assert float(analytic) - float(numeric) == pytest.approx(1.0, rel=1e-6)  # exactly the injected error
    np.testing.assert_array_equal(b.data, [[1.0, 2.0, 3.0], [-1.0, -2.0, 0.5]])  # inputs restored


def test_raise_exception_false_returns_false():
    x = f64([1.0, 2.0])
    assert gradcheck(lambda x: OffByOneAt(0)(x), (x,), raise_exception=False) is False
    assert gradcheck(lambda x: x * x, (x,), raise_exception=False) is True


def test_tolerances_decide_how_wrong_is_wrong():
    class SlightlyOff(Function):
        def forward(self, x):
            return x * 2.0

        def backward(self, g):
            return g * 2.0002  # 1e-4 relative error

    x = f64([1.0, -2.0, 3.0])
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: SlightlyOff()(x), (x,))
    assert gradcheck(lambda x: SlightlyOff()(x), (x,), rtol=1e-3)


# --- Why the upstream gradient must be random -------------------------------------------------------------------
class Normalize(Function):
    """y = (x − mean x) / std x (population std), batch norm's core, with a *wrong* backward: it forgets the term
    through std, −x̂·mean(g·x̂)/σ. With g = ones that term is 0 anyway, so a check seeded only with ``.sum()``
    (g = ones) cannot see the bug: the gradient of sum(normalize(x)) is 0 whatever x is."""

    def forward(self, x):
        self.mu, self.sigma = x.mean(), x.std()
        return (x - self.mu) / self.sigma

    def backward(self, g):
        return (g - g.mean()) / self.sigma  # missing: − x̂ · mean(g · x̂) / σ


def _normalize_composed(x):
    centred = x - x.mean()
    return centred / (centred * centred).mean().sqrt()


def test_a_sum_only_check_misses_the_batchnorm_bug_and_the_random_upstream_check_catches_it():
    x = f64([0.3, -1.2, 2.5, 0.7, -0.4])
    # seeded with .sum(): passes although the backward is wrong
    assert gradcheck(lambda x: Normalize()(x).sum(), (x,))
    # seeded with a random upstream gradient: caught
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda x: Normalize()(x), (x,))
    # and the same function built from checked ops passes both
    assert gradcheck(_normalize_composed, (x,)) and gradcheck(lambda x: _normalize_composed(x).sum(), (x,))
    # the wrong backward really is wrong for a non-constant upstream gradient
    g = minigen.tensor([1.0, 0.0, -2.0, 0.5, 3.0], dtype=minigen.float64)
    (wrong,) = minigen.grad(Normalize()(x), x, grad_outputs=g)
    (right,) = minigen.grad(_normalize_composed(x), x, grad_outputs=g)
    assert np.abs(wrong.data - right.data).max() > 0.1


# --- Double backward ---------------------------------------------------------------------------------------------
class SquareOnce(Function):
    """y = x², whose backward uses a raw array: right first derivative, but invisible to a second backward."""

    def forward(self, x):
        return x * x

    def backward(self, g):
        x, = self.inputs
        return g * Tensor(2.0 * x.data)  # a constant: d/dx of this is lost


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = f64([0.5, -1.5, 2.0])
    assert gradcheck(lambda x: SquareOnce()(x), (x,))  # the first derivative is right
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\)"):
        gradgradcheck(lambda x: SquareOnce()(x), (x,))
    assert gradgradcheck(lambda x: x * x, (x,))


def test_gradgradcheck_checks_the_upstream_gradient_too():
    """A backward that detaches g is right once but cut off from v: caught through v's input slot."""
    class DetachesUpstream(Function):
        def forward(self, x):
            return x * 3.0

        def backward(self, g):
            return Tensor(g.data * 3.0)  # right values, but no graph back to g

    x = f64([1.0, 2.0])
    assert gradcheck(lambda x: DetachesUpstream()(x), (x,))
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2,\)\)"):  # input 1 is v
        gradgradcheck(lambda x: DetachesUpstream()(x), (x,))


# --- The directional mode for large inputs ------------------------------------------------------------------
def test_directional_mode_costs_two_extra_evaluations_and_catches_errors():
    rng = np.random.default_rng(0)
    w = f64(rng.standard_normal((40, 30)))
    x = f64(rng.standard_normal((8, 40)))
    calls = []

    def f(x, w):
        calls.append(1)
        return (x @ w).tanh()

    assert gradcheck(f, (x, w), directional=True)
    assert len(calls) == 4  # outputs, backward, f(x + h·r), f(x − h·r): whatever the size (1520 elements)
    with pytest.raises(GradcheckError, match="directional"):
        gradcheck(lambda x, w: OffByOneAt((3, 7))(x @ w), (x, w), directional=True)


# --- Other behaviour of the tool --------------------------------------------------------------------------------
def test_inputs_are_restored_exactly_and_non_float_outputs_are_ignored():
    x = f64([[0.1, 0.2], [0.3, 0.4]])
    before = x.data.copy()
    assert gradcheck(lambda x: (x.exp(), x.argmax(), x.sum(0)), (x,))
    np.testing.assert_array_equal(x.data, before)
    assert x.shape == (2, 2) and x.grad is None


def test_0d_inputs_keep_their_shape():
    x = f64(0.7)
    assert gradcheck(lambda x: x.exp(), (x,)) and gradgradcheck(lambda x: x.exp() * x, (x,))
    assert x.shape == ()


def test_inputs_that_do_not_require_grad_and_unused_inputs():
    x, c, unused = f64([1.0, 2.0]), f64([3.0, 4.0], requires_grad=False), f64([5.0])
    assert gradcheck(lambda x, c, u: x * c, (x, c, unused))
    assert gradgradcheck(lambda x, c, u: x * x * c, (x, c, unused))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_seed_passes_a_right_backward(seed):
    x = f64([0.2, -0.3, 0.9])
    assert gradcheck(lambda x: x.sigmoid() * x, (x,), seed=seed)
    assert gradgradcheck(lambda x: x.sigmoid() * x, (x,), seed=seed)


# --- The domain table keeps its promises --------------------------------------------------------------------------
@given(data=st.data())
def test_domains_keep_values_away_from_kinks_and_ties(data):
    kink = data.draw(hnp.arrays(np.float64, 20, elements=elements(DOMAINS["kink"])))
    assert (np.abs(kink) >= DOMAINS["kink"].gap).all() and (np.abs(kink) <= 2).all()
    grid = data.draw(hnp.arrays(np.float64, 10, elements=elements(DOMAINS["grid"])))
    off = data.draw(hnp.arrays(np.float64, 10, elements=elements(DOMAINS["offgrid"])))
    assert np.abs(grid[:, None] - off[None, :]).min() >= DOMAINS["grid"].step / 2 - 1e-12
    distinct = data.draw(hnp.arrays(np.float64, 12, elements=elements(DOMAINS["distinct"]),
                                    unique=DOMAINS["distinct"].unique))
    assert len(set(distinct.tolist())) == 12
    positive = data.draw(hnp.arrays(np.float64, 10, elements=elements(DOMAINS["positive"])))
    assert (positive > 0).all()
