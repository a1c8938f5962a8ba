"""k-means clusters (``minigen.models.clusters``) and the cluster-conditioned ("self-conditioned") diffusion and
flow runs built on them (``--clusters K``): an unconditional generator that never sees a label."""

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from minigen import cli
from minigen.models.clusters import Clusters, deskew, kmeans, sq_distances, systematic
from minigen.serialization import load
from minigen.train import discard_unstarted, open_run, train


def _objective(x, c, a):
    return float(((x - c[a]) ** 2).sum())


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 6), d=st.integers(1, 9), seed=st.integers(0, 2 ** 16))
def test_sq_distances_match_the_definition(n, k, d, seed):
    rng = np.random.default_rng(seed)
    x, c = rng.standard_normal((n, d)), rng.standard_normal((k, d))
    brute = np.array([[((xi - ck) ** 2).sum() for ck in c] for xi in x])
    np.testing.assert_allclose(sq_distances(x, c), brute, rtol=1e-10, atol=1e-10)


def test_kmeans_finds_separated_blobs():
    """Five tight blobs far apart: every blob is one cluster (up to the clusters' order)."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 3)) * 20
    truth = rng.integers(0, 5, 400)
    x = centres[truth] + 0.1 * rng.standard_normal((400, 3))
    c, a = kmeans(x, 5, seed=1)
    pairs = set(zip(truth.tolist(), a.tolist()))
    assert len(pairs) == 5 and len({p[1] for p in pairs}) == 5          # a one-to-one map of blobs to clusters


@settings(max_examples=20, deadline=None)
@given(n=st.integers(5, 60), k=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_kmeans_ends_at_a_fixed_point_of_lloyd(n, k, seed):
    """At the end every point sits with its nearest centroid, and every non-empty cluster's centroid is its mean
    (the two steps that lower J change nothing more); the objective is below the k-means++ start's."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    c, a = kmeans(x, k, iters=200, seed=seed)
    np.testing.assert_array_equal(a, sq_distances(x, c).argmin(1))
    for j in np.unique(a):
        np.testing.assert_allclose(c[j], x[a == j].mean(0), atol=1e-12)
    c0, _ = kmeans(x, k, iters=0, seed=seed)                              # the start alone
    assert _objective(x, c, a) <= _objective(x, c0, sq_distances(x, c0).argmin(1)) + 1e-9


@pytest.mark.parametrize("iters", [0, 1, 2])
def test_kmeans_stopped_early_returns_the_assignments_of_its_centroids(iters):
    """Out of iterations before converging, the assignments still belong to the returned centroids (they were
    one update behind, so a cluster run's shares differed from the labels it trained on)."""
    x = np.random.default_rng(0).standard_normal((2000, 2))
    c, a = kmeans(x, 8, iters=iters, seed=0)
    np.testing.assert_array_equal(a, sq_distances(x, c).argmin(1))


def test_kmeans_refuses_more_clusters_than_points():
    with pytest.raises(ValueError, match="kmeans: k must lie in 1 … 3"):
        kmeans(np.zeros((3, 2)), 4)


def test_kmeans_names_too_few_distinct_points():
    x = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)                    # 10 points, 2 distinct
    with pytest.raises(ValueError, match="only 2 distinct values, fewer than k = 3"):
        kmeans(x, 3)


@settings(max_examples=50, deadline=None)
@given(shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12).filter(lambda s: sum(s) > 0.01),
       n=st.integers(0, 500), offset=st.floats(0.0, 1.0, exclude_max=True))
@example(shares=[1.0], n=2, offset=0.9999999999999999)        # (offset + 1)/2 rounds to 1.0: past the last edge
def test_systematic_draws_follow_the_shares_within_one(shares, n, offset):
    p = np.array(shares) / sum(shares)
    drawn = systematic(p, n, offset)
    counts = np.bincount(drawn, minlength=len(p))
    assert len(drawn) == n and len(counts) == len(p)                      # no index past the last cluster
    assert np.all(np.abs(counts - n * p) < 1 + 1e-9)
    assert np.all(counts[p == 0] == 0)
    assert np.all(np.diff(drawn) >= 0)                                    # in index order


