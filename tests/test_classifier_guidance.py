"""Classifier guidance for flow matching: the classifier of noisy images (``models/noisy_classifier.py``), its
gradient against float64 finite differences, the guided velocity inside the sampler, the ``noisy-classifier``
recipe, and the commands' options (``--classifier``, ``--classifier-scale``, ``--classifier-interval``) with their
errors, eval file names and exported runs."""

import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigen
from minigen import cli, nn
from minigen.autograd import Tensor, no_grad
from minigen.models import flow
from minigen.models.noisy_classifier import NoisyClassifier, guide_velocity, log_prob_gradient
from minigen.serialization import load
from minigen.train import open_run, train

TINY = ["--dataset", "digits", "--limit", "64", "--batch-size", "32", "--epochs", "1", "--quiet"]


def _classifier64(seed=0):
    minigen.manual_seed(seed)
    return NoisyClassifier(width=2).double().eval()


def _log_p(model, x: np.ndarray, t: float, y: np.ndarray) -> float:
    with no_grad():
        logits = model(Tensor(x), Tensor(np.full(len(x), t))).numpy()
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(logp[np.arange(len(x)), y].sum())


@settings(max_examples=8, deadline=None)
@given(t=st.floats(0.0, 0.95), n=st.integers(1, 3), side=st.integers(3, 6), seed=st.integers(0, 2 ** 16))
def test_log_prob_gradient_matches_finite_differences(t, n, side, seed):
    """float64, random images, labels and noise levels: g against central differences of Σᵢ log p(yᵢ | xᵢ)."""
    model = _classifier64(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, side, side))
    y = rng.integers(0, 10, n)
    g = log_prob_gradient(model, Tensor(x), t, Tensor(y)).numpy()
    assert g.shape == x.shape and g.dtype == np.float64
    numeric, h = np.zeros_like(x), 1e-6
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (_log_p(model, up, t, y) - _log_p(model, down, t, y)) / (2 * h)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_each_samples_gradient_depends_on_its_own_image_only():
    model = _classifier64()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1, 6, 6))
    y = Tensor(np.array([4, 5]))
    g = log_prob_gradient(model, Tensor(x), 0.5, y).numpy()
    x[1] += rng.standard_normal((1, 6, 6))                            # change the second image only
    h = log_prob_gradient(model, Tensor(x), 0.5, y).numpy()
    np.testing.assert_array_equal(g[0], h[0])
    assert not np.allclose(g[1], h[1])


def test_log_prob_gradient_works_inside_no_grad_and_leaves_the_input_alone():
    model = _classifier64()
    x = Tensor(np.random.default_rng(3).standard_normal((2, 1, 6, 6)))
    with no_grad():
        g = log_prob_gradient(model, x, 0.5, Tensor(np.array([1, 2])))
    assert np.abs(g.numpy()).sum() > 0 and not x.requires_grad and x.grad is None


class _Still(nn.Module):
    """A flow network whose velocity is 0 everywhere: the sampler then moves by classifier guidance alone."""
    n_classes = 10

    def forward(self, x, t, y=None):
        return x * 0.0


def test_the_sampler_adds_minus_s_t_over_1_minus_t_times_the_gradient_inside_the_interval():
    """Euler, 4 steps (t = 1, 0.75, 0.5, 0.25) on a zero velocity: each step inside [0.3, 0.8] moves x by
    h · s · t/(1 − t) · g(x, t); t = 1 (outside) and 0.25 (outside) do not move it."""
    model = _classifier64()
    x_T = np.random.default_rng(4).standard_normal((2, 1, 6, 6))
    y = Tensor(np.array([3, 8]))
    x, nfe = flow.sample(_Still(), x_T.shape, "euler", 4, x_T=Tensor(x_T), classifier=model, classifier_labels=y,
                         classifier_scale=1.5, classifier_interval=(0.3, 0.8))
    expected = x_T.copy()
    for t in (0.75, 0.5):
        g = log_prob_gradient(model, Tensor(expected), t, y).numpy()
        expected = expected + 0.25 * 1.5 * t / (1 - t) * g
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert nfe == 4                                   # the U-Net's evaluations; the classifier's are not counted
    v = guide_velocity(Tensor(np.zeros_like(x_T)), model, Tensor(x_T), 0.5, y, 2.0).numpy()
    np.testing.assert_allclose(v, -2.0 * log_prob_gradient(model, Tensor(x_T), 0.5, y).numpy())


