"""AveragedModel and its averaging functions (minigen.optim.swa_utils) by hand: the first update copies, the EMA and
the equal-weight mean, buffers copied or averaged, the count, forward, state_dict (PyTorch parity:
tests/test_torch_parity_optim.py)."""

import numpy as np
import pytest

import minigen
from minigen import nn
from minigen.optim.swa_utils import AveragedModel, get_ema_avg_fn, get_ema_multi_avg_fn

pytestmark = pytest.mark.lesson06


def set_weights(model, rng):
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.shape).astype(p.dtype)
    return [p.detach().numpy().copy() for p in model.parameters()]


def averaged_weights(avg):
    return [p.detach().numpy() for p in avg.module.parameters()]


def test_first_update_copies_then_the_ema_is_beta_average_plus_one_minus_beta_weights():
    model, rng, beta = nn.Linear(3, 2), np.random.default_rng(0), np.float32(0.75)
    avg = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.75))
    assert avg.module is not model and avg.n_averaged.item() == 0 and avg.n_averaged.dtype == np.int64
    first = set_weights(model, rng)
    avg.update_parameters(model)
    for a, w in zip(averaged_weights(avg), first):
        np.testing.assert_array_equal(a, w)                   # a copy, not 0.75 · (the initial weights) + …
    expected = first
    for _ in range(3):
        current = set_weights(model, rng)
        avg.update_parameters(model)
        expected = [e * beta + (1 - 0.75) * c for e, c in zip(expected, current)]  # float32, this very order
        for a, e in zip(averaged_weights(avg), expected):
            np.testing.assert_array_equal(a, e)
    assert avg.n_averaged.item() == 4
    assert [p.detach().numpy().tolist() for p in model.parameters()] == [c.tolist() for c in current]  # untouched


def test_ema_avg_fn_one_tensor_at_a_time_gives_the_same_average():
    model, rng = nn.Linear(4, 3).double(), np.random.default_rng(1)
    multi = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    single = AveragedModel(model, avg_fn=get_ema_avg_fn(0.9))
    for _ in range(4):
        set_weights(model, rng)
        multi.update_parameters(model)
        single.update_parameters(model)
    for a, b in zip(averaged_weights(multi), averaged_weights(single)):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_default_is_the_plain_mean_of_every_update():
    model, rng = nn.Linear(2, 2).double(), np.random.default_rng(2)
    avg = AveragedModel(model)
    seen = []
    for _ in range(5):
        seen.append(set_weights(model, rng))
        avg.update_parameters(model)
    for i, a in enumerate(averaged_weights(avg)):
        np.testing.assert_allclose(a, np.mean([s[i] for s in seen], axis=0), rtol=1e-13)


@pytest.mark.parametrize("use_buffers", [False, True])
def test_buffers_are_copied_or_averaged(use_buffers):
    """use_buffers=False: the average runs with the model's current running statistics (copied at each update);
    True: they are averaged like the weights (the integer count too, truncated)."""
    model = nn.BatchNorm1d(2).double()
    avg = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.5), use_buffers=use_buffers)
    means = []
    for value in (2.0, 6.0):
        model.running_mean.data[...] = value
        model.num_batches_tracked.data[...] = int(value)
        means.append(value)
        avg.update_parameters(model)
    expected_mean = 0.5 * 2.0 + 0.5 * 6.0 if use_buffers else 6.0
    np.testing.assert_array_equal(avg.module.running_mean.numpy(), [expected_mean] * 2)
    assert avg.module.num_batches_tracked.item() == (4 if use_buffers else 6)
    assert avg.module.num_batches_tracked.dtype == np.int64


def test_forward_runs_the_averaged_copy_and_the_state_dict_resumes_the_average(tmp_path):
    model, rng = nn.Linear(3, 1).double(), np.random.default_rng(3)
    avg = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.6))
    for _ in range(2):
        set_weights(model, rng)
        avg.update_parameters(model)
    x = minigen.tensor(rng.standard_normal((4, 3)))
    np.testing.assert_array_equal(avg(x).detach().numpy(), avg.module(x).detach().numpy())
    np.testing.assert_array_equal(avg(x=x).detach().numpy(), avg.module(x).detach().numpy())  # keywords too
    assert list(avg.state_dict()) == ["n_averaged", "module.weight", "module.bias"]
    minigen.save(avg.state_dict(), tmp_path / "avg.npz")
    again = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.6))
    again.load_state_dict(minigen.load(tmp_path / "avg.npz"))
    set_weights(model, rng)
    avg.update_parameters(model)
    again.update_parameters(model)                   # n_averaged = 2 came back: averages, does not copy
    for a, b in zip(averaged_weights(avg), averaged_weights(again)):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\]"):
        get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value -0.1"):
        get_ema_avg_fn(-0.1)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        AveragedModel(nn.Linear(1, 1), avg_fn=get_ema_avg_fn(), multi_avg_fn=get_ema_multi_avg_fn())