def test_small_draws_are_random_with_the_shares():
    """n < K: which clusters appear depends on the generator, each with probability n·π_k (a fixed offset would
    always give the same few clusters, whatever the seed)."""
    clusters = Clusters(4, dim=1)
    shares = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    clusters.shares.data[...] = shares
    rng = np.random.default_rng(0)
    seen = np.zeros(4)
    for _ in range(4000):
        seen += np.bincount(clusters.draw(1, rng), minlength=4)
    np.testing.assert_allclose(seen / 4000, shares, atol=0.03)
    np.testing.assert_array_equal(clusters.draw(3), clusters.draw(3))     # without a generator: fixed


def test_clusters_module_fits_assigns_and_round_trips():
    rng = np.random.default_rng(0)
    images = rng.random((300, 4, 4)).astype(np.float32)
    clusters = Clusters(6, dim=16)
    assert not clusters.fitted
    with pytest.raises(RuntimeError, match="never fitted"):
        clusters.assign(images)
    a = clusters.fit(images, seed=3)
    assert clusters.fitted and np.isclose(float(clusters.shares.data.sum()), 1.0)
    np.testing.assert_array_equal(clusters.assign(images), a)              # Lloyd's converged: nearest = fitted
    copy = Clusters(6, dim=16)
    copy.load_state_dict(clusters.state_dict())                           # buffers: saved with the model
    np.testing.assert_array_equal(copy.assign(images), a)
    with pytest.raises(ValueError, match="images of 9 values each, the centroids have 16"):
        clusters.assign(np.zeros((2, 3, 3)))


TINY = ["--dataset", "digits", "--limit", "128", "--batch-size", "32", "--epochs", "1", "--channels", "8,8,8",
        "--steps", "3", "--quiet"]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster_run")
    assert cli.main(["train", "flow", "--clusters", "4", *TINY, "--out", str(root / "flow")]) == 0
    return root / "flow"


def test_a_cluster_run_trains_on_cluster_indices_and_samples_by_their_shares(cluster_run):
    run = open_run(cluster_run)
    recipe = run.recipe
    assert recipe.conditional and recipe.n_classes == 4 and not recipe.classes
    state = load(cluster_run / "checkpoint_last.npz")
    assert "clusters" in state["modules"]                                 # the clusters travel with the weights
    from minigen.data import load_dataset
    ds = load_dataset("digits", True, None, 128)
    images = ds.data.astype(np.float32) / 255
    recipe.prepare(ds, True)                                              # labels → nearest centroid
    np.testing.assert_array_equal(ds.targets, recipe.clusters.assign(images))
    shares = recipe.clusters.shares.numpy()
    np.testing.assert_allclose(shares, np.bincount(ds.targets, minlength=4) / 128, atol=1e-6)
    drawn = recipe.labels(1000, rng=np.random.default_rng(0))            # no label asked: the data's mixture
    assert np.all(np.abs(np.bincount(drawn, minlength=4) - 1000 * shares) < 1 + 1e-6)


def test_a_cluster_run_exports_and_evaluates_without_label_accuracy(cluster_run, tmp_path, monkeypatch):
    out = tmp_path / "exported"
    assert cli.main(["export", str(cluster_run), "--out", str(out)]) == 0
    assert set(load(out / "checkpoint_last.npz")["modules"]) == {"model", "clusters"}
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for run, path in ((cluster_run, a), (out, b)):                        # the same samples, clusters included
        assert cli.main(["sample", str(run), "--n", "6", "--steps", "2", "--out", str(path)]) == 0
    np.testing.assert_array_equal(np.load(a), np.load(b))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "classifier", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--width", "4",
                     "--quiet", "--out", "runs/classifier-digits"]) == 0
    import minigen.evaluation as evaluation
    seen = []                                             # the labels the real images' accuracy is measured against
    real = evaluation.label_accuracy
    monkeypatch.setattr(evaluation, "label_accuracy",
                        lambda p, labels: seen.append(np.asarray(labels)) or real(p, labels))
    assert cli.main(["eval", str(out), "--n-samples", "20", "--steps", "2", "--no-pictures"]) == 0
    results = json.loads((out / "eval-heun-2-w1-n20.json").read_text())
    assert "label_accuracy" not in results and results["nfe_per_sample"] == 3
    from minigen.data import load_dataset
    np.testing.assert_array_equal(seen[-1], load_dataset("digits", False, None, 128).targets[:20])  # true classes
    trained = [json.loads(line) for line in (cluster_run / "metrics.jsonl").read_text().splitlines()][-1]
    assert results["test_loss"] == pytest.approx(trained["test_loss"], rel=1e-6)   # test set relabelled alike


