"""Convolutional encoder and decoder of the VAE."""

from __future__ import annotations

import keras

from keras_gen.models.base import SUPPORTED_SIZES, num_stages  # noqa: F401 (re-export)
from keras_gen.models.patch_grad_conv import PatchGradConv2D, PatchGradConv2DTranspose


def _with_label(x, first_input, num_classes: int | None):
    """(`x` with the label's one-hot code appended, the model's inputs)."""
    if not num_classes:
        return x, first_input
    label = keras.Input((), dtype="int32", name="label")
    one_hot = keras.layers.CategoryEncoding(
        num_classes, output_mode="one_hot", name="label_one_hot"
    )(label)
    return keras.layers.Concatenate(name="with_label")([x, one_hot]), [
        first_input,
        label,
    ]


def build_vae_encoder(
    image_size: int = 64,
    latent_dim: int = 128,
    width: int = 32,
    channels: int = 3,
    name: str = "encoder",
    num_classes: int | None = None,
) -> keras.Model:
    """Encoder: images in [0, 1] -> (z_mean, z_log_var), each `[batch, latent_dim]`.

    Strided 4x4 convolutions halve the side down to 4x4, doubling the filters
    from `width`; two dense heads give the posterior's mean and log-variance.

    Args:
        image_size: input side, one of 32, 64, 128.
        latent_dim: size of the latent space.
        width: filters of the first convolution.
        channels: image channels.
        name: model name.
        num_classes: conditional VAE: the model takes `[images, label]` (int
            class ids) and sees the label's one-hot code next to the
            flattened features.

    Example:
    >>> enc = build_vae_encoder(image_size=32, latent_dim=8, width=8)
    >>> [t.shape for t in enc(keras.random.uniform((2, 32, 32, 3)))]
    [(2, 8), (2, 8)]
    """
    return _encoder(
        image_size, latent_dim, width, channels, name, num_classes, residual=False
    )


def build_vae_decoder(
    image_size: int = 64,
    latent_dim: int = 128,
    width: int = 32,
    channels: int = 3,
    name: str = "decoder",
    num_classes: int | None = None,
) -> keras.Model:
    """Decoder: latents `[batch, latent_dim]` -> pixel logits `[batch, H, W, C]`.

    The VAE applies the sigmoid; keeping logits here lets the Bernoulli
    likelihood use the numerically stable cross-entropy with logits.

    Args:
        image_size: output side, one of 32, 64, 128.
        latent_dim: size of the latent space.
        width: filters of the last upsampling stage (mirror of the encoder).
        channels: image channels.
        name: model name.
        num_classes: conditional VAE: the model takes `[z, label]` and
            decodes `concat(z, one_hot(label))`.

    Example:
    >>> dec = build_vae_decoder(image_size=32, latent_dim=8, width=8)
    >>> dec(keras.random.normal((2, 8))).shape
    (2, 32, 32, 3)
    """
    return _decoder(
        image_size, latent_dim, width, channels, name, num_classes, residual=False
    )


def _encoder(image_size, latent_dim, width, channels, name, num_classes, residual):
    """The conv encoder; `residual` adds a residual block after each stage."""
    stages = num_stages(image_size)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    filters = width
    for i in range(stages):
        # ReLU, not LeakyReLU: TF 2.21's grappler fails to fuse
        # Conv2D+BiasAdd+LeakyRelu with its gradient ("remapper failed") and
        # then skips all fusions of the step; ReLU fuses and ran ~13% faster.
        x = PatchGradConv2D(filters, 4, 2, "same", activation="relu", name=f"down{i}")(
            x
        )
        if residual:
            x = _residual_block(x, filters, f"res{i}")
        filters = min(filters * 2, width * 8)
    x = keras.layers.Flatten()(x)
    x, inputs = _with_label(x, images, num_classes)
    z_mean = keras.layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    # Zero init starts the posterior at unit variance, which keeps the first
    # KL terms small and stable.
    z_log_var = keras.layers.Dense(
        latent_dim, kernel_initializer="zeros", dtype="float32", name="z_log_var"
    )(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def _decoder(image_size, latent_dim, width, channels, name, num_classes, residual):
    """The conv decoder; `residual` adds a residual block after each stage."""
    stages = num_stages(image_size)
    filters = min(width * 2 ** (stages - 1), width * 8)
    z = keras.Input((latent_dim,), name="z")
    x, inputs = _with_label(z, z, num_classes)
    x = keras.layers.Dense(4 * 4 * filters, activation="relu", name="project")(x)
    x = keras.layers.Reshape((4, 4, filters))(x)
    for i in range(stages):
        filters = max(filters // 2, width) if i < stages - 1 else width
        x = PatchGradConv2DTranspose(
            filters, 4, 2, "same", activation="relu", name=f"up{i}"
        )(x)
        if residual:
            x = _residual_block(x, filters, f"res{i}")
    logits = keras.layers.Conv2D(
        channels, 3, 1, "same", dtype="float32", name="logits"
    )(x)
    return keras.Model(inputs, logits, name=name)


def _residual_block(x, filters: int, name: str):
    # Pre-activation-free block (conv-relu-conv + identity, then ReLU): keeps
    # the ReLU-only activations that grappler fuses (see build_vae_encoder).
    y = keras.layers.Conv2D(
        filters, 3, padding="same", activation="relu", name=f"{name}_a"
    )(x)
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_b")(y)
    return keras.layers.ReLU(name=f"{name}_out")(
        keras.layers.Add(name=f"{name}_add")([x, y])
    )


def build_residual_encoder(
    image_size: int = 64,
    latent_dim: int = 128,
    width: int = 32,
    channels: int = 3,
    name: str = "encoder",
    num_classes: int | None = None,
) -> keras.Model:
    """Residual encoder: each strided convolution is followed by a residual block.

    Same interface and resolutions as `build_vae_encoder` (down to 4x4, filters
    doubling from `width` up to `8 * width`); the residual blocks add depth
    without hurting gradient flow, which the 64 and 128 px models need.

    Args:
        image_size: input side, one of 32, 64, 128.
        latent_dim: size of the latent space.
        width: filters of the first stage.
        channels: image channels.
        name: model name.
        num_classes: conditional VAE (see `build_vae_encoder`).

    Example:
    >>> enc = build_residual_encoder(image_size=64, latent_dim=8, width=8)
    >>> [t.shape for t in enc(keras.random.uniform((2, 64, 64, 3)))]
    [(2, 8), (2, 8)]
    """
    return _encoder(
        image_size, latent_dim, width, channels, name, num_classes, residual=True
    )


def build_residual_decoder(
    image_size: int = 64,
    latent_dim: int = 128,
    width: int = 32,
    channels: int = 3,
    name: str = "decoder",
    num_classes: int | None = None,
) -> keras.Model:
    """Residual decoder: each transposed convolution is followed by a residual block.

    Mirror of `build_residual_encoder`; outputs pixel logits like
    `build_vae_decoder`.

    Args:
        image_size: output side, one of 32, 64, 128.
        latent_dim: size of the latent space.
        width: filters of the last stage.
        channels: image channels.
        name: model name.
        num_classes: conditional VAE (see `build_vae_decoder`).

    Example:
    >>> dec = build_residual_decoder(image_size=64, latent_dim=8, width=8)
    >>> dec(keras.random.normal((2, 8))).shape
    (2, 64, 64, 3)
    """
    return _decoder(
        image_size, latent_dim, width, channels, name, num_classes, residual=True
    )


VAE_ARCHITECTURES = {
    "conv": (build_vae_encoder, build_vae_decoder),
    "residual": (build_residual_encoder, build_residual_decoder),
}
