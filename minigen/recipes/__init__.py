"""Training recipes by name: ``minigen train NAME``."""

from .autoencoder import AERecipe, VAERecipe
from .classifier import ClassifierRecipe
from .noisy_classifier import NoisyClassifierRecipe
from .diffusion import DiffusionRecipe, FlowRecipe
from .gan import CGANRecipe, DCGANRecipe, GANRecipe, WGANGPRecipe
from .regression import RegressionRecipe

RECIPES = {r.name: r for r in (AERecipe, VAERecipe, ClassifierRecipe, GANRecipe, DCGANRecipe, CGANRecipe,
                               WGANGPRecipe, DiffusionRecipe, FlowRecipe, NoisyClassifierRecipe,
                               RegressionRecipe)}


def get(name: str):
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]
