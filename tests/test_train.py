"""Training runs: exact resume, never overwriting, stopping on NaN, Ctrl-C, clear errors, and the commands."""

import json
import os
import signal

import numpy as np
import pytest

import minigen
from minigen import cli, recipes
from minigen.serialization import load
from minigen.train import TrainingDiverged, train

pytestmark = pytest.mark.lesson07

TINY = dict(dataset="digits", batch_size=50, limit=150, progress=False, latent_dim=2, hidden=[16])


def params_of(run_dir):
    state = load(run_dir / "checkpoint_last.npz")
    return {k: v.numpy() for k, v in state["modules"]["model"].items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_run_directory_holds_config_metrics_checkpoints_and_pictures(tmp_path):
    run = train("vae", epochs=2, out=tmp_path / "run", **TINY)
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.jsonl", "checkpoint_last.npz", "checkpoint_best.npz", "samples_epoch_001.png",
            "samples_epoch_002.png", "losses.png", "reconstructions.png", "interpolation.png",
            "latent_map.png", "latent_scatter.png"} <= names
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "vae" and config["latent_dim"] == 2 and config["epochs"] == 2
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(np.isfinite(e["test_loss"]) for e in epochs)


def test_two_epochs_equal_one_plus_resume_plus_one(tmp_path):
    straight = train("vae", epochs=2, out=tmp_path / "straight", **TINY)
    half = train("vae", epochs=1, out=tmp_path / "half", **TINY)
    resumed = train("vae", epochs=2, resume=half, progress=False)
    assert resumed == half
    assert_same(params_of(straight), params_of(resumed))
    assert load(straight / "checkpoint_last.npz")["optimizers"]["optimizer"]["state"][0]["step"] == \
        load(resumed / "checkpoint_last.npz")["optimizers"]["optimizer"]["state"][0]["step"]


def _ctrl_c():
    raise KeyboardInterrupt


def _kill():
    os.kill(os.getpid(), signal.SIGTERM)          # what `kill PID` sends a background run (which ignores SIGINT)


