"""Models built from minigen's layers: small, annotated, with shapes in comments."""

from .autoencoder import Autoencoder, ConvAutoencoder  # noqa: F401
from .vae import VAE, ConvVAE, importance_weighted_nll, kl_divergence, loss_function, reparameterize  # noqa: F401