def test_cluster_run_resume_is_exact(tmp_path):
    tiny = dict(dataset="digits", batch_size=32, limit=96, progress=False, clusters=3, channels=[8, 8, 8])
    straight = train("flow", epochs=2, out=tmp_path / "straight", **tiny)
    half = train("flow", epochs=1, out=tmp_path / "half", **tiny)
    train(epochs=2, resume=half, progress=False)
    for part in ("model", "model_ema", "clusters"):
        a, b = (load(r / "checkpoint_last.npz")["modules"][part] for r in (straight, half))
        assert a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k].numpy() if hasattr(a[k], "numpy")
                                                                      else a[k]),
                                                           np.asarray(b[k].numpy() if hasattr(b[k], "numpy")
                                                                      else b[k])) for k in a), part


def test_cluster_run_trains_on_cluster_indices_and_resume_keeps_its_clusters(tmp_path, monkeypatch):
    """The training loop relabels its batches with the clusters (the labels train_step gets are each image's
    nearest centroid, not its digit); a resumed run loads its clusters and never fits them again."""
    from minigen.models.clusters import Clusters as ClustersClass
    from minigen.recipes.diffusion import DiffusionRecipe
    seen, fits = [], []
    step, fit = DiffusionRecipe.train_step, ClustersClass.fit
    monkeypatch.setattr(DiffusionRecipe, "train_step",
                        lambda self, x, y, i: seen.append((x.numpy(), y.numpy(), self.clusters)) or step(self, x, y, i))
    monkeypatch.setattr(ClustersClass, "fit", lambda self, *a, **k: fits.append(1) or fit(self, *a, **k))
    tiny = dict(dataset="digits", batch_size=32, limit=96, progress=False, clusters=3, channels=[8, 8, 8])
    half = train("flow", epochs=1, out=tmp_path / "half", **tiny)
    assert len(fits) == 1 and len(seen) == 3
    for x, y, clusters in seen:
        np.testing.assert_array_equal(y, clusters.assign((x + 1) / 2))   # [-1, 1] → the [0, 1] it was fitted on
    train(epochs=2, resume=half, progress=False)
    assert len(fits) == 1 and len(seen) == 6                              # resumed: clusters loaded, not refitted
    for x, y, clusters in seen[3:]:
        np.testing.assert_array_equal(y, clusters.assign((x + 1) / 2))


@pytest.mark.parametrize("k", ["0", "1"])
def test_clusters_need_two(k, tmp_path):
    with pytest.raises(SystemExit, match=f"--clusters K needs K ≥ 2 clusters, got {k}"):
        cli.main(["train", "flow", "--clusters", k, "--epochs", "1", "--limit", "64", "--quiet",
                  "--out", str(tmp_path / "r")])


def test_cluster_features_need_clusters(tmp_path):
    with pytest.raises(SystemExit, match="--cluster-features deskewed needs --clusters K"):
        cli.main(["train", "flow", "--cluster-features", "deskewed", "--epochs", "1", "--limit", "64", "--quiet",
                  "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


def test_clusters_refuse_points(tmp_path):
    args = ["train", "flow", "--clusters", "4", "--epochs", "1", "--limit", "64", "--quiet",
            "--out", str(tmp_path / "r"), "--dataset", "ring"]
    with pytest.raises(SystemExit, match="--clusters K clusters the images .* does not combine with --dataset ring"):
        cli.main(args)
    assert not (tmp_path / "r").exists()


def test_a_failed_fit_leaves_no_run_behind(tmp_path):
    """More clusters than training images: k-means refuses, and the run directory made for it is removed again (it
    held only config.json), so the same --out is free for the next try."""
    args = ["train", "flow", "--clusters", "100", "--epochs", "1", "--limit", "64", "--quiet",
            "--out", str(tmp_path / "r")]
    with pytest.raises(SystemExit, match="kmeans: k must lie in 1 … 64"):
        cli.main(args)
    assert not (tmp_path / "r").exists()
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "config.json").write_text("{}")
    (tmp_path / "keep" / "notes.txt").write_text("mine")
    discard_unstarted(tmp_path / "keep")                 # anything else in it: left alone
    assert (tmp_path / "keep" / "notes.txt").exists() and (tmp_path / "keep" / "config.json").exists()


def _deskew_one_row_at_a_time(img):
    """The plain twin of ``deskew``: moments by their definitions, each row shifted with np.interp."""
    rows, cols = np.mgrid[:img.shape[0], :img.shape[1]].astype(np.float64)
    mass = img.sum()
    r_mean, c_mean = (rows * img).sum() / mass, (cols * img).sum() / mass
    alpha = ((rows - r_mean) * (cols - c_mean) * img).sum() / ((rows - r_mean) ** 2 * img).sum()
    c = np.arange(img.shape[1], dtype=np.float64)
    padded_c = np.concatenate([[-1.0], c, [img.shape[1]]])                 # zeros one column beyond each side
    return np.stack([np.interp(c + alpha * (r - r_mean), padded_c, np.concatenate([[0.0], img[r], [0.0]]))
                     for r in range(img.shape[0])])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 16), slant=st.floats(-0.6, 0.6), h=st.integers(4, 12), w=st.integers(4, 12))
