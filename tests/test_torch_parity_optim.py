"""Adam / AdamW steps, every learning rate schedule (its sequence and its state_dict) and AveragedModel against
PyTorch. Skipped when PyTorch is not installed (the ``parity`` extra installs it):

    pip install -e '.[dev,parity]' && python -m pytest tests/test_torch_parity_optim.py
"""

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import minigen  # noqa: E402
from minigen import nn, optim  # noqa: E402
from minigen.optim import lr_scheduler, swa_utils  # noqa: E402

pytestmark = pytest.mark.lesson06
tsched, tswa = torch.optim.lr_scheduler, torch.optim.swa_utils


# --- Adam and AdamW ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", [{}, dict(weight_decay=0.3), dict(weight_decay=0.1, amsgrad=True),
                                    dict(weight_decay=0.05, maximize=True, betas=(0.5, 0.9), lr=0.1)])
def test_adam_and_adamw_steps_match(name, kwargs):
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((3, 4))
    ours = nn.Parameter(minigen.tensor(theta))
    theirs = torch.nn.Parameter(torch.tensor(theta))
    opt, topt = getattr(optim, name)([ours], **kwargs), getattr(torch.optim, name)([theirs], **kwargs)
    for _ in range(6):
        g = rng.standard_normal(theta.shape)
        ours.grad, theirs.grad = minigen.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        # PyTorch forms the moments with lerp and addcmul: the same numbers up to rounding
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_adamw_signature_matches():
    def params(cls):
        return [(p.name, p.default) for p in inspect.signature(cls.__init__).parameters.values()
                if p.name not in ("foreach", "capturable", "differentiable", "fused")]
    assert params(optim.AdamW) == params(torch.optim.AdamW)
    assert params(optim.Adam) == params(torch.optim.Adam)


# --- Learning rate schedules ------------------------------------------------------------------------------------
def _optimizers(lrs=(0.1, 0.03)):
    ours = optim.SGD([{"params": [nn.Parameter(minigen.zeros(1))], "lr": lr} for lr in lrs])
    theirs = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs])
    return ours, theirs


def _lambda(t):
    return 1 / (1 + 0.3 * t)


SCHEDULERS = {  # name: make(module, optimizer), the same call on both sides
    "LambdaLR": lambda m, o: m.LambdaLR(o, _lambda),
    "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.7),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.5),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "CosineAnnealingLR eta_min 0": lambda m, o: m.CosineAnnealingLR(o, T_max=10),
    "LinearLR": lambda m, o: m.LinearLR(o),
    "LinearLR decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=12),
    "SequentialLR warm-up, cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.01, total_iters=5), m.CosineAnnealingLR(o, T_max=20)], milestones=[5]),
    "SequentialLR three": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 3), m.LinearLR(o, 0.5, total_iters=4)], milestones=[6, 15]),
}


def _comparable(state):
    """A state dict with the nested schedulers' states compared the same way."""
    out = dict(state)
    if "_schedulers" in out:
        out["_schedulers"] = [_comparable(s) for s in out["_schedulers"]]
    return out


@pytest.mark.parametrize("name", SCHEDULERS)
def test_schedule_and_state_dict_match_over_30_steps(name):
    """The learning rates of both groups at every step are PyTorch's to the last bit (the same float operations),
    and so is the whole state dict."""
    opt, topt = _optimizers()
    ours, theirs = SCHEDULERS[name](lr_scheduler, opt), SCHEDULERS[name](tsched, topt)
    for step in range(30):
        assert ours.get_last_lr() == theirs.get_last_lr(), f"step {step}"
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
        assert ours.last_epoch == theirs.last_epoch
        assert _comparable(ours.state_dict()) == _comparable(theirs.state_dict()), f"step {step}"
        opt.step()
        topt.step()
        ours.step()
        theirs.step()
    assert [g["initial_lr"] for g in opt.param_groups] == [g["initial_lr"] for g in topt.param_groups]