def test_the_sampler_refuses_an_interval_reaching_t_1_or_no_labels():
    model = _classifier64()
    with pytest.raises(ValueError, match="ends below t = 1"):
        flow.sample(_Still(), (1, 1, 6, 6), "euler", 2, classifier=model, classifier_labels=Tensor(np.array([1])),
                    classifier_interval=(0.2, 1.0))
    with pytest.raises(ValueError, match="needs classifier_labels"):
        flow.sample(_Still(), (1, 1, 6, 6), "euler", 2, classifier=model)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A class-conditional flow, an unconditional flow and a noisy classifier, each one tiny epoch on digits."""
    root = tmp_path_factory.mktemp("guidance_runs")
    unet = ["--channels", "8,8,8", "--steps", "4"]
    assert cli.main(["train", "flow", "--conditional", *TINY, *unet, "--out", str(root / "flow-cond")]) == 0
    assert cli.main(["train", "flow", *TINY, *unet, "--out", str(root / "flow")]) == 0
    assert cli.main(["train", "noisy-classifier", *TINY, "--width", "4", "--out", str(root / "guide")]) == 0
    return root


def test_noisy_classifier_run_records_accuracy_at_each_noise_level(runs):
    epoch = [json.loads(line) for line in (runs / "guide" / "metrics.jsonl").read_text().splitlines()][-1]
    for t in ("0", "0.3", "0.6"):
        assert 0 <= epoch[f"test_accuracy_t{t}"] <= 1
    assert json.loads((runs / "guide" / "config.json").read_text())["t_max"] == 0.9


def test_noisy_classifier_resume_is_exact(tmp_path):
    tiny = dict(dataset="digits", batch_size=32, limit=96, progress=False, width=4)
    straight = train("noisy-classifier", epochs=2, out=tmp_path / "straight", **tiny)
    half = train("noisy-classifier", epochs=1, out=tmp_path / "half", **tiny)
    train("noisy-classifier", epochs=2, resume=half, progress=False)
    a, b = (load(r / "checkpoint_last.npz")["modules"]["model"] for r in (straight, half))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)


def test_sample_with_the_classifier_moves_the_samples_and_names_it(runs, tmp_path, capsys):
    plain, guided = tmp_path / "plain.npy", tmp_path / "guided.npy"
    assert cli.main(["sample", str(runs / "flow-cond"), "--n", "10", "--out", str(plain)]) == 0
    assert cli.main(["sample", str(runs / "flow-cond"), "--n", "10", "--out", str(guided), "--classifier",
                     str(runs / "guide"), "--classifier-scale", "50"]) == 0
    assert "classifier guidance 50 for t in [0.2, 0.7]" in capsys.readouterr().out
    assert not np.allclose(np.load(plain), np.load(guided))
    assert cli.main(["sample", str(runs / "flow-cond"), "--n", "10", "--out", str(guided), "--classifier",
                     str(runs / "guide"), "--classifier-scale", "0"]) == 0      # s = 0: no push
    np.testing.assert_allclose(np.load(guided), np.load(plain), atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--classifier", "{guide}"], "guides a flow run conditioned on classes"),                  # unconditional
    (["--classifier-scale", "2"], "give --classifier RUN too"),
    (["--classifier-interval", "0.2", "0.8"], "give --classifier RUN too"),
])
def test_classifier_options_refused_on_an_unconditional_flow(runs, args, message):
    args = [a.format(guide=runs / "guide") for a in args]
    with pytest.raises(SystemExit, match=message):
        cli.main(["sample", str(runs / "flow"), "--n", "2", *args])


def test_classifier_options_errors_on_a_conditional_flow(runs, tmp_path):
    cond, guide = str(runs / "flow-cond"), str(runs / "guide")
    with pytest.raises(SystemExit, match=r"0 ≤ LO ≤ HI < 1 .*got 0.5 1.0"):
        cli.main(["sample", cond, "--n", "2", "--classifier", guide, "--classifier-interval", "0.5", "1"])
    with pytest.raises(SystemExit, match="is a 'flow' run, not a 'noisy-classifier' run"):
        cli.main(["sample", cond, "--n", "2", "--classifier", str(runs / "flow")])
    with pytest.raises(SystemExit, match="is not a run directory"):
        cli.main(["sample", cond, "--n", "2", "--classifier", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit, match="--classifier apply when sampling"):
        cli.main(["train", "flow", "--conditional", *TINY, "--classifier", guide, "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="--classifier-scale/--classifier-interval apply when sampling"):
        cli.main(["train", "flow", "--conditional", *TINY, "--classifier-scale", "2", "--classifier-interval", "0.1",
                  "0.5", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match=r"ends at t = 0.95, beyond the noise levels .* \(t < 0.9\)"):
        cli.main(["sample", cond, "--n", "2", "--classifier", guide, "--classifier-interval", "0.2", "0.95"])


def test_classifier_trained_on_another_dataset_is_refused(runs):
    config = json.loads((runs / "guide" / "config.json").read_text())
    recipe = open_run(runs / "flow-cond").recipe
    recipe.config["dataset"] = "mnist"
    with pytest.raises(ValueError, match=f"trained on '{config['dataset']}', this run on 'mnist'"):
        recipe.set_sampling(classifier=str(runs / "guide"))


def test_eval_file_names_the_classifier_guidance(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "classifier", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--width", "4",
                     "--quiet", "--out", "runs/classifier-digits"]) == 0
    assert cli.main(["eval", str(runs / "flow-cond"), "--n-samples", "20", "--steps", "2", "--no-pictures",
                     "--classifier", str(runs / "guide"), "--classifier-scale", "2",
                     "--classifier-interval", "0.1", "0.6"]) == 0
    results = json.loads((runs / "flow-cond" / "eval-heun-2-w1-c2-0.1-0.6-n20.json").read_text())
    assert results["sampling"] == "heun, 2 steps, guidance 1, classifier guidance 2 for t in [0.1, 0.6]"
    assert results["nfe_per_sample"] == 3


def test_an_exported_run_keeps_its_classifier_relative_to_itself(runs, tmp_path, monkeypatch):
    """export --classifier stores the path from the new run to the classifier, so both can move together; a
    path on the command line is read from the working directory."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copytree(runs / "guide", shelf / "guide")
    assert cli.main(["export", str(runs / "flow-cond"), "--out", str(shelf / "flow"), "--classifier",
                     str(shelf / "guide"), "--classifier-scale", "3"]) == 0
    config = json.loads((shelf / "flow" / "config.json").read_text())
    assert config["classifier"] == "../guide" and config["classifier_scale"] == 3
    moved = tmp_path / "moved"
    shutil.move(shelf, moved)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "s.npy"
    assert cli.main(["sample", str(moved / "flow"), "--n", "4", "--out", str(out)]) == 0
    recipe = open_run(moved / "flow").recipe
    assert recipe.describe_sampling().endswith("classifier guidance 3 for t in [0.2, 0.7]")
    assert recipe.guide() is not None
    monkeypatch.chdir(moved)                      # from the working directory when given on the command line
    recipe.set_sampling(classifier="guide")
    assert recipe.guide() is not None