@pytest.mark.parametrize("stop", [_ctrl_c, _kill], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_saves_and_resume_continues_exactly_mid_epoch(tmp_path, monkeypatch, stop):
    before = signal.getsignal(signal.SIGTERM)
    straight = train("ae", epochs=2, out=tmp_path / "straight", **TINY)
    original = recipes.AERecipe.train_step
    calls = {"n": 0}

    def stop_at_step_4(self, x, y, step):
        calls["n"] += 1
        if calls["n"] == 4:
            stop()                                # SIGTERM: Python raises KeyboardInterrupt as os.kill returns
        return original(self, x, y, step)

    monkeypatch.setattr(recipes.AERecipe, "train_step", stop_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        train("ae", epochs=2, out=tmp_path / "stopped", **TINY)
    assert signal.getsignal(signal.SIGTERM) == before                     # the handler is put back
    state = load(tmp_path / "stopped" / "checkpoint_last.npz")
    assert state["position"] == {"epoch": 1, "batch": 0, "step": 3}  # 3 batches per epoch: stopped at the 4th
    monkeypatch.setattr(recipes.AERecipe, "train_step", original)
    train("ae", resume=tmp_path / "stopped", progress=False)
    assert_same(params_of(straight), params_of(tmp_path / "stopped"))


def test_existing_run_directory_is_never_overwritten(tmp_path):
    first = train("ae", epochs=1, out=tmp_path / "run", **TINY)
    before = (first / "checkpoint_last.npz").read_bytes()
    second = train("ae", epochs=1, out=tmp_path / "run", seed=1, **TINY)
    assert second == tmp_path / "run-2"
    assert (first / "checkpoint_last.npz").read_bytes() == before


def test_nan_loss_stops_with_step_and_last_good_checkpoint(tmp_path, monkeypatch):
    original = recipes.AERecipe.train_step
    calls = {"n": 0}

    def nan_at_step_5(self, x, y, step):
        calls["n"] += 1
        out = original(self, x, y, step)
        return {"loss": float("nan")} if calls["n"] == 5 else out

    monkeypatch.setattr(recipes.AERecipe, "train_step", nan_at_step_5)
    with pytest.raises(TrainingDiverged, match=r"at step 5 \(epoch 2, batch 2\).*last good checkpoint is .*"
                                               r"checkpoint_last\.npz"):
        train("ae", epochs=3, out=tmp_path / "run", **TINY)
    assert load(tmp_path / "run" / "checkpoint_last.npz")["position"]["epoch"] == 1


def test_unknown_names_list_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown model 'gann'; choose one of: ae, .*vae"):
        train("gann", out=tmp_path / "x")
    with pytest.raises(ValueError, match=r"unknown dataset 'svhn'; choose one of: digits, mnist, fashion-mnist"):
        train("vae", dataset="svhn", out=tmp_path / "x")


def test_checkpoint_from_another_model_is_refused_naming_keys(tmp_path):
    ae_run = train("ae", epochs=1, out=tmp_path / "ae", **TINY)
    state = load(ae_run / "checkpoint_last.npz")["modules"]["model"]
    vae = minigen.models.VAE(latent_dim=2, hidden=(16,))
    with pytest.raises(RuntimeError, match=r"missing keys: .*mu\.weight.*unexpected keys: .*encoder\.2\.weight"):
        vae.load_state_dict(state)
    config = json.loads((ae_run / "config.json").read_text())
    config["model"] = "vae"
    (ae_run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="holds a 'ae' checkpoint, not 'vae'"):
        train("vae", resume=ae_run, progress=False)


def test_commands_train_sample_eval(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "vae", "--epochs", "1", "--limit", "100", "--batch-size", "50", "--latent-dim", "2",
                     "--hidden", "16", "--out", str(run), "--quiet"]) == 0
    assert cli.main(["sample", str(run), "--n", "16", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert cli.main(["eval", str(run), "--iw-samples", "10"]) == 0
    results = json.loads((run / "eval.json").read_text())
    assert results["test_nll_iw10"] <= results["test_loss"] + 1e-3  # the IW bound is tighter than the ELBO
    assert "test_loss" in capsys.readouterr().out


def test_time_limit_stops_mid_epoch_with_a_checkpoint_there(tmp_path):
    run = tmp_path / "run"
    assert cli.main(["train", "ae", "--epochs", "3", "--limit", "100", "--batch-size", "50", "--time-limit",
                     "0.00001", "--out", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["time_limit"] == 0.00001
    position = load(run / "checkpoint_last.npz")["position"]
    assert (position["epoch"], position["batch"], position["step"]) == (0, 1, 1)   # after the first batch


def test_resume_takes_a_new_time_limit(tmp_path):
    """A run stopped by its time limit continues when resumed with a larger one (a new total)."""
    run = tmp_path / "run"
    assert cli.main(["train", "ae", "--epochs", "4", "--limit", "100", "--batch-size", "50", "--time-limit",
                     "0.00001", "--out", str(run), "--quiet"]) == 0
    assert cli.main(["train", "--resume", str(run), "--quiet"]) == 0
    position = load(run / "checkpoint_last.npz")["position"]                # the limit is spent already: one
    assert (position["epoch"], position["step"]) == (1, 2)                 # step (to the epoch's end), then stop
    assert cli.main(["train", "--resume", str(run), "--time-limit", "60", "--quiet"]) == 0
    assert load(run / "checkpoint_last.npz")["position"]["epoch"] == 4     # the new limit lets it finish
    assert json.loads((run / "config.json").read_text())["time_limit"] == 60


def test_time_limit_mid_epoch_resumes_exactly(tmp_path):
    """Stopped by the time limit inside an epoch, then resumed: the same weights as one uninterrupted run."""
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["train", "ae", "--limit", "200", "--batch-size", "50", "--quiet"]
    assert cli.main(common + ["--epochs", "2", "--out", str(a)]) == 0
    assert cli.main(common + ["--epochs", "2", "--time-limit", "0.00001", "--out", str(b)]) == 0
    assert cli.main(["train", "--resume", str(b), "--time-limit", "60", "--quiet"]) == 0
    wa, wb = load(a / "checkpoint_last.npz")["modules"]["model"], load(b / "checkpoint_last.npz")["modules"]["model"]
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k].numpy(), wb[k].numpy()) for k in wa)


def test_resume_can_change_the_learning_rate_schedule(tmp_path):
    run = tmp_path / "run"
    assert cli.main(["train", "ae", "--epochs", "1", "--limit", "100", "--batch-size", "50", "--out", str(run),
                     "--quiet"]) == 0
    assert cli.main(["train", "--resume", str(run), "--epochs", "3", "--lr-decay", "0.5", "--quiet"]) == 0
    lr = load(run / "checkpoint_last.npz")["optimizers"]["optimizer"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(recipes.get("ae").defaults["lr"] * 0.25)     # decayed after epochs 2 and 3 only
    assert json.loads((run / "config.json").read_text())["lr_decay"] == 0.5
