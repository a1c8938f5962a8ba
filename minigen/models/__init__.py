"""Models built from minigen's layers: small, annotated, with shapes in comments."""

from .autoencoder import Autoencoder, ConvAutoencoder  # noqa: F401
from .vae import VAE, ConvVAE, importance_weighted_nll, kl_divergence, loss_function, reparameterize  # noqa: F401
from .gan import Discriminator, Generator, ToyDiscriminator, ToyGenerator  # noqa: F401
from .dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: F401
from .cgan import ConditionalDiscriminator, ConditionalGenerator  # noqa: F401
from .wgan_gp import Critic, gradient_penalty  # noqa: F401
from .classifier import Classifier  # noqa: F401
from .noisy_classifier import NoisyClassifier  # noqa: F401
from .unet import TimeMLP, UNet  # noqa: F401
from . import diffusion, flow  # noqa: F401
from .clusters import Clusters  # noqa: F401
