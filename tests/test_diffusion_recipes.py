"""The ``ddpm`` and ``flow`` recipes and their commands: training runs, exact resume, ``minigen sample`` (PNG and
.npy), ``minigen eval`` with network evaluations (NFE), the pictures, and clear errors for bad sampling options."""

import json

import numpy as np
import pytest

from minigen import cli, data, evaluation
from minigen.evaluation import requested_classes
from minigen.serialization import load
from minigen.train import open_run, train

TINY = ["--dataset", "digits", "--limit", "64", "--batch-size", "32", "--epochs", "1", "--channels", "8,8,8",
        "--steps", "4", "--quiet"]


def _array(v):
    """A checkpoint entry (a Tensor or an array) as a NumPy array."""
    return v.numpy() if hasattr(v, "numpy") else np.asarray(v)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A class-conditional DDPM and an unconditional flow, one epoch of a tiny U-Net on 64 digits each."""
    root = tmp_path_factory.mktemp("diffusion_runs")
    assert cli.main(["train", "ddpm", "--conditional", *TINY, "--out", str(root / "ddpm")]) == 0
    assert cli.main(["train", "flow", *TINY, "--out", str(root / "flow")]) == 0
    return root


def test_runs_write_their_pictures(runs):
    for name, extra in (("ddpm", {"guidance.png"}), ("flow", set())):
        names = {p.name for p in (runs / name).iterdir()}
        assert {"config.json", "checkpoint_last.npz", "samples_epoch_001.png", "samples_evolution.gif",
                "reverse_process.png", "reverse_process.gif", "loss_by_time.png"} | extra <= names, name
        epoch = [json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()][-1]
        assert np.isfinite(epoch["train_loss"]) and np.isfinite(epoch["test_loss"])
        state = load(runs / name / "checkpoint_last.npz")
        assert {"model", "model_ema"} <= state["modules"].keys()             # samples come from the EMA


@pytest.mark.parametrize("model", ["ddpm", "flow"])
def test_resume_is_exact(model, tmp_path):
    tiny = dict(dataset="ring", batch_size=64, limit=192, progress=False, conditional=True)   # 3 batches
    straight = train(model, epochs=2, out=tmp_path / "straight", **tiny)
    half = train(model, epochs=1, out=tmp_path / "half", **tiny)
    train(model, epochs=2, resume=half, progress=False)
    for part in ("model", "model_ema"):
        a, b = (load(r / "checkpoint_last.npz")["modules"][part] for r in (straight, half))
        assert a.keys() == b.keys() and all(np.array_equal(_array(a[k]), _array(b[k])) for k in a), part


@pytest.mark.parametrize("model", ["ddpm", "flow"])
def test_lr_decay_is_not_undone_by_the_warm_up(model, tmp_path):
    """Warm-up for 2 steps, then the per-epoch decay: after 3 epochs of 3 batches the rate is lr · 0.5³ (the
    warm-up used to reset it to lr at every step, so --lr-decay did nothing)."""
    run = train(model, dataset="ring", batch_size=64, limit=192, epochs=3, lr=0.01, lr_decay=0.5, warmup=2,
                out=tmp_path / "run", progress=False)
    lr = load(run / "checkpoint_last.npz")["optimizers"]["optimizer"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.01 * 0.5 ** 3)


def test_sample_npy_format_and_nfe(runs, tmp_path, capsys):
    out = tmp_path / "x.npy"
    assert cli.main(["sample", str(runs / "ddpm"), "--n", "6", "--label", "3", "--steps", "4", "--guidance", "2",
                     "--out", str(out)]) == 0
    x = np.load(out)
    assert x.shape == (6, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert "8 network evaluations per sample" in capsys.readouterr().out     # 4 steps × 2 (guidance)
    assert cli.main(["sample", str(runs / "flow"), "--n", "4", "--sampler", "heun", "--steps", "3",
                     "--out", str(tmp_path / "f.png")]) == 0
    assert "5 network evaluations per sample" in capsys.readouterr().out     # Heun: 2·3 − 1
    assert (tmp_path / "f.png").exists()
    # DDIM with η = 0 and the flow samplers are deterministic: the same seed, the same images
    for run in ("ddpm", "flow"):
        a, b = tmp_path / f"{run}a.npy", tmp_path / f"{run}b.npy"
        for path in (a, b):
            assert cli.main(["sample", str(runs / run), "--n", "3", "--steps", "3", "--out", str(path)]) == 0
        np.testing.assert_array_equal(np.load(a), np.load(b))


@pytest.mark.parametrize("run, args, message", [
    ("ddpm", ["--steps", "0"], "steps must be at least 1, got 0"),
    ("ddpm", ["--sampler", "euler"], "unknown sampler 'euler'; a ddpm run samples with ddim or ddpm"),
    ("flow", ["--sampler", "ddim"], "unknown sampler 'ddim'; a flow run samples with heun or euler"),
    ("flow", ["--label", "3"], "--label needs a conditional run"),
    ("flow", ["--guidance", "2"], "--guidance needs a conditional run"),
    ("flow", ["--eta", "0.5"], "eta applies to the ddim sampler"),
    ("ddpm", ["--label", "10"], r"labels must lie in 0 … 9, got 10"),
    ("ddpm", ["--out", "x.jpg"], "--out must end in .png or .npy"),
    ("flow", ["--guidance-interval", "0", "0.5"], "--guidance-interval needs a conditional run"),
    ("ddpm", ["--guidance-interval", "0.6", "0.5"], r"two noise levels LO HI with 0 ≤ LO ≤ HI ≤ 1, got 0.6 0.5"),
    ("ddpm", ["--guidance-interval", "-0.1", "0.5"], r"0 ≤ LO ≤ HI ≤ 1, got -0.1 0.5"),
    ("ddpm", ["--guidance-interval", "0", "1.5"], r"0 ≤ LO ≤ HI ≤ 1, got 0.0 1.5"),
    ("flow", ["--guidance-below", "0"], "--guidance-below needs a conditional run"),
    ("ddpm", ["--guidance-below", "0"], "--guidance-below sets the weight below a guidance interval; give "
                                        "--guidance-interval LO HI too"),
])
def test_bad_sampling_options_are_refused_clearly(runs, run, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=message):
        cli.main(["sample", str(runs / run), "--n", "2", *args])


def test_train_refuses_a_sampler_of_the_other_family(tmp_path):
    with pytest.raises(SystemExit, match="unknown sampler 'ddim'; a flow run samples with heun or euler"):
        cli.main(["train", "flow", *TINY, "--sampler", "ddim", "--out", str(tmp_path / "f")])
    assert not (tmp_path / "f").exists()                                 # a refused run leaves no directory


def test_time_sampling_is_for_flow_runs(tmp_path):
    with pytest.raises(SystemExit, match="ddpm: --time-sampling logit-normal is for flow runs"):
        cli.main(["train", "ddpm", *TINY, "--time-sampling", "logit-normal", "--out", str(tmp_path / "d")])
    assert not (tmp_path / "d").exists()
    assert cli.main(["train", "flow", *TINY, "--time-sampling", "logit-normal", "--out", str(tmp_path / "f")]) == 0
    assert json.loads((tmp_path / "f" / "config.json").read_text())["time_sampling"] == "logit-normal"


def test_sampling_options_on_a_gan_are_refused(tmp_path):
    gan = tmp_path / "gan"
    assert cli.main(["train", "gan", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--quiet",
                     "--out", str(gan)]) == 0
    with pytest.raises(SystemExit, match="--steps apply to ddpm and flow runs; this is a 'gan' run"):
        cli.main(["sample", str(gan), "--steps", "5"])


def test_eval_scores_samples_with_their_nfe(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                                          # the default runs/classifier-digits
    assert cli.main(["train", "classifier", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--width", "4",
                     "--quiet", "--out", "runs/classifier-digits"]) == 0
    assert cli.main(["eval", str(runs / "ddpm"), "--n-samples", "20", "--steps", "3", "--guidance", "2"]) == 0
    results = json.loads((runs / "ddpm" / "eval-ddim-3-w2-n20.json").read_text())
    assert results["nfe_per_sample"] == 6 and results["n"] == 20 and "label_accuracy" in results
    assert {"fid", "classifier_score", "uncertain_share", "sampling"} <= results.keys()
    drawn = (runs / "flow" / "reverse_process.png").stat().st_mtime_ns
    assert cli.main(["eval", str(runs / "flow"), "--n-samples", "20", "--steps", "2", "--no-pictures"]) == 0
    assert (runs / "flow" / "reverse_process.png").stat().st_mtime_ns == drawn       # not redrawn
    results = json.loads((runs / "flow" / "eval-heun-2-n20.json").read_text())
    assert results["nfe_per_sample"] == 3 and "label_accuracy" not in results
    # guidance for t in [0, 0.5] only: of DDIM's 3 steps (t = 999, 500, 0) the last two are guided, 1 + 2 + 2 NFE
    assert cli.main(["eval", str(runs / "ddpm"), "--n-samples", "20", "--steps", "3", "--guidance", "2",
                     "--guidance-interval", "0", "0.5", "--no-pictures"]) == 0
    results = json.loads((runs / "ddpm" / "eval-ddim-3-w2-i0-0.5-n20.json").read_text())
    assert results["nfe_per_sample"] == 5 and results["sampling"] == "ddim, 3 steps, guidance 2 for t in [0, 0.5]"
    # [0.5, 1] guided (t = 999, 500: 2 + 2), the unconditional model below it (t = 0: 1)
    assert cli.main(["eval", str(runs / "ddpm"), "--n-samples", "20", "--steps", "3", "--guidance", "2",
                     "--guidance-interval", "0.5", "1", "--guidance-below", "0", "--no-pictures"]) == 0
    results = json.loads((runs / "ddpm" / "eval-ddim-3-w2-i0.5-1-b0-n20.json").read_text())
    assert results["nfe_per_sample"] == 5
    assert results["sampling"] == "ddim, 3 steps, guidance 2 for t in [0.5, 1], 0 below"


def test_requested_classes_balanced_or_by_the_data_shares():
    assert requested_classes(25, 10).tolist() == [i % 10 for i in range(25)]
    targets = np.repeat([0, 1, 2], [700, 200, 100])                  # shares 0.7, 0.2, 0.1; no class 3
    drawn = requested_classes(20_000, 4, "data", targets, seed=0)
    np.testing.assert_allclose(np.bincount(drawn, minlength=4) / 20_000, [0.7, 0.2, 0.1, 0], atol=0.01)
    np.testing.assert_array_equal(drawn, requested_classes(20_000, 4, "data", targets, seed=0))      # seeded
    assert not np.array_equal(drawn, requested_classes(20_000, 4, "data", targets, seed=1))


def test_eval_labels_by_the_data_shares_and_another_seed(runs, tmp_path, monkeypatch):
    """--labels data asks for the classes requested_classes draws from the training set's shares (the labels
    that reach the sampler are checked), --seed draws again; both are named in the file."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "classifier", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--width", "4",
                     "--quiet", "--out", "runs/classifier-digits"]) == 0
    asked, generate = [], evaluation.generate
    monkeypatch.setattr("minigen.evaluation.generate",
                        lambda recipe, n, rng, labels=None, **k: asked.append(labels) or generate(recipe, n, rng,
                                                                                                   labels, **k))
    common = ["--n-samples", "20", "--steps", "3", "--guidance", "2", "--no-pictures"]
    assert cli.main(["eval", str(runs / "ddpm"), *common, "--labels", "data", "--seed", "3"]) == 0
    results = json.loads((runs / "ddpm" / "eval-ddim-3-w2-n20-ldata-s3.json").read_text())
    assert results["labels"] == "data" and results["n"] == 20
    train_targets = data.load_dataset("digits", True, None, 64).targets
    np.testing.assert_array_equal(asked[-1], requested_classes(20, 10, "data", train_targets, seed=3))
    assert not np.array_equal(asked[-1], requested_classes(20, 10))
    assert cli.main(["eval", str(runs / "ddpm"), *common, "--seed", "0"]) == 0          # the run's own seed
    assert json.loads((runs / "ddpm" / "eval-ddim-3-w2-n20.json").read_text())["labels"] == "balanced"
    np.testing.assert_array_equal(asked[-1], requested_classes(20, 10))
    with pytest.raises(SystemExit, match="--labels data needs a run conditioned on classes"):
        cli.main(["eval", str(runs / "flow"), "--n-samples", "20", "--steps", "2", "--labels", "data"])


