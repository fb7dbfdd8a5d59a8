"""Model families. Importing this registers every class for `.keras` loading."""

from keras_gen.models.base import GenerativeModel, latents_from_seeds
from keras_gen.models.fused_batch_norm import FusedBatchNormalization
from keras_gen.models.gan.gan import GAN
from keras_gen.models.gan.layers import (
    GLU,
    ClassProjection,
    ConditionalBatchNormalization,
    GlobalSumPooling2D,
    RandomQuadrantCrop,
    ReconstructionError,
    SpectralNormalization,
)
from keras_gen.models.patch_grad_conv import (
    PatchGradConv2D,
    PatchGradConv2DTranspose,
)
from keras_gen.models.series.autoencoder import SeriesAutoencoder, SeriesVAE
from keras_gen.models.vae.dae import DenoisingAutoencoder
from keras_gen.models.vae.vae import VAE, Sampling

__all__ = [
    "GAN",
    "VAE",
    "ClassProjection",
    "ConditionalBatchNormalization",
    "FusedBatchNormalization",
    "DenoisingAutoencoder",
    "GLU",
    "GenerativeModel",
    "GlobalSumPooling2D",
    "PatchGradConv2D",
    "PatchGradConv2DTranspose",
    "RandomQuadrantCrop",
    "ReconstructionError",
    "Sampling",
    "SeriesAutoencoder",
    "SeriesVAE",
    "SpectralNormalization",
    "latents_from_seeds",
]
