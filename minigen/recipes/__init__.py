"""Training recipes by name: ``minigen train NAME``."""

from .autoencoder import AERecipe, VAERecipe

RECIPES = {r.name: r for r in (AERecipe, VAERecipe)}


def get(name: str):
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]
