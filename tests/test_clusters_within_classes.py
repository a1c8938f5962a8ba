"""Clusters within classes (``Clusters(k, classes=C)``) and the class-conditional diffusion and flow runs built on
them (``--conditional --clusters K``): the network is told class·K + cluster, the user asks for a class."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigen import cli
from minigen.models.clusters import Clusters, kmeans
from minigen.train import open_run


def _points(seed=0, classes=3, per_class=60, dim=5):
    rng = np.random.default_rng(seed)
    x = rng.random((classes * per_class, dim)).astype(np.float32)
    y = np.repeat(np.arange(classes), per_class)
    return x, rng.permutation(y)                                          # classes mixed through the set


def test_fit_is_kmeans_inside_each_class_with_labels_class_times_k_plus_cluster():
    x, y = _points()
    clusters = Clusters(4, dim=5, classes=3)
    labels = clusters.fit(x, y, seed=7)
    np.testing.assert_array_equal(labels // 4, y)                        # the class is kept
    for c in range(3):                                                    # the cluster is k-means of the class
        centroids, sub = kmeans(x[y == c], 4, 30, 7 + c)
        np.testing.assert_array_equal(labels[y == c] % 4, sub)
        np.testing.assert_allclose(clusters.centroids.numpy()[4 * c:4 * c + 4], centroids, rtol=1e-6)
    np.testing.assert_allclose(clusters.shares.numpy(), np.bincount(labels, minlength=12) / len(x), atol=1e-7)
    np.testing.assert_array_equal(clusters.assign(x, y), labels)          # Lloyd's converged: nearest = fitted


def test_assign_looks_only_at_the_images_own_class():
    """An image that lies nearest to another class's centroid still gets a cluster of its own class."""
    clusters = Clusters(2, dim=1, classes=2)
    clusters.centroids.data[...] = np.array([[0.0], [1.0], [10.0], [11.0]], dtype=np.float32)
    clusters.shares.data[...] = 0.25
    x = np.array([[10.2], [0.9], [5.0]], dtype=np.float32)
    np.testing.assert_array_equal(clusters.assign(x, [0, 1, 1]), [1, 2, 2])
    copy = Clusters(2, dim=1, classes=2)
    copy.load_state_dict(clusters.state_dict())                           # buffers (4, 1) and (4,): saved alike
    np.testing.assert_array_equal(copy.assign(x, [0, 1, 1]), [1, 2, 2])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 16), n=st.integers(1, 400))