@pytest.mark.parametrize("name", SCHEDULERS)
def test_resume_mid_schedule_matches(name):
    """PyTorch's resume (make the optimizer and the scheduler, load both state dicts) after 11 steps, continued
    for 19 more, on both sides: the same sequence as 30 straight steps."""
    opt, topt = _optimizers()
    ours, theirs = SCHEDULERS[name](lr_scheduler, opt), SCHEDULERS[name](tsched, topt)
    straight = []
    for _ in range(30):
        straight.append(theirs.get_last_lr())
        topt.step()
        theirs.step()
    for _ in range(11):
        opt.step()
        ours.step()
    opt2, _ = _optimizers()
    again = SCHEDULERS[name](lr_scheduler, opt2)
    opt2.load_state_dict(opt.state_dict())
    again.load_state_dict(ours.state_dict())
    resumed = []
    for _ in range(19):
        resumed.append(again.get_last_lr())
        opt2.step()
        again.step()
    assert resumed == straight[11:]


@pytest.mark.parametrize("name", ["LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                  "LinearLR", "SequentialLR"])
def test_scheduler_signatures_match(name):
    def params(cls):
        return [(p.name, p.default) for p in inspect.signature(cls.__init__).parameters.values()]
    assert params(getattr(lr_scheduler, name)) == params(getattr(tsched, name))


# --- AveragedModel ----------------------------------------------------------------------------------------------
def _pair_of_models(seed=0):
    """The same small model (Linear, BatchNorm1d, Linear) in minigen and in torch, float64, equal weights."""
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p, tp in zip(ours.parameters(), theirs.parameters()):
            value = rng.standard_normal(p.shape)
            p.data[...] = value
            tp.copy_(torch.tensor(value))
    return ours, theirs


def _training_step(ours, theirs, rng):
    """Move the weights (a random step) and the batch-norm statistics (a forward in training mode)."""
    with torch.no_grad():
        for p, tp in zip(ours.parameters(), theirs.parameters()):
            step = 0.1 * rng.standard_normal(p.shape)
            p.data += step
            tp += torch.tensor(step)
    x = rng.standard_normal((5, 3))
    ours(minigen.tensor(x))
    theirs(torch.tensor(x))


AVERAGES = {  # name: (keyword arguments of AveragedModel on the side of module m)
    "ema multi_avg_fn": lambda m: dict(multi_avg_fn=m.get_ema_multi_avg_fn(0.9)),
    "ema avg_fn": lambda m: dict(avg_fn=m.get_ema_avg_fn(0.8)),
    "swa (default)": lambda m: {},
}


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("name", AVERAGES)
def test_averaged_model_matches_after_k_updates(name, use_buffers):
    ours, theirs = _pair_of_models()
    avg = swa_utils.AveragedModel(ours, use_buffers=use_buffers, **AVERAGES[name](swa_utils))
    tavg = tswa.AveragedModel(theirs, use_buffers=use_buffers, **AVERAGES[name](tswa))
    rng = np.random.default_rng(1)
    for k in range(6):
        _training_step(ours, theirs, rng)
        avg.update_parameters(ours)
        tavg.update_parameters(theirs)
        state, tstate = avg.state_dict(), tavg.state_dict()
        assert list(state) == list(tstate)
        for key in tstate:
            np.testing.assert_allclose(state[key].numpy(), tstate[key].numpy(), rtol=1e-12, atol=1e-15,
                                       err_msg=f"{key} after update {k + 1}")
            assert state[key].dtype == np.dtype(str(tstate[key].dtype).replace("torch.", ""))
    x = rng.standard_normal((4, 3))
    avg.eval(), tavg.eval()
    np.testing.assert_allclose(avg(minigen.tensor(x)).detach().numpy(), tavg(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)


def test_averaged_model_signature_matches():
    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]
    assert params(swa_utils.AveragedModel.__init__) == params(tswa.AveragedModel.__init__)
    for name in ("get_ema_multi_avg_fn", "get_ema_avg_fn", "get_swa_multi_avg_fn", "get_swa_avg_fn"):
        assert params(getattr(swa_utils, name)) == params(getattr(tswa, name)), name
