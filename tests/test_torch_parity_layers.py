"""linear, batch_norm (train and eval, running statistics), embedding and dropout against PyTorch (float64):
forward values, first and second derivatives. Skipped when PyTorch is not installed (the ``parity`` extra installs
it):

    pip install -e '.[dev,parity]' && python -m pytest tests/test_torch_parity_layers.py
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import minigen  # noqa: E402
from minigen import nn  # noqa: E402
from minigen.nn import functional as F  # noqa: E402
from test_torch_parity_conv import assert_parity  # noqa: E402

TF = torch.nn.functional
pytestmark = pytest.mark.lesson06


def lib_F(lib):
    return TF if lib is torch else F


@given(batch=st.sampled_from([(), (1,), (3,), (2, 3)]), n_in=st.integers(1, 4), n_out=st.integers(1, 3),
       bias=st.booleans(), seed=st.integers(0, 100))
def test_linear_parity(batch, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(batch + (n_in,)), rng.standard_normal((n_out, n_in))]
    if bias:
        arrays.append(rng.standard_normal(n_out))
    assert_parity(lambda lib, x, w, *b: lib_F(lib).linear(x, w, *b), arrays)


@given(n=st.integers(2, 4), c=st.integers(1, 3), spatial=st.sampled_from([(), (2,), (2, 3)]),
       training=st.booleans(), affine=st.booleans(), momentum=st.sampled_from([0.1, 0.5]),
       seed=st.integers(0, 100))
def test_batch_norm_parity_including_running_statistics(n, c, spatial, training, affine, momentum, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c) + spatial)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    arrays = [x] + ([rng.standard_normal(c), rng.standard_normal(c)] if affine else [])
    stats = {}

    def fn(lib, x, *wb):
        mean = (torch.tensor if lib is torch else minigen.tensor)(rm.copy())
        var = (torch.tensor if lib is torch else minigen.tensor)(rv.copy())
        if lib is minigen:
            mean, var = mean.to(dtype=minigen.float64), var.to(dtype=minigen.float64)
        y = lib_F(lib).batch_norm(x, mean, var, *(wb or (None, None)), training=training, momentum=momentum,
                                  eps=1e-5)
        stats[lib.__name__] = (np.asarray(mean.detach().numpy() if lib is torch else mean.numpy()),
                               np.asarray(var.detach().numpy() if lib is torch else var.numpy()))
        return y

    assert_parity(fn, arrays, rtol=1e-8, atol=1e-9)
    for ours, theirs in zip(stats["minigen"], stats["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_batchnorm_module_parity_over_steps():
    minigen.manual_seed(0)
    rng = np.random.default_rng(0)
    ours, theirs = nn.BatchNorm2d(3, momentum=None), torch.nn.BatchNorm2d(3, momentum=None).double()
    ours.to(dtype=minigen.float64)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 2))
        a, b = ours(minigen.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-12)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 2, 2))
    np.testing.assert_allclose(ours(minigen.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@given(rows=st.integers(2, 6), dim=st.integers(1, 3), shape=st.sampled_from([(3,), (2, 2), (4,)]),
       seed=st.integers(0, 100))
def test_embedding_parity(rows, dim, shape, seed):
    rng = np.random.default_rng(seed)
    index = rng.integers(0, rows, shape)  # repeated indices included: gradients must add up

    def fn(lib, w):
        i = torch.tensor(index) if lib is torch else minigen.tensor(index)
        return lib_F(lib).embedding(i, w)
    assert_parity(fn, [rng.standard_normal((rows, dim))])


def test_dropout_matches_pytorch_semantics():
    x = np.ones((400, 50))
    for p in (0.2, 0.5):
        ours = F.dropout(minigen.tensor(x), p, training=True).numpy()
        theirs = TF.dropout(torch.tensor(x), p, training=True).numpy()
        for y in (ours, theirs):  # survivors scaled by 1/(1 − p); about p of them dropped
            assert set(np.unique(y).round(6)) == {0.0, round(1 / (1 - p), 6)}
            assert abs((y == 0).mean() - p) < 0.02
    assert np.array_equal(F.dropout(minigen.tensor(x), 0.5, training=False).numpy(), x)


def test_default_initialisation_matches_pytorch_distribution():
    minigen.manual_seed(0)
    torch.manual_seed(0)
    for make, fan_in in ((lambda m: m.Linear(300, 200), 300), (lambda m: m.Conv2d(16, 32, 3), 16 * 9),
                         (lambda m: m.ConvTranspose2d(16, 32, 3), 32 * 9)):
        ours, theirs = make(nn), make(torch.nn)
        bound = 1 / np.sqrt(fan_in)  # PyTorch's U(−1/√fan_in, 1/√fan_in) for weights and biases alike
        for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
            a, b = a.detach().numpy(), b.detach().numpy()
            assert a.shape == b.shape, name
            for values in (a, b):
                assert np.abs(values).max() <= bound * (1 + 1e-6), name
            if a.size >= 1000:  # enough samples to compare spreads: U(−b, b) has std b/√3
                assert abs(a.std() - b.std()) < 0.05 * bound, name
                assert abs(a.std() - bound / np.sqrt(3)) < 0.05 * bound, name