def test_draw_for_classes_follows_the_shares_within_each_class(seed, n):
    rng = np.random.default_rng(seed)
    clusters = Clusters(3, dim=1, classes=4)
    shares = rng.random(12) * (rng.random(12) < 0.8) + 1e-3               # some tiny clusters
    clusters.shares.data[...] = (shares / shares.sum()).astype(np.float32)
    classes = rng.integers(0, 4, n)
    drawn = clusters.draw(n, np.random.default_rng(seed + 1), classes)
    np.testing.assert_array_equal(drawn // 3, classes)                    # a cluster of the requested class
    p = clusters.shares.numpy().astype(np.float64)
    for c in range(4):
        m = (classes == c).sum()
        within = p[3 * c:3 * c + 3] / p[3 * c:3 * c + 3].sum()
        counts = np.bincount(drawn[classes == c] % 3, minlength=3)
        assert np.all(np.abs(counts - m * within) < 1 + 1e-6)             # systematic: within one of m·π_{k|c}


def test_draw_for_classes_is_random_with_a_generator_and_fixed_without():
    clusters = Clusters(4, dim=1, classes=2)
    clusters.shares.data[...] = 1 / 8
    seen = {tuple(clusters.draw(2, np.random.default_rng(s), [0, 1])) for s in range(40)}
    assert len(seen) > 4                                                  # different clusters for other seeds
    assert len({tuple(clusters.draw(2, None, [0, 1])) for _ in range(3)}) == 1
    without = clusters.draw(800)                                          # no classes: all 8 by their shares
    np.testing.assert_array_equal(np.bincount(without, minlength=8), [100] * 8)


def test_clusters_within_classes_refuse_bad_classes():
    x, y = _points()
    clusters = Clusters(4, dim=5, classes=3)
    with pytest.raises(ValueError, match="need the images' classes"):
        clusters.fit(x)
    with pytest.raises(ValueError, match="180 images but 3 classes"):
        clusters.fit(x, [0, 1, 2])
    with pytest.raises(ValueError, match=r"classes must lie in 0 … 2, got 0 … 3"):
        clusters.fit(x, np.minimum(y + 1, 3) * (y > 0))
    with pytest.raises(ValueError, match="class 2 has 3 images, fewer than k = 4"):
        clusters.fit(x, np.where(np.arange(len(x)) < 3, 2, y % 2))
    with pytest.raises(ValueError, match="class 1: kmeans: the 60 points take only 1 distinct values"):
        clusters.fit(np.where((y == 1)[:, None], 0.5, x), y)              # class 1: one image, 60 times
    with pytest.raises(ValueError, match="classes must be integers, got float64"):
        clusters.fit(x, y + 0.5)
    clusters.fit(x, y)
    with pytest.raises(ValueError, match="need the images' classes"):
        clusters.assign(x)
    with pytest.raises(ValueError, match=r"classes must lie in 0 … 2, got 1 … 5"):
        clusters.draw(2, None, [1, 5])
    with pytest.raises(ValueError, match="n = 3 but 2 classes"):
        clusters.draw(3, None, [0, 1])
    plain = Clusters(4, dim=5)
    plain.fit(x)
    with pytest.raises(ValueError, match="built without classes; pass classes=None"):
        plain.assign(x, y)
    with pytest.raises(ValueError, match="built without classes; pass classes=None"):
        plain.draw(3, None, [0, 1, 2])
    with pytest.raises(ValueError, match="classes must be at least 1"):
        Clusters(4, dim=5, classes=0)


TINY = ["--dataset", "digits", "--limit", "128", "--batch-size", "32", "--epochs", "1", "--channels", "8,8,8",
        "--steps", "2", "--quiet"]


@pytest.fixture(scope="module")
def class_cluster_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("class_cluster_run")
    assert cli.main(["train", "flow", "--conditional", "--clusters", "3", *TINY, "--out", str(root / "flow")]) == 0
    return root / "flow"


def test_the_network_is_told_class_and_cluster_and_the_user_asks_for_a_class(class_cluster_run, monkeypatch):
    recipe = open_run(class_cluster_run).recipe
    assert recipe.classes and recipe.n_classes == 10 and recipe.n_labels == 30
    from minigen.data import load_dataset
    ds = load_dataset("digits", True, None, 128)
    classes = ds.targets.copy()
    recipe.prepare(ds, True)                                              # labels → class·3 + nearest of its 3
    np.testing.assert_array_equal(ds.targets // 3, classes)
    np.testing.assert_array_equal(ds.targets, recipe.clusters.assign(ds.data.astype(np.float32) / 255, classes))
    import minigen.models.flow as flow
    told = []
    real = flow.sample
    monkeypatch.setattr(flow, "sample", lambda net, shape, s, n, w, y, *a, **k:
                        told.append(y.numpy()) or real(net, shape, s, n, w, y, *a, **k))
    noise = recipe.noise(300, np.random.default_rng(0))
    recipe.sample(noise, labels=7, rng=np.random.default_rng(1))
    assert set(told[-1] // 3) == {7} and len(set(told[-1])) == 3          # class 7's three clusters
    np.testing.assert_allclose(np.bincount(told[-1] % 3, minlength=3) / 300,
                               recipe.clusters.shares.numpy()[21:24] / recipe.clusters.shares.numpy()[21:24].sum(),
                               atol=1 / 300 + 1e-6)
    with pytest.raises(ValueError, match=r"labels must lie in 0 … 9, got 10 … 10"):
        recipe.sample(noise[:2], labels=10)                               # classes, not the network's 30 labels


def test_a_class_cluster_run_samples_with_seeded_clusters_and_scores_label_accuracy(class_cluster_run, tmp_path,
                                                                                     monkeypatch):
    """``minigen sample --seed`` draws the clusters of the asked class with that seed (the same seed: the same
    clusters and images; other seeds: other clusters); ``minigen eval`` draws fresh clusters for every batch and
    scores label accuracy against the asked classes."""
    import minigen.models.flow as flow
    told = []
    real_sample = flow.sample
    monkeypatch.setattr(flow, "sample", lambda net, shape, s, n, w, y, *a, **k:
                        told.append(tuple(y.numpy())) or real_sample(net, shape, s, n, w, y, *a, **k))
    outs = [tmp_path / f"{s}.npy" for s in ("a", "b")]
    for seed, out in zip((0, 0), outs):
        assert cli.main(["sample", str(class_cluster_run), "--n", "2", "--label", "3", "--seed", str(seed),
                         "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(outs[0]), np.load(outs[1]))
    assert told[0] == told[1]
    for seed in range(1, 12):
        assert cli.main(["sample", str(class_cluster_run), "--n", "2", "--label", "3", "--seed", str(seed),
                         "--out", str(outs[0])]) == 0
    assert len(set(told)) > 1 and all(set(np.array(t) // 3) == {3} for t in told)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "classifier", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--width", "4",
                     "--quiet", "--out", "runs/classifier-digits"]) == 0
    import minigen.evaluation as evaluation
    seen = []
    real = evaluation.label_accuracy
    monkeypatch.setattr(evaluation, "label_accuracy",
                        lambda p, labels: seen.append(np.asarray(labels)) or real(p, labels))
    from minigen.recipes.diffusion import DiffusionRecipe
    monkeypatch.setattr(DiffusionRecipe, "sample_batch", 1)                # one image a batch: 20 batches
    told.clear()
    assert cli.main(["eval", str(class_cluster_run), "--n-samples", "20", "--no-pictures",
                     "--out", "e.json"]) == 0
    asked = np.arange(20) % 10
    drawn = np.concatenate([np.array(t) for t in told])                   # a cluster of the asked class, and
    np.testing.assert_array_equal(drawn // 3, asked)                      # not the same one in every batch
    assert any(len(set(drawn[asked == c])) > 1 for c in range(10))
    results = json.loads((tmp_path / "e.json").read_text())
    assert "label_accuracy" in results
    np.testing.assert_array_equal(seen[0], np.arange(20) % 10)            # accuracy against the asked classes
    from minigen.data import load_dataset
    np.testing.assert_array_equal(seen[1], load_dataset("digits", False, None, 128).targets[:20])   # true classes


def test_eval_draws_fresh_clusters_for_every_batch(class_cluster_run, monkeypatch):
    """``minigen eval`` samples in batches; the clusters of the requested classes come from one generator across
    them (the same fixed draw in every batch would leave some clusters of a class never drawn)."""
    import minigen.evaluation as evaluation
    import minigen.models.flow as flow
    recipe = open_run(class_cluster_run).recipe
    recipe.clusters.shares.data[...] = 1 / 30                             # every cluster as likely
    told = []
    real = flow.sample
    monkeypatch.setattr(flow, "sample", lambda net, shape, s, n, w, y, *a, **k:
                        told.append(y.numpy()) or real(net, shape, s, n, w, y, *a, **k))
    evaluation.generate(recipe, 30, np.random.default_rng(0), np.zeros(30, np.int64), batch=1, progress=False,
                        label_rng=np.random.default_rng(1))
    assert set(np.concatenate(told)) == {0, 1, 2}                         # one image a batch, all three clusters
    told.clear()
    evaluation.generate(recipe, 6, np.random.default_rng(0), np.zeros(6, np.int64), batch=1, progress=False)
    assert set(np.concatenate(told)) == {1}                               # without the generator: fixed