def test_eval_out_is_a_path_from_the_working_directory(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "classifier", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--width", "4",
                     "--quiet", "--out", "runs/classifier-digits"]) == 0
    (tmp_path / "scores").mkdir()
    assert cli.main(["eval", str(runs / "flow"), "--n-samples", "20", "--steps", "2", "--no-pictures",
                     "--out", "scores/flow.json"]) == 0
    assert json.loads((tmp_path / "scores" / "flow.json").read_text())["nfe_per_sample"] == 3
    sampled = []                                         # a missing directory is refused before any sampling
    monkeypatch.setattr("minigen.evaluation.generate", lambda *a, **k: sampled.append(1))
    with pytest.raises(SystemExit, match="--out nowhere/flow.json: the directory nowhere does not exist"):
        cli.main(["eval", str(runs / "flow"), "--n-samples", "20", "--steps", "2", "--out", "nowhere/flow.json"])
    with pytest.raises(SystemExit, match="--out scores is a directory"):
        cli.main(["eval", str(runs / "flow"), "--n-samples", "20", "--steps", "2", "--out", "scores"])
    assert sampled == []


def test_ring_toys_learn_the_modes_quickly(tmp_path):
    """The 2-D toy trains in seconds and its samples land on the ring's modes (DDPM; flow reaches the circle)."""
    run = train("ddpm", dataset="ring", out=tmp_path / "ring", progress=False)          # 40 epochs of 79 steps
    epoch = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert epoch["modes_reached"] == 8
    recipe = open_run(run).recipe
    points = recipe.sample(recipe.noise(500, np.random.default_rng(0)))
    radius = np.linalg.norm(points, axis=1)
    assert np.median(np.abs(radius - 2.0)) < 0.1                           # on the circle of radius 2


