"""The trained runs committed under ``pretrained/``: each opens as ``minigen sample`` and ``minigen eval`` open it,
draws images with its default sampling, and that default is the sampling its README figures were measured with:
a 10,000-sample evaluation file of exactly that sampler, step count, guidance weight and interval sits beside it.
(An export that dropped the guidance interval would sample differently from what its figures describe.)"""

import json
from pathlib import Path

import numpy as np
import pytest

from minigen.evaluation import eval_file_name
from minigen.train import open_run

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"
RUNS = sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").exists())
GENERATORS = [name for name in RUNS
              if json.loads((PRETRAINED / name / "config.json").read_text())["model"] in ("ddpm", "flow")]


def test_every_run_is_found():
    assert "classifier-mnist" in RUNS and "flow-cond-mnist" in GENERATORS and len(GENERATORS) >= 5


@pytest.mark.parametrize("name", RUNS)
def test_opens(name):
    run = open_run(PRETRAINED / name)
    assert run.config["model"] and not run.recipe.model.training        # restored, in evaluation mode


@pytest.mark.parametrize("name", GENERATORS)
def test_default_sampling_is_the_measured_one(name):
    """The run's default sampling has its own 10,000-sample evaluation: `minigen eval` names the file after the
    sampler, steps, guidance weight and interval it sampled with."""
    recipe = open_run(PRETRAINED / name).recipe
    path = PRETRAINED / name / eval_file_name(recipe)
    assert path.exists(), f"{name}: its default sampling ({recipe.describe_sampling()}) has no {path.name}"
    results = json.loads(path.read_text())
    assert results["n"] == 10_000 and results["sampling"].startswith(f"{recipe.option('sampler')}, "
                                                                      f"{recipe.option('steps')} steps")


@pytest.mark.parametrize("name", GENERATORS)
def test_samples_with_its_defaults(name):
    """Two images in [0, 1] from the default sampling, at the network evaluations its evaluation file states."""
    recipe = open_run(PRETRAINED / name).recipe
    rng = np.random.default_rng(0)
    images = recipe.sample(recipe.noise(2, rng), recipe.labels(2, rng=rng), rng=rng)
    assert images.shape == (2, 28, 28) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1 and images.std() > 0.1   # digits, not a flat grey
    measured = json.loads((PRETRAINED / name / eval_file_name(recipe)).read_text())
    assert recipe.last_nfe == measured["nfe_per_sample"]
