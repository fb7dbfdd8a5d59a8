"""A deterministic, fully convolutional denoising autoencoder."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_gen.models.base import (
    PresetMixin,
    SeedStateMixin,
    deserialize_networks,
    images_from_data,
)
from keras_gen.models.distributed import average_over_global_batch
from keras_gen.models.vae.corruption import corrupt, normalize_spec


def build_dae_network(
    width: int = 32,
    depth: int = 4,
    channels: int = 3,
    downsample: bool = True,
    name: str = "dae",
) -> keras.Model:
    """Conv encoder/decoder without skip connections, for images of any size.

    With `downsample` (the default): two 3x3 convolutions at full resolution,
    a strided convolution to half resolution with `2 * width` filters,
    `depth` 3x3 convolutions there, a transposed convolution back and two
    3x3 convolutions to `channels` outputs (image sides must be even;
    `keras_gen.denoise` pads). Without: `depth + 2` 3x3 convolutions of
    `width` filters at full resolution (a DnCNN-like stack), which keeps the
    pixel detail that a strided bottleneck loses; at equal cost it denoised
    better in `benchmarks/denoise.py`. No dense layer: the input size is
    free, so whole photos are denoised in one pass.

    Args:
        width: filters at full resolution (twice that at half resolution).
        depth: convolutions at half resolution (or inner full-resolution ones).
        channels: image channels.
        downsample: use the strided half-resolution middle.
        name: model name.

    Example:
    >>> net = build_dae_network(width=8, depth=1)
    >>> net(keras.random.uniform((2, 32, 48, 3))).shape
    (2, 32, 48, 3)
    """
    images = keras.Input((None, None, channels), name="images")
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="in0")(
        images
    )
    if downsample:
        x = keras.layers.Conv2D(
            width, 3, padding="same", activation="relu", name="in1"
        )(x)
        x = keras.layers.Conv2D(
            2 * width, 4, 2, padding="same", activation="relu", name="down"
        )(x)
    for i in range(depth):
        x = keras.layers.Conv2D(
            2 * width if downsample else width,
            3,
            padding="same",
            activation="relu",
            name=f"mid{i}",
        )(x)
    if downsample:
        x = keras.layers.Conv2DTranspose(
            width, 4, 2, padding="same", activation="relu", name="up"
        )(x)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="out0")(x)
    out = keras.layers.Conv2D(channels, 3, padding="same", dtype="float32", name="out")(
        x
    )
    return keras.Model(images, out, name=name)


def build_dae_unet(
    width: int = 32,
    depth: int = 2,
    channels: int = 3,
    levels: int = 2,
    name: str = "dae_unet",
) -> keras.Model:
    """U-Net denoiser: full-resolution detail and a wide receptive field.

    Each of `levels` stages halves the resolution with a 2x2 stride-2
    convolution and doubles the filters; `depth` pairs of 3x3 convolutions
    at every resolution (twice that at the bottom). The way up mirrors it
    with 2x2 transposed convolutions whose output is added to the skip
    connection of the same resolution (additive skips, as DRUNet: fewer
    weights than concatenation at the same quality). A blind denoiser has to
    estimate the noise level from a wide context, which the shallow
    full-resolution stack cannot see; the strided stages give it that
    context cheaply (most convolutions run at 1/4 and 1/16 of the pixels).
    Image sides must be multiples of `2 ** levels`: `DenoisingAutoencoder`
    pads them.

    Args:
        width: filters at full resolution (doubled at every level).
        depth: 3x3 convolution pairs per resolution.
        channels: image channels.
        levels: number of half-resolution stages.
        name: model name.

    Example:
    >>> net = build_dae_unet(width=8, depth=1, levels=2)
    >>> net(keras.random.uniform((2, 32, 48, 3))).shape
    (2, 32, 48, 3)
    """
    conv = keras.layers.Conv2D

    def block(x, filters, n, tag):
        for i in range(2 * n):
            x = conv(filters, 3, padding="same", activation="relu", name=f"{tag}{i}")(x)
        return x

    images = keras.Input((None, None, channels), name="images")
    x = conv(width, 3, padding="same", activation="relu", name="in")(images)
    skips = []
    for level in range(levels):
        x = block(x, width * 2**level, depth, f"enc{level}")
        skips.append(x)
        x = conv(width * 2 ** (level + 1), 2, 2, name=f"down{level}")(x)
    x = block(x, width * 2**levels, 2 * depth, "mid")
    for level in reversed(range(levels)):
        x = keras.layers.Conv2DTranspose(
            width * 2**level, 2, 2, name=f"up{level}"
        )(x)
        x = keras.layers.Add(name=f"skip{level}")([x, skips[level]])
        x = block(x, width * 2**level, depth, f"dec{level}")
    out = conv(channels, 3, padding="same", dtype="float32", name="out")(x)
    return keras.Model(images, out, name=name)


def size_multiple(network: keras.Model) -> int:
    """The factor image sides must be a multiple of (2 per stride-2 stage)."""
    factor = 1
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(
            layer, keras.layers.Conv2DTranspose
        ):
            factor *= int(layer.strides[0])
    return factor


@keras.saving.register_keras_serializable(package="keras_gen")
class DenoisingAutoencoder(PresetMixin, SeedStateMixin, keras.Model):
    """Deterministic denoising autoencoder trained on clean images.

    `train_step` corrupts each batch on the fly (see
    `keras_gen.models.vae.corruption`) and minimises the squared error
    between the output and the clean batch (per example, averaged over the
    global batch). With `residual=True` the network predicts the noise and
    the output is `input - network(input)`, which starts training at the
    identity (PSNR of the noisy input) instead of at a grey image.

    Args:
        network: model mapping images in [0, 1] to images (or to the noise).
        denoising: corruption spec (dict, see `corruption.normalize_spec`);
            None means a plain autoencoder.
        residual: predict the noise instead of the clean image.
        seed: seed of the corruption noise.

    Example:
    >>> dae = DenoisingAutoencoder(build_dae_network(8, 1),
    ...                            {"noise": "gaussian", "sigma": 0.1}, seed=0)
    >>> dae.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> images = keras.random.uniform((8, 32, 32, 3))
    >>> history = dae.fit(images, batch_size=4, epochs=1, verbose=0)
    >>> dae.denoise(images[:2]).shape
    (2, 32, 32, 3)
    """

    value_range = (0.0, 1.0)

    def __init__(
        self,
        network: keras.Model,
        denoising: dict | None = None,
        residual: bool = True,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.network = network
        self.denoising = normalize_spec(denoising)
        self.residual = residual
        self.seed = seed
        self._multiple = size_multiple(network)
        self.noise_seed = keras.random.SeedGenerator(seed)
        self._loss_tracker = keras.metrics.Mean(name="loss")
        self._psnr_tracker = keras.metrics.Mean(name="psnr")
        self.built = True

    def call(self, images, training=False):
        images = ops.cast(images, "float32")
        out = ops.cast(self._network_any_size(images, training), "float32")
        return images - out if self.residual else out

    def _network_any_size(self, images, training):
        # Strided networks need sides that are multiples of their stride
        # product: mirror-pad to the next one and crop back, so every
        # caller (fit, denoise, the export) gets any size for free.
        m = self._multiple
        if m == 1:
            return self.network(images, training=training)
        h, w = tf.shape(images)[1], tf.shape(images)[2]
        pads = [[0, 0], [0, (m - h % m) % m], [0, (m - w % m) % m], [0, 0]]
        out = self.network(tf.pad(images, pads, mode="SYMMETRIC"), training=training)
        return out[:, :h, :w, :]

    def denoise(self, images):
        """Images in [0, 1] -> denoised images in [0, 1]."""
        return ops.clip(self(images, training=False), 0.0, 1.0)

    def reconstruct(self, images):
        return self.denoise(images)

    def compile(self, optimizer="adam", **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips compiling models whose compile() is overridden.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def _per_example(self, clean, noisy, training):
        out = self(noisy, training=training)
        error = ops.square(out - ops.cast(clean, "float32"))
        return ops.mean(ops.reshape(error, (ops.shape(error)[0], -1)), axis=1)

    def _noisy(self, clean):
        if self.denoising is None:
            return ops.cast(clean, "float32")
        return corrupt(clean, self.denoising, self.noise_seed)

    def train_step(self, data):
        clean = images_from_data(data)
        noisy = self._noisy(clean)
        with tf.GradientTape() as tape:
            per_example = self._per_example(clean, noisy, training=True)
            loss = self.optimizer.scale_loss(average_over_global_batch(per_example))
        variables = self.network.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return self._track(per_example)

    def test_step(self, data):
        # Validation corrupts too: the number of interest is the denoising
        # error, and fresh noise per call keeps it unbiased.
        clean = images_from_data(data)
        per_example = self._per_example(clean, self._noisy(clean), training=False)
        return self._track(per_example)

    def _track(self, per_example):
        # PSNR per image (peak 1, images in [0, 1]), then averaged: the
        # figure denoising papers report.
        psnr = -10.0 * ops.log10(ops.maximum(per_example, 1e-10))
        self._loss_tracker.update_state(ops.mean(per_example))
        self._psnr_tracker.update_state(ops.mean(psnr))
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self._loss_tracker, self._psnr_tracker]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "network": keras.layers.serialize(self.network),
                "denoising": self.denoising,
                "residual": self.residual,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_networks(config, "network"))
