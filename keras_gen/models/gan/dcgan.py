"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016).

All-convolutional networks: strided transposed convolutions with batch norm and
ReLU in the generator (tanh output), strided convolutions with LeakyReLU(0.2)
and batch norm in the discriminator (none on its first layer), weights drawn
from N(0, 0.02) and batch-norm scales from N(1, 0.02).
"""

from __future__ import annotations

import keras

from keras_gen.models.base import SUPPORTED_SIZES, num_stages  # noqa: F401 (re-export)
from keras_gen.models.fused_batch_norm import FusedBatchNormalization
from keras_gen.models.gan.layers import (
    ClassProjection,
    ConditionalBatchNormalization,
    GlobalSumPooling2D,
    SpectralNormalization,
)
from keras_gen.models.patch_grad_conv import PatchGradConv2D, PatchGradConv2DTranspose


def _conv_init(seed):
    return keras.initializers.RandomNormal(0.0, 0.02, seed=seed)


def _batch_norm(synchronized: bool, seed, name: str):
    # TF's fused kernel: same variables and maths, faster step (issue 9).
    return FusedBatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02, seed=seed),
        synchronized=synchronized,
        name=name,
    )


def _seed(seed, offset):
    return None if seed is None else seed + offset


def generator_norm(num_classes, synchronized: bool, seed, name: str):
    """Batch norm, or class-conditional batch norm when `num_classes` is set.

    Returns a function of `(x, label)` so that both kinds are called alike.
    """
    if num_classes:
        layer = ConditionalBatchNormalization(
            num_classes,
            momentum=0.9,
            epsilon=1e-5,
            synchronized=synchronized,
            gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02, seed=seed),
            name=name,
        )
        return lambda x, label: layer([x, label])
    layer = _batch_norm(synchronized, seed, name)
    return lambda x, label: layer(x)


def generator_inputs(latent_dim: int, num_classes):
    """The generator's `z` input and, when conditional, its `label` input."""
    z = keras.Input((latent_dim,), name="z")
    if not num_classes:
        return z, None, z
    label = keras.Input((), dtype="int32", name="label")
    return z, label, [z, label]


def discriminator_outputs(
    logits, features, label, num_classes, spectral_norm, class_head=False, extra=None
):
    """A discriminator's outputs from its logit and its pooled `features`.

    A conditional discriminator adds the projection term to the logit
    (`add_class_projection`); `class_head` adds AC-GAN's class logits
    `[batch, num_classes]` (Odena et al. 2017), read by
    `GAN(class_loss_weight=...)`. Returns the logits alone, or a dict with
    `logits`, `class_logits` and the `extra` named outputs when there are any.
    """
    if num_classes:
        logits = add_class_projection(
            logits, features, label, num_classes, spectral_norm
        )
    outputs = {"logits": logits, **(extra or {})}
    if class_head:
        if not num_classes:
            raise ValueError("class_head needs num_classes (a conditional model)")
        # Never spectrally normalised: the adversarial logit needs the
        # Lipschitz bound, the class logits need a free scale. Under spectral
        # norm they stayed within about +-1 of each other on D's features, and
        # the cross-entropy of 6 room types stuck near chance (1.71 against
        # ln 6 = 1.79 after 72,000 images of rooms64).
        head = keras.layers.Dense(num_classes, dtype="float32", name="class_logits")
        outputs["class_logits"] = head(features)
    return logits if len(outputs) == 1 else outputs


def add_class_projection(logits, features, label, num_classes, spectral_norm):
    """`logits + <embed(label), features>`: the projection discriminator's output."""
    projection = ClassProjection(
        num_classes, spectral_norm=spectral_norm, dtype="float32", name="projection"
    )([features, label])
    return keras.layers.Add(dtype="float32", name="conditional_logits")(
        [logits, projection]
    )


def discriminator_inputs(image_size: int, channels: int, num_classes):
    """The discriminator's `images` input and, when conditional, `label`."""
    images = keras.Input((image_size, image_size, channels), name="images")
    if not num_classes:
        return images, None, images
    label = keras.Input((), dtype="int32", name="label")
    return images, label, [images, label]


