"""Residual generator and discriminator (SNGAN / BigGAN style).

Miyato et al. 2018 (spectral normalisation) and Brock et al. 2019 use these
instead of DCGAN's plain stacks from 64 pixels up: pre-activation residual
blocks with 3x3 convolutions, nearest-neighbour upsampling in the generator
(no checkerboard artefacts of strided transposed convolutions) and average
pooling in the discriminator, whose logit comes from globally pooled
features through one dense layer.
"""

from __future__ import annotations

import keras

from keras_gen.models.base import num_stages
from keras_gen.models.gan.dcgan import (
    discriminator_inputs,
    discriminator_outputs,
    generator_inputs,
    generator_norm,
)
from keras_gen.models.gan.layers import GlobalSumPooling2D, SpectralNormalization


def _init(seed, offset):
    return keras.initializers.GlorotUniform(None if seed is None else seed + offset)


def build_resnet_generator(
    image_size: int = 64,
    latent_dim: int = 128,
    width: int = 64,
    channels: int = 3,
    synchronized_bn: bool = False,
    num_classes: int | None = None,
    seed: int | None = None,
    name: str = "generator",
) -> keras.Model:
    """Residual generator: latent `[batch, latent_dim]` -> images in [-1, 1].

    A dense layer makes a 4x4 map of `width * 2**(stages - 1)` channels; each
    of the `log2(image_size / 4)` up-blocks doubles the resolution and halves
    the channels (64 px, width 64: 512 -> 256 -> 128 -> 64 -> 32).

    Args:
        image_size: output side, one of 32, 64, 128.
        latent_dim: size of the latent vector.
        width: channels of the 4x4 map are `width * 2**(stages - 1)`.
        channels: image channels.
        synchronized_bn: all-reduce batch-norm statistics across replicas.
        num_classes: number of classes (inputs `[z, label]` and
            class-conditional batch norm); None: unconditional.
        seed: seed of the weight initialisers (None: random).
        name: model name.

    Example:
    >>> g = build_resnet_generator(image_size=32, latent_dim=16, width=8)
    >>> g(keras.random.normal((2, 16))).shape
    (2, 32, 32, 3)
    """
    stages = num_stages(image_size)
    filters = width * 2 ** (stages - 1)
    z, label, inputs = generator_inputs(latent_dim, num_classes)
    x = keras.layers.Dense(
        4 * 4 * filters, kernel_initializer=_init(seed, 0), name="project"
    )(z)
    x = keras.layers.Reshape((4, 4, filters))(x)
    for i in range(1, stages + 1):
        out = max(filters // 2, 1)
        # Pre-activation block: BN-ReLU-up-conv-BN-ReLU-conv, plus a learned
        # 1x1 shortcut of the upsampled input (the channel count changes).
        h = generator_norm(num_classes, synchronized_bn, None, f"block{i}_bn1")(
            x, label
        )
        h = keras.layers.ReLU()(h)
        h = keras.layers.UpSampling2D(2, name=f"block{i}_up")(h)
        h = keras.layers.Conv2D(
            out, 3, padding="same", kernel_initializer=_init(seed, 10 * i + 1),
            name=f"block{i}_conv1",
        )(h)
        h = generator_norm(num_classes, synchronized_bn, None, f"block{i}_bn2")(
            h, label
        )
        h = keras.layers.ReLU()(h)
        h = keras.layers.Conv2D(
            out, 3, padding="same", kernel_initializer=_init(seed, 10 * i + 2),
            name=f"block{i}_conv2",
        )(h)
        s = keras.layers.UpSampling2D(2, name=f"block{i}_skip_up")(x)
        s = keras.layers.Conv2D(
            out, 1, kernel_initializer=_init(seed, 10 * i + 3), name=f"block{i}_skip"
        )(s)
        x = keras.layers.Add(name=f"block{i}")([h, s])
        filters = out
    x = generator_norm(num_classes, synchronized_bn, None, "out_bn")(x, label)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(
        channels, 3, padding="same", kernel_initializer=_init(seed, 999),
        name="to_rgb",
    )(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, images, name=name)


def build_resnet_discriminator(
    image_size: int = 64,
    width: int = 64,
    channels: int = 3,
    synchronized_bn: bool = False,
    spectral_norm: bool = True,
    num_classes: int | None = None,
    seed: int | None = None,
    name: str = "discriminator",
    class_head: bool = False,
) -> keras.Model:
    """Residual discriminator: images in [-1, 1] -> one logit per image.

    `log2(image_size / 4)` down-blocks (the first without a leading ReLU, as
    SNGAN's "optimized" block) take the channels from `width` up by 2x per
    block; ReLU, global sum pooling and a dense layer give the logit. There
    is no batch norm: the discriminator is meant to be spectrally normalised.

    Args:
        image_size: input side, one of 32, 64, 128.
        width: channels of the first block.
        channels: image channels.
        synchronized_bn: accepted for the common discriminator signature;
            there is no batch norm to synchronise.
        spectral_norm: wrap every convolution and the dense layer in spectral
            normalisation (default True, as in SNGAN).
        num_classes: number of classes (inputs `[images, label]` and a
            projection term); None: unconditional.
        seed: seed of the weight initialisers (None: random).
        name: model name.
        class_head: also output AC-GAN class logits (conditional only).

    Example:
    >>> d = build_resnet_discriminator(image_size=32, width=8)
    >>> d(keras.random.uniform((2, 32, 32, 3))).shape
    (2, 1)
    """
    del synchronized_bn
    stages = num_stages(image_size)
    images, label, inputs = discriminator_inputs(image_size, channels, num_classes)

    def sn(layer):
        return SpectralNormalization(layer) if spectral_norm else layer

    def conv(filters, kernel, offset, name):
        return sn(
            keras.layers.Conv2D(
                filters, kernel, padding="same",
                kernel_initializer=_init(seed, 500 + offset), name=name,
            )
        )

    x = images
    filters = width
    for i in range(stages):
        first = i == 0
        h = x if first else keras.layers.ReLU()(x)
        h = conv(filters, 3, 10 * i + 1, f"dblock{i}_conv1")(h)
        h = keras.layers.ReLU()(h)
        h = conv(filters, 3, 10 * i + 2, f"dblock{i}_conv2")(h)
        h = keras.layers.AveragePooling2D(2)(h)
        # Pooling before the 1x1 convolution is the same linear map at a
        # quarter of the cost; SNGAN's first block does it that way round.
        s = keras.layers.AveragePooling2D(2)(x)
        s = conv(filters, 1, 10 * i + 3, f"dblock{i}_skip")(s)
        x = keras.layers.Add(name=f"dblock{i}")([h, s])
        filters *= 2
    x = keras.layers.ReLU()(x)
    features = GlobalSumPooling2D(dtype="float32", name="sum_pool")(x)
    logits = sn(
        keras.layers.Dense(
            1, kernel_initializer=_init(seed, 998), dtype="float32", name="logit"
        )
    )(features)
    outputs = discriminator_outputs(
        logits, features, label, num_classes, spectral_norm, class_head
    )
    return keras.Model(inputs, outputs, name=name)