def test_deskew_matches_its_plain_twin(seed, slant, h, w):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w))
    r = np.arange(h)
    cols = np.clip(np.round(w / 2 + slant * (r - h / 2)).astype(int), 0, w - 1)
    img[r, cols] = 1.0                                                   # a slanted stroke
    img += 0.3 * rng.random((h, w)) * (rng.random((h, w)) < 0.2)         # and some specks
    out = deskew(img[None].astype(np.float32))[0]
    np.testing.assert_allclose(out, _deskew_one_row_at_a_time(img), atol=1e-5)


def test_deskew_makes_a_sheared_stroke_upright():
    img = np.zeros((20, 20), np.float32)
    for r in range(2, 18):
        img[r, 4 + r // 2] = 1.0                                         # a stroke leaning right, 1 column per 2 rows
    out = deskew(img[None])[0]
    rows, cols = np.mgrid[:20, :20]
    cov = lambda x: (((rows - (rows * x).sum() / x.sum()) * (cols - (cols * x).sum() / x.sum()) * x).sum()  # noqa: E731
                     / x.sum())
    assert abs(cov(img)) > 5 and abs(cov(out)) < 0.3                       # the row-column covariance is gone
    assert out.sum() == pytest.approx(img.sum(), rel=0.05)                  # ink is moved, not lost
    assert np.array_equal(deskew(np.zeros((2, 5, 5), np.float32)), np.zeros((2, 5, 5)))   # no ink: unchanged


def test_deskewed_clusters_are_k_means_of_the_deskewed_images():
    images = np.random.default_rng(0).random((60, 8, 8)).astype(np.float32) ** 4     # sparse random strokes
    clusters = Clusters(5, dim=64, features="deskewed")
    a = clusters.fit(images, seed=1)
    centroids, expected = kmeans(deskew(images).reshape(60, -1), 5, 30, seed=1)
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_allclose(clusters.centroids.numpy(), centroids, rtol=1e-6)
    np.testing.assert_array_equal(clusters.assign(images[::-1]), expected[::-1])    # new images are deskewed too
    with pytest.raises(ValueError, match="features must be one of pixels, deskewed"):
        Clusters(2, features="edges")
    with pytest.raises(ValueError, match="deskewed features need square images, got dim = 12"):
        Clusters(2, dim=12, features="deskewed")
    with pytest.raises(RuntimeError, match="Clusters.draw: the clusters were never fitted"):
        Clusters(2, dim=16).draw(3)
    with pytest.raises(ValueError, match="systematic: shares must be non-negative with a positive sum"):
        systematic(np.array([0.5, -0.1]), 3)


def test_a_deskewed_cluster_run_keeps_its_features_and_sample_seeds_draw_other_clusters(tmp_path):
    run_dir = tmp_path / "deskewed"
    assert cli.main(["train", "flow", "--clusters", "8", "--cluster-features", "deskewed", *TINY,
                     "--out", str(run_dir)]) == 0
    recipe = open_run(run_dir).recipe
    assert recipe.clusters.features == "deskewed"
    from minigen.data import load_dataset
    images = load_dataset("digits", True, None, 128).data.astype(np.float32) / 255
    np.testing.assert_array_equal(recipe.clusters.assign(images),
                                  sq_distances(deskew(images).reshape(128, -1), recipe.clusters.centroids.numpy())
                                  .argmin(1))
    drawn = {tuple(recipe.labels(3, rng=np.random.default_rng(seed))) for seed in range(20)}
    assert len(drawn) > 1                                                 # the generator picks the clusters