def build_dcgan_generator(
    image_size: int = 64,
    latent_dim: int = 100,
    width: int = 64,
    channels: int = 3,
    synchronized_bn: bool = False,
    num_classes: int | None = None,
    seed: int | None = None,
    name: str = "generator",
) -> keras.Model:
    """DCGAN generator: latent `[batch, latent_dim]` -> images in [-1, 1].

    With `num_classes`, the model takes `[z, label]` and every batch norm is
    class-conditional (`ConditionalBatchNormalization`).

    Args:
        image_size: output side, one of 32, 64, 128.
        latent_dim: size of the latent vector.
        width: filters of the last hidden layer; each earlier layer has twice
            the filters of the next (64 gives 512-256-128-64 at 64x64, the
            PyTorch DCGAN example's `ngf=64`).
        channels: image channels.
        synchronized_bn: all-reduce batch-norm statistics across replicas, so
            that N replicas normalise over the global batch like one device.
        num_classes: number of classes of a conditional generator (None:
            unconditional).
        seed: seed of the weight initialisers (None: random).
        name: model name.

    Example:
    >>> g = build_dcgan_generator(image_size=32, latent_dim=16, width=8)
    >>> g(keras.random.normal((2, 16))).shape
    (2, 32, 32, 3)
    """
    stages = num_stages(image_size)
    filters = width * 2 ** (stages - 1)
    z, label, inputs = generator_inputs(latent_dim, num_classes)
    # A 1x1 input through a 4x4 valid transposed convolution is the paper's
    # "project and reshape" layer.
    x = keras.layers.Reshape((1, 1, latent_dim))(z)
    x = keras.layers.Conv2DTranspose(
        filters,
        4,
        1,
        "valid",
        use_bias=False,
        kernel_initializer=_conv_init(_seed(seed, 0)),
        name="project",
    )(x)
    x = generator_norm(num_classes, synchronized_bn, _seed(seed, 100), "project_bn")(
        x, label
    )
    x = keras.layers.ReLU()(x)
    for i in range(1, stages):
        filters //= 2
        x = PatchGradConv2DTranspose(
            filters,
            4,
            2,
            "same",
            use_bias=False,
            kernel_initializer=_conv_init(_seed(seed, i)),
            name=f"up{i}",
        )(x)
        x = generator_norm(
            num_classes, synchronized_bn, _seed(seed, 100 + i), f"up{i}_bn"
        )(x, label)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(
        channels,
        4,
        2,
        "same",
        kernel_initializer=_conv_init(_seed(seed, stages)),
        name="to_rgb",
    )(x)
    # tanh in float32 so that mixed precision never saturates early in half.
    images = keras.layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, images, name=name)


def build_dcgan_discriminator(
    image_size: int = 64,
    width: int = 64,
    channels: int = 3,
    synchronized_bn: bool = False,
    spectral_norm: bool = False,
    num_classes: int | None = None,
    seed: int | None = None,
    name: str = "discriminator",
    class_head: bool = False,
) -> keras.Model:
    """DCGAN discriminator: images in [-1, 1] -> one logit per image.

    With `num_classes`, the model takes `[images, label]` and adds the
    projection term `<embed(label), sum-pooled features>` to the logit.

    Args:
        image_size: input side, one of 32, 64, 128.
        width: filters of the first layer, doubled at every stride.
        channels: image channels.
        synchronized_bn: all-reduce batch-norm statistics across replicas.
        spectral_norm: wrap every convolution in spectral normalisation
            (Miyato et al. 2018) instead of using batch norm, which bounds
            the discriminator's Lipschitz constant (pairs with the hinge loss).
        num_classes: number of classes of a projection discriminator (None:
            unconditional).
        seed: seed of the weight initialisers (None: random).
        name: model name.
        class_head: also output AC-GAN class logits (`discriminator_outputs`).

    Example:
    >>> d = build_dcgan_discriminator(image_size=32, width=8)
    >>> d(keras.random.uniform((2, 32, 32, 3))).shape
    (2, 1)
    """
    stages = num_stages(image_size)
    images, label, inputs = discriminator_inputs(image_size, channels, num_classes)
    x = images
    filters = width

    def conv(layer):
        return SpectralNormalization(layer) if spectral_norm else layer

    for i in range(stages):
        x = conv(
            PatchGradConv2D(
                filters,
                4,
                2,
                "same",
                use_bias=(i == 0 or spectral_norm),
                kernel_initializer=_conv_init(_seed(seed, 200 + i)),
                name=f"down{i}",
            )
        )(x)
        if i > 0 and not spectral_norm:
            x = _batch_norm(synchronized_bn, _seed(seed, 300 + i), f"down{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        filters *= 2
    features = x
    x = conv(
        keras.layers.Conv2D(
            1,
            4,
            1,
            "valid",
            kernel_initializer=_conv_init(_seed(seed, 299)),
            name="logit",
        )
    )(x)
    logits = keras.layers.Flatten(dtype="float32", name="logits")(x)
    pooled = None
    if num_classes:  # summed like the logit: a mean made the class term 16x weaker
        pooled = GlobalSumPooling2D(dtype="float32", name="class_pool")(features)
    outputs = discriminator_outputs(
        logits, pooled, label, num_classes, spectral_norm, class_head
    )
    return keras.Model(inputs, outputs, name=name)