def test_export_keeps_the_sampling_weights_only(runs, tmp_path):
    out = tmp_path / "exported"
    assert cli.main(["export", str(runs / "ddpm"), "--out", str(out), "--command", "minigen train ddpm …"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "minigen train ddpm …" and config["ema"] == 0 and config["ema_during_training"]
    state = load(out / "checkpoint_last.npz")
    assert list(state["modules"]) == ["model"] and "optimizers" not in state
    weights = [_array(v) for v in state["modules"]["model"].values()]
    assert all(w.dtype == np.float32 for w in weights if w.dtype.kind == "f")
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for run, path in ((runs / "ddpm", a), (out, b)):                     # the same samples as the EMA's
        assert cli.main(["sample", str(run), "--n", "3", "--steps", "3", "--label", "5", "--out", str(path)]) == 0
    np.testing.assert_array_equal(np.load(a), np.load(b))
    with pytest.raises(ValueError, match="exported run .* cannot resume"):
        train(resume=out, progress=False)


def test_export_sets_the_default_sampling(runs, tmp_path, capsys):
    out = tmp_path / "exported"
    assert cli.main(["export", str(runs / "ddpm"), "--out", str(out), "--steps", "2", "--guidance", "3"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["steps"] == 2 and config["guidance"] == 3
    capsys.readouterr()
    assert cli.main(["sample", str(out), "--n", "2", "--out", str(tmp_path / "x.npy")]) == 0
    assert "4 network evaluations per sample" in capsys.readouterr().out     # 2 steps × 2 (guidance)
    assert cli.main(["export", str(runs / "ddpm"), "--out", str(tmp_path / "i"), "--steps", "2", "--guidance", "3",
                     "--guidance-interval", "0", "0.5"]) == 0
    assert json.loads((tmp_path / "i" / "config.json").read_text())["guidance_interval"] == [0, 0.5]
    capsys.readouterr()
    assert cli.main(["sample", str(tmp_path / "i"), "--n", "2", "--out", str(tmp_path / "i.npy")]) == 0
    assert "3 network evaluations per sample" in capsys.readouterr().out     # t = 999 alone, t = 0 guided
    with pytest.raises(SystemExit, match="--guidance needs a conditional run"):
        cli.main(["export", str(runs / "flow"), "--out", str(tmp_path / "f"), "--guidance", "2"])
    assert not (tmp_path / "f").exists()


def test_compare_lines_keep_the_whole_guidance_description():
    """Evaluations with and without a guidance interval are separate lines (the interval's own comma once cut it)."""
    from minigen.evaluation import series_label
    plain = {"sampling": "heun, 10 steps, guidance 2", "n": 2000}
    late = {"sampling": "heun, 10 steps, guidance 2 for t in [0, 0.5]", "n": 2000}
    assert series_label("r", plain) == "r: heun (guidance 2), n = 2,000"
    assert series_label("r", late) == "r: heun (guidance 2 for t in [0, 0.5]), n = 2,000"
    assert series_label("r", {"sampling": "heun, 10 steps", "n": 100}) == "r: heun, n = 100"


def test_compare_plots_quality_against_nfe(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for steps, fid in ((5, 40.0), (10, 20.0)):
        (run / f"eval-heun-{steps}.json").write_text(json.dumps({
            "nfe_per_sample": 2 * steps - 1, "fid": fid, "classifier_score": 9.0, "n": 100, "sampling": "heun",
            "real_fid_train_vs_test": 5.0, "real_classifier_score": 9.7}))
    assert cli.main(["compare", str(run), "--out", str(tmp_path / "q.png")]) == 0
    assert (tmp_path / "q.png").stat().st_size > 1000
    with pytest.raises(SystemExit, match="no eval-.*json with network evaluations"):
        cli.main(["compare", str(tmp_path)])                               # its eval files are in run/


def test_real_sample_draws_across_the_whole_set():
    """The real-data floor's images are a seeded draw from all of the training set, in stored order, without
    repeats: not its first n (MNIST's first 10,000 are no random sample of its 60,000: FID 5.28 against 3.4–4.1)."""
    from minigen.evaluation import real_sample
    images = np.arange(1000)[:, None, None] * np.ones((1, 2, 2), dtype=np.int64)     # image i is filled with i
    drawn = real_sample(images, 100, seed=0)
    ids = drawn[:, 0, 0]
    assert drawn.shape == (100, 2, 2) and len(set(ids)) == 100 and np.all(np.diff(ids) > 0)
    assert ids.max() > 500 and ids.mean() == pytest.approx(500, abs=100)       # spread over the whole set
    assert np.array_equal(real_sample(images, 100, seed=0), drawn)                 # reproducible
    assert not np.array_equal(real_sample(images, 100, seed=1), drawn)
    assert len(real_sample(images, 5000, seed=0)) == 1000                         # never more than there are
