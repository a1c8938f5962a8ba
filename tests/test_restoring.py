"""``minigen restore`` and ``minigen restore-table`` end to end on tiny runs: the files and their formats, the
guarantees that survive the command (known pixels kept, the same seed gives the same restorations), the baselines
and the task-specific regression network, and clear errors for bad input."""

import json

import numpy as np
import pytest

from minigen import cli
from minigen.models.restoration import make_mask

TINY = ["--dataset", "digits", "--limit", "64", "--batch-size", "32", "--epochs", "1", "--channels", "8,8,8",
        "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A DDPM, a flow and a ×2 regression network: one epoch of a tiny U-Net on 64 digits each."""
    root = tmp_path_factory.mktemp("restore_runs")
    for model, extra in (("ddpm", []), ("flow", []), ("regression", ["--task", "upscale", "--scale", "2"])):
        assert cli.main(["train", model, *TINY, *extra, "--out", str(root / model)]) == 0
    return root


def restore(runs, tmp_path, run, *args, name="out"):
    out = tmp_path / name
    assert cli.main(["restore", str(runs / run), *args, "--test-images", "3", "--steps", "3", "--out",
                     str(out)]) == 0
    return out, json.loads((out / "restore.json").read_text())


@pytest.mark.parametrize("run", ["ddpm", "flow"])
@pytest.mark.parametrize("task", [["inpaint", "--mask", "center"], ["inpaint", "--method", "repaint", "--jump", "1",
                                                                    "--repeats", "2"],
                                  ["inpaint", "--method", "replace"], ["inpaint", "--method", "ddnm+", "--eta", "0"],
                                  ["upscale", "--scale", "4"], ["upscale", "--method", "subgrid"],
                                  ["upscale", "--method", "projection"],
                                  ["upscale", "--method", "ddnm+", "--jump", "1", "--repeats", "2"],
                                  ["denoise", "--sigma", "0.3"]])
def test_every_restorer_writes_its_files(runs, tmp_path, run, task):
    out, r = restore(runs, tmp_path, run, "--task", *task, "--samples", "2")
    names = {p.name for p in out.iterdir()}
    assert {"degraded.npy", "restored.npy", "restored_all.npy", "labels.npy", "restore.json", "restore.png"} <= names
    x, xs = np.load(out / "restored.npy"), np.load(out / "restored_all.npy")
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert xs.shape == (3, 2, 1, 28, 28) and np.array_equal(xs[:, 0], x)
    assert r["task"] == task[0] and r["n"] == 3 and np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1
    side = (7 if "4" in task else 14) if task[0] == "upscale" else 28
    assert np.load(out / "degraded.npy").shape == (3, 1, side, side)
    if "--method" not in task and task[0] != "denoise":                     # the default: DDNM, η = 1
        assert r["method"] == "ddnm" and r["eta"] == 1.0
    if "ddnm+" in task:
        assert r["eta"] == (0.0 if "--eta" in task else 1.0) and {"jump", "repeats"} <= set(r)


def test_inpainting_keeps_the_known_pixels_and_a_seed_repeats(runs, tmp_path):
    a, _ = restore(runs, tmp_path, "flow", "--task", "inpaint", "--mask", "bottom", name="a")
    b, _ = restore(runs, tmp_path, "flow", "--task", "inpaint", "--mask", "bottom", name="b")
    c, _ = restore(runs, tmp_path, "flow", "--task", "inpaint", "--mask", "bottom", "--seed", "1", name="c")
    x, y = np.load(a / "restored.npy"), np.load(a / "degraded.npy")
    np.testing.assert_allclose(x[..., :14, :], y[..., :14, :], atol=1e-6)       # the known upper half
    assert np.array_equal(x, np.load(b / "restored.npy"))
    assert not np.array_equal(x[..., 14:, :], np.load(c / "restored.npy")[..., 14:, :])


@pytest.mark.parametrize("task,method", [("inpaint", "mean"), ("upscale", "nearest"), ("upscale", "bilinear"),
                                         ("upscale", "bicubic"), ("denoise", "noisy"), ("denoise", "blur")])
def test_baselines_run_through_the_command(runs, tmp_path, task, method):
    out, r = restore(runs, tmp_path, "ddpm", "--task", task, "--method", method, "--samples", "3")
    assert r["method"] == method and r["samples"] == 1                     # deterministic: one restoration each
    assert np.load(out / "restored.npy").shape == (3, 1, 28, 28)
    if method == "blur":
        assert r["blur_width"] > 0


def test_the_regression_network_restores_its_own_setting_only(runs, tmp_path, capsys):
    out, r = restore(runs, tmp_path, "regression", "--task", "upscale", "--scale", "2")
    assert r["method"] == "regression" and np.load(out / "restored.npy").shape == (3, 1, 28, 28)
    with pytest.raises(SystemExit, match="trained for .*'scale': 2.*not .*'scale': 4"):
        cli.main(["restore", str(runs / "regression"), "--task", "upscale", "--scale", "4", "--test-images", "2",
                  "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="regression network; it has no method 'projection'"):
        cli.main(["restore", str(runs / "regression"), "--task", "upscale", "--method", "projection",
                  "--test-images", "2", "--out", str(tmp_path / "x")])


@pytest.mark.parametrize("args,message", [
    (["--task", "upscale", "--scale", "5"], "--scale must divide 28, got 5"),
    (["--task", "denoise", "--sigma", "-0.1"], "--sigma must be ≥ 0, got -0.1"),
    (["--task", "inpaint", "--mask", "diagonal"], "unknown mask 'diagonal'"),
    (["--task", "inpaint", "--mask", "random:1.5"], "0 < P < 1"),
    (["--task", "inpaint", "--method", "projection"], "inpaint has no method 'projection'"),
])
def test_bad_options_are_named(runs, tmp_path, args, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["restore", str(runs / "ddpm"), *args, "--test-images", "2", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()                                    # nothing written on a refusal


def test_a_non_diffusion_run_and_a_wrong_input_are_refused(runs, tmp_path):
    gan = tmp_path / "gan"
    assert cli.main(["train", "gan", "--dataset", "digits", "--limit", "64", "--epochs", "1", "--quiet", "--out",
                     str(gan)]) == 0
    with pytest.raises(SystemExit, match="needs a ddpm or flow run.*'gan' run"):
        cli.main(["restore", str(gan), "--task", "inpaint", "--test-images", "2", "--out", str(tmp_path / "x")])
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((2, 1, 14, 14), np.float32))
    with pytest.raises(SystemExit, match="needs 28×28 images, .*small.npy holds 14×14"):
        cli.main(["restore", str(runs / "ddpm"), "--task", "denoise", "--input", str(small), "--out",
                  str(tmp_path / "x")])
    out = tmp_path / "up"
    assert cli.main(["restore", str(runs / "ddpm"), "--task", "upscale", "--input", str(small), "--steps", "2",
                     "--out", str(out)]) == 0                                # 14×14 is right for ×2
    r = json.loads((out / "restore.json").read_text())
    assert "psnr" not in r and not (out / "labels.npy").exists()            # no truth to measure against


def test_restore_table_collects_the_measurements(runs, tmp_path, capsys):
    dirs = [restore(runs, tmp_path, "ddpm", "--task", "upscale", "--method", m, name=m)[0]
            for m in ("nearest", "bicubic")]
    assert cli.main(["restore-table", *map(str, dirs), "--out", str(tmp_path / "table")]) == 0
    table = (tmp_path / "table" / "restore-table.md").read_text().splitlines()
    assert len(table) == 4 and table[2].startswith("| upscale ×2 | bicubic | 3 |")
    assert table[2].count("**") + table[3].count("**") == 4                 # the better PSNR and SSIM, bold once
    with pytest.raises(SystemExit, match="holds no restore.json"):
        cli.main(["restore-table", str(tmp_path), "--out", str(tmp_path / "t2")])


def test_make_mask_shapes():
    rng = np.random.default_rng(0)
    assert make_mask("bottom", 2, rng)[0, 0, 14:].sum() == 0 and make_mask("bottom", 2, rng)[0, 0, :14].min() == 1
    m = make_mask("random:0.8", 50, rng)
    assert m.shape == (50, 1, 28, 28) and abs(1 - m.mean() - 0.8) < 0.02
    assert make_mask("center", 1, rng)[0, 0, 7:21, 7:21].sum() == 0 and make_mask("center", 1, rng).sum() == 784 - 196


def test_regression_resume_is_exact(tmp_path):
    from minigen.serialization import load
    from minigen.train import train
    tiny = dict(dataset="digits", batch_size=32, limit=96, progress=False, channels=[8, 8, 8], task="inpaint",
                mask="random:0.5")                                           # 3 batches, a fresh mask each
    straight = train("regression", epochs=2, out=tmp_path / "straight", **tiny)
    half = train("regression", epochs=1, out=tmp_path / "half", **tiny)
    train("regression", epochs=2, resume=half, progress=False)
    a, b = (load(r / "checkpoint_last.npz")["modules"]["model"] for r in (straight, half))
    assert a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k].numpy()), np.asarray(b[k].numpy()))
                                        for k in a)