def test_generate_takes_the_classifier_as_an_option_for_one_call(runs):
    """recipe.generate(..., classifier=PATH) guides that call only; the run's own sampling stays unguided."""
    recipe = open_run(runs / "flow-cond").recipe
    noise = recipe.noise(10, np.random.default_rng(0))
    plain, _ = recipe.generate(noise, np.arange(10))
    guided, _ = recipe.generate(noise, np.arange(10), classifier=str(runs / "guide"), classifier_scale=50)
    again, _ = recipe.generate(noise, np.arange(10))
    assert not np.allclose(plain, guided)
    np.testing.assert_array_equal(plain, again)
    assert "classifier" not in recipe.describe_sampling()


def test_generate_checks_its_options_as_the_commands_do(runs):
    """Options given to one generate call are checked as set_sampling checks them, not silently dropped."""
    recipe = open_run(runs / "flow").recipe                                          # unconditional
    noise = recipe.noise(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="guides a flow run conditioned on classes"):
        recipe.generate(noise, classifier=str(runs / "guide"))
    with pytest.raises(ValueError, match="give --classifier RUN too"):
        recipe.generate(noise, classifier_scale=2.0)


def _shelved(runs, tmp_path):
    """tmp_path/shelf holding a copy of the guide and the conditional flow exported beside it, guided by it."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copytree(runs / "guide", shelf / "guide")
    assert cli.main(["export", str(runs / "flow-cond"), "--out", str(shelf / "flow"), "--classifier",
                     str(shelf / "guide")]) == 0
    return shelf


def test_a_guided_run_exported_again_keeps_its_classifier(runs, tmp_path):
    """Exporting a run whose config already names its classifier (relative to itself) re-roots the path."""
    shelf = _shelved(runs, tmp_path)
    (tmp_path / "elsewhere" / "deeper").mkdir(parents=True)
    again = tmp_path / "elsewhere" / "deeper" / "flow"
    assert cli.main(["export", str(shelf / "flow"), "--out", str(again)]) == 0
    assert json.loads((again / "config.json").read_text())["classifier"] == "../../../shelf/guide"
    assert open_run(again).recipe.guide() is not None


def test_a_missing_classifier_of_the_run_is_a_clear_error(runs, tmp_path):
    shelf = _shelved(runs, tmp_path)
    shutil.rmtree(shelf / "guide")
    with pytest.raises(SystemExit, match="is not a run directory"):
        cli.main(["sample", str(shelf / "flow"), "--n", "2", "--out", str(tmp_path / "s.png")])
