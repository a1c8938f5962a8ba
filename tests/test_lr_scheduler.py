"""Learning rate schedules (minigen.optim.lr_scheduler) against their closed forms computed by hand, and an exact
resume through state_dict (PyTorch parity: tests/test_torch_parity_optim.py)."""

import math

import numpy as np
import pytest

import minigen
from minigen import nn, optim
from minigen.optim import lr_scheduler

pytestmark = pytest.mark.lesson06


def make_optimizer(lrs=(1.0,)):
    """SGD over one parameter per group, group i with learning rate lrs[i]."""
    return optim.SGD([{"params": [nn.Parameter(minigen.zeros(2))], "lr": lr} for lr in lrs])


def run(scheduler, steps):
    """The learning rates of group 0 at steps 0, 1, …, steps − 1 (optimizer.step() before scheduler.step())."""
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    return lrs


SCHEDULES = {  # name: (make the scheduler on an optimizer, lr_t of a group that starts at lr, by hand)
    "LambdaLR": (lambda o: lr_scheduler.LambdaLR(o, lambda t: 1 / (t + 1)), lambda t, lr: lr / (t + 1)),
    "StepLR": (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), lambda t, lr: lr * 0.5 ** (t // 3)),
    "MultiStepLR": (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.1),
                    lambda t, lr: lr * 0.1 ** ((t >= 2) + 2 * (t >= 5))),
    "ExponentialLR": (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), lambda t, lr: lr * 0.9 ** t),
    "CosineAnnealingLR": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.1),   # down 4, up 4, …
                          lambda t, lr: 0.1 + (lr - 0.1) * (1 + math.cos(math.pi * t / 4)) / 2),
    "LinearLR": (lambda o: lr_scheduler.LinearLR(o), lambda t, lr: lr * (1 / 3 + (2 / 3) * min(t, 5) / 5)),
    "LinearLR down": (lambda o: lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.25, total_iters=3),
                      lambda t, lr: lr * (1 - 0.75 * min(t, 3) / 3)),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_follows_its_closed_form(name):
    make, by_hand = SCHEDULES[name]
    scheduler = make(make_optimizer([1.0, 0.5]))
    for t in range(20):
        assert scheduler.last_epoch == t
        expected = [by_hand(t, 1.0), by_hand(t, 0.5)]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12, err_msg=f"step {t}")
        assert [g["lr"] for g in scheduler.optimizer.param_groups] == scheduler.get_last_lr()
        scheduler.optimizer.step()
        scheduler.step()


def test_sequential_switches_at_the_milestone_and_restarts_the_next_schedule():
    """Warm up linearly over 3 steps (0.1 → 1), then a cosine over 4 steps that starts at its own step 0."""
    opt = make_optimizer()
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    sequence = lr_scheduler.SequentialLR(opt, [warmup, cosine], milestones=[3])
    expected = [0.1, 0.4, 0.7] + [(1 + math.cos(math.pi * k / 4)) / 2 for k in range(5)]
    np.testing.assert_allclose(run(sequence, 8), expected, rtol=1e-12, atol=1e-15)


def test_initial_lr_and_base_lrs_are_recorded_and_kept():
    opt = make_optimizer([0.3, 0.2])
    scheduler = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == scheduler.base_lrs == [0.3, 0.2]
    run(scheduler, 3)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.3, 0.2]
    assert opt.state_dict()["param_groups"][0]["initial_lr"] == 0.3      # saved with the optimizer
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_optimizer(), step_size=1, last_epoch=4)   # resuming needs the optimizer's state


def test_state_dict_leaves_out_the_optimizer_and_the_functions():
    class Halve:                                       # a callable object: its attributes are saved
        def __init__(self):
            self.rate = 0.5

        def __call__(self, t):
            return self.rate ** t

    opt = make_optimizer([1.0, 1.0])
    scheduler = lr_scheduler.LambdaLR(opt, [lambda t: 1.0, Halve()])
    state = scheduler.state_dict()
    assert "optimizer" not in state and state["lr_lambdas"] == [None, {"rate": 0.5}]
    assert state["last_epoch"] == 0 and state["base_lrs"] == [1.0, 1.0]
    other = Halve()
    other.rate = 0.25
    again = lr_scheduler.LambdaLR(make_optimizer([1.0, 1.0]), [lambda t: 1.0, other])
    again.load_state_dict(state)
    assert other.rate == 0.5 and "lr_lambdas" in state      # loading leaves the dict it was given whole
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda t: 1.0])


def test_get_lr_outside_step_warns_as_pytorch():
    scheduler = lr_scheduler.StepLR(make_optimizer(), step_size=2)
    with pytest.warns(UserWarning, match="get_last_lr"):
        scheduler.get_lr()


def _sequential(opt):
    return lr_scheduler.SequentialLR(opt, [lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=4),
                                           lr_scheduler.MultiStepLR(opt, [3, 6], gamma=0.5),
                                           lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)],
                                     milestones=[5, 12])


RESUMABLE = {name: make for name, (make, _) in SCHEDULES.items() if name != "LambdaLR"}
RESUMABLE["LambdaLR"] = lambda o: lr_scheduler.LambdaLR(o, lambda t: 0.97 ** t)
RESUMABLE["SequentialLR"] = _sequential


@pytest.mark.parametrize("name", RESUMABLE)
def test_resume_mid_schedule_through_save_and_load_is_exact(name, tmp_path):
    """30 steps straight, against 13 steps, minigen.save and minigen.load of both state dicts into a fresh
    optimizer and scheduler (made as at the start), and 17 more: the same learning rates to the last bit."""
    make = RESUMABLE[name]
    straight = run(make(make_optimizer([0.1, 0.05])), 30)
    opt = make_optimizer([0.1, 0.05])
    first = make(opt)
    head = run(first, 13)
    minigen.save({"optimizer": opt.state_dict(), "scheduler": first.state_dict()}, tmp_path / "ck.npz")
    state = minigen.load(tmp_path / "ck.npz")
    opt2 = make_optimizer([0.1, 0.05])
    second = make(opt2)
    opt2.load_state_dict(state["optimizer"])
    second.load_state_dict(state["scheduler"])
    assert second.last_epoch == first.last_epoch
    assert head + run(second, 17) == straight