@pytest.mark.parametrize("args,message", [(["--task", "upscale", "--scale", "3"], "--scale must divide 28, got 3"),
                                          (["--task", "denoise", "--sigma", "-1"], "--sigma must be ≥ 0"),
                                          (["--task", "inpaint", "--mask", "top"], "unknown mask 'top'")])
def test_regression_options_are_checked(tmp_path, args, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["train", "regression", *TINY, *args, "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


def test_regression_sees_the_degradation_it_undoes():
    from minigen.recipes.regression import RegressionRecipe
    base = dict(RegressionRecipe.defaults, channels=[8, 8, 8], seed=0)
    clean = np.random.default_rng(0).uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32)
    rng = np.random.default_rng(1)
    up = RegressionRecipe(dict(base, task="upscale", scale=4), "cpu").observe(clean, rng)
    block = clean.reshape(2, 1, 7, 4, 7, 4).mean(axis=(3, 5))
    np.testing.assert_allclose(up, np.repeat(np.repeat(block, 4, axis=2), 4, axis=3), atol=1e-6)
    same = RegressionRecipe(dict(base, task="denoise", sigma=0.0), "cpu").observe(clean, rng)
    np.testing.assert_array_equal(same, clean)
    holes = RegressionRecipe(dict(base, task="inpaint", mask="bottom"), "cpu").observe(clean, rng)
    assert (holes[..., 14:, :] == 0).all() and np.array_equal(holes[..., :14, :], clean[..., :14, :])


def test_restore_table_draws_a_panel_per_setting(tmp_path, monkeypatch):
    """Measured rows (FID from 500 images) of two masks → one inpainting picture with a panel per mask, each point
    labelled by its method (and η for DDNM)."""
    from minigen import viz
    from minigen.restoring import summarize
    dirs = []
    for i, (mask, method, eta) in enumerate([("bottom", "mean", None), ("bottom", "ddnm", 1.0),
                                             ("center", "ddnm+", 0.0)]):
        d = tmp_path / f"r{i}"
        d.mkdir()
        r = {"run": "runs/flow", "task": "inpaint", "method": method, "steps": 20, "n": 1000, "mask": mask,
             "psnr": 14.0 + i, "ssim": 0.5, "accuracy": 0.7, "uncertain_share": 0.1, "fid": 30.0 + i,
             **({"eta": eta} if eta is not None else {})}
        (d / "restore.json").write_text(json.dumps(r))
        dirs.append(d)
    drawn, real = {}, viz.perception_distortion_panels
    monkeypatch.setattr(viz, "perception_distortion_panels",
                        lambda panels, path, title=None: drawn.update(panels) or real(panels, path, title))
    summarize(dirs, tmp_path / "table")
    assert drawn == {"inpaint bottom": [("mean", 14.0, 30.0), ("ddnm η=1", 15.0, 31.0)],
                     "inpaint center": [("ddnm+ η=0", 16.0, 32.0)]}
    assert (tmp_path / "table" / "perception-distortion-inpaint.png").stat().st_size > 10_000
    table = (tmp_path / "table" / "restore-table.md").read_text()
    assert "| inpaint bottom | ddnm (flow, 20 steps, η = 1) | 1,000 |" in table
