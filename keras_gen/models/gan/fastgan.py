"""FastGAN-style networks for small compute and small data (Liu et al. 2021).

"Towards Faster and Stabilized GAN Training for High-fidelity Few-shot Image
Synthesis" trains on ~1,000 images in hours on one GPU with two ideas, both
kept here at a size for 64x64 rooms on a CPU:

- the generator's skip-layer excitation (SLE): a low-resolution map (4x4,
  8x8) gates the channels of a map 8 times larger, a cheap long-range path
  that carries layout (where the bed, the window, the floor are) to the
  layers that draw texture. Upsampling is nearest-neighbour plus a 3x3
  convolution (no checkerboard), and the activations are gated linear units;
- a self-supervised discriminator: two small decoders rebuild the image (at
  half size) from D's 8x8 features and one random quadrant of it from the
  matching quadrant of D's 16x16 features. The reconstruction error of real
  images joins D's loss (`GAN(reconstruction_weight=...)`), which forces D
  to keep features that describe the whole image instead of a few
  discriminative patches: what lets it train on thousands of photos
  without overfitting them. The paper uses a perceptual distance; this uses
  the mean squared error (no pretrained network inside a discriminator).

The discriminator's outputs are a dict, `{"logits", "reconstruction_error"}`
(and `class_logits` with an AC-GAN head); the GAN reads them all
(`GAN.discriminate`).
"""

from __future__ import annotations

import keras

from keras_gen.models.base import num_stages
from keras_gen.models.gan.dcgan import (
    _batch_norm,
    _conv_init,
    _seed,
    discriminator_inputs,
    discriminator_outputs,
    generator_inputs,
    generator_norm,
)
from keras_gen.models.gan.layers import (
    GLU,
    GlobalSumPooling2D,
    RandomQuadrantCrop,
    ReconstructionError,
    SpectralNormalization,
)


def _init(seed, offset):
    return _conv_init(_seed(seed, offset))


def _channels(width: int, resolution: int, image_size: int) -> int:
    """Channels at `resolution`: `width` at half the image side, x2 per halving."""
    return max(width * (image_size // 2) // resolution, 8)


def _up_block(x, label, out, *, double, norm, seed, name):
    """Nearest 2x, then one (or two) 3x3 convolution, batch norm and GLU."""
    x = keras.layers.UpSampling2D(2, name=f"{name}_up")(x)
    for j in range(2 if double else 1):
        x = keras.layers.Conv2D(
            2 * out,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer=_init(seed, j),
            name=f"{name}_conv{j}",
        )(x)
        x = norm(f"{name}_bn{j}", _seed(seed, 50 + j))(x, label)
        x = GLU(name=f"{name}_glu{j}")(x)
    return x


def _excite(small, big, seed, name):
    """Skip-layer excitation: channel gates for `big` computed from `small`."""
    pool = small.shape[1] // 4
    g = (
        keras.layers.AveragePooling2D(pool, name=f"{name}_pool")(small)
        if pool > 1
        else small
    )
    g = keras.layers.Conv2D(
        big.shape[-1],
        4,
        padding="valid",
        kernel_initializer=_init(seed, 0),
        name=f"{name}_conv0",
    )(g)
    g = keras.layers.Activation("swish", name=f"{name}_swish")(g)
    g = keras.layers.Conv2D(
        big.shape[-1],
        1,
        activation="sigmoid",
        kernel_initializer=_init(seed, 1),
        name=f"{name}_gate",
    )(g)
    return keras.layers.Multiply(name=name)([big, g])


def build_fastgan_generator(
    image_size: int = 64,
    latent_dim: int = 128,
    width: int = 64,
    channels: int = 3,
    synchronized_bn: bool = False,
    num_classes: int | None = None,
    seed: int | None = None,
    name: str = "generator",
) -> keras.Model:
    """FastGAN generator: latent `[batch, latent_dim]` -> images in [-1, 1].

    A dense layer makes a 4x4 map; up-blocks double the side (two
    convolutions at 8, 32, 128 px, one elsewhere); from 32 px on, each
    map is gated by skip-layer excitation from the map 8 times smaller.
    Channels: `width` at half the image side, doubling per halving (64 px,
    width 64: 512-256-128-64 and 32 at 64x64).

    Args:
        image_size: output side, one of 32, 64, 128.
        latent_dim: size of the latent vector.
        width: channels at half the image side.
        channels: image channels.
        synchronized_bn: all-reduce batch-norm statistics across replicas.
        num_classes: number of classes (inputs `[z, label]`, class-conditional
            batch norm); None: unconditional.
        seed: seed of the weight initialisers (None: random).
        name: model name.

    Example:
    >>> g = build_fastgan_generator(image_size=32, latent_dim=16, width=8)
    >>> g(keras.random.normal((2, 16))).shape
    (2, 32, 32, 3)
    """
    stages = num_stages(image_size)
    z, label, inputs = generator_inputs(latent_dim, num_classes)

    def norm(layer_name, layer_seed):
        return generator_norm(num_classes, synchronized_bn, layer_seed, layer_name)

    c4 = _channels(width, 4, image_size)
    x = keras.layers.Dense(
        4 * 4 * 2 * c4,
        use_bias=False,
        kernel_initializer=_init(seed, 0),
        name="project",
    )(z)
    x = keras.layers.Reshape((4, 4, 2 * c4))(x)
    x = GLU(name="project_glu")(norm("project_bn", _seed(seed, 1))(x, label))
    maps = {4: x}
    for i in range(1, stages + 1):
        side = 4 * 2**i
        x = _up_block(
            x,
            label,
            _channels(width, side, image_size),
            double=i % 2 == 1,
            norm=norm,
            seed=_seed(seed, 100 * i),
            name=f"up{side}",
        )
        if side >= 32:
            x = _excite(maps[side // 8], x, _seed(seed, 100 * i + 80), f"sle{side}")
        maps[side] = x
    x = keras.layers.Conv2D(
        channels,
        3,
        padding="same",
        kernel_initializer=_init(seed, 999),
        name="to_rgb",
    )(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, images, name=name)


def _down_block(x, out, *, conv, synchronized_bn, seed, name):
    """Strided 4x4 conv + 3x3 conv, averaged with a pooled 1x1 shortcut."""

    def bn_lrelu(h, suffix, offset):
        h = _batch_norm(synchronized_bn, _seed(seed, offset), f"{name}_{suffix}_bn")(h)
        return keras.layers.LeakyReLU(0.2)(h)

    h = conv(out, 4, 2, _seed(seed, 0), f"{name}_conv0")(x)
    h = bn_lrelu(h, "conv0", 10)
    h = conv(out, 3, 1, _seed(seed, 1), f"{name}_conv1")(h)
    h = bn_lrelu(h, "conv1", 11)
    s = keras.layers.AveragePooling2D(2)(x)
    s = conv(out, 1, 1, _seed(seed, 2), f"{name}_skip")(s)
    s = bn_lrelu(s, "skip", 12)
    return keras.layers.Average(name=name)([h, s])


def _decoder(x, side, channels, width, *, synchronized_bn, seed, name):
    """Up-blocks from `x` to a `side` x `side` image in [-1, 1] (float32)."""

    def norm(layer_name, layer_seed):
        layer = _batch_norm(synchronized_bn, layer_seed, layer_name)
        return lambda h, label: layer(h)

    i = 0
    while x.shape[1] < side:
        x = _up_block(
            x,
            None,
            max(width // 2**i, 8),
            double=False,
            norm=norm,
            # seed + i: the same initial weights as the first version.
            seed=_seed(seed, i),
            name=f"{name}_up{i}",
        )
        i += 1
    x = keras.layers.Conv2D(
        channels,
        3,
        padding="same",
        kernel_initializer=_init(seed, 99),
        name=f"{name}_rgb",
    )(x)
    return keras.layers.Activation("tanh", dtype="float32", name=f"{name}_out")(x)


def build_fastgan_discriminator(
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
    """Self-supervised FastGAN discriminator: images -> logits and errors.

    Down-blocks (strided 4x4 and 3x3 convolutions averaged with a pooled 1x1
    shortcut, batch norm, LeakyReLU 0.2) halve the side down to 4x4;
    LeakyReLU, global sum pooling and a dense layer give the logit. Two
    decoders rebuild the image at half size from the 8x8 features and a
    random quadrant of it from the same quadrant of the 16x16 features;
    `reconstruction_error` is their summed per-example mean squared error
    `[batch]` against the input (average-pooled to half size for the
    whole image).

    Args:
        image_size: input side, one of 32, 64, 128.
        width: channels at half the image side, x2 per halving (64 px,
            width 64: 64-128-256-512).
        channels: image channels.
        synchronized_bn: all-reduce batch-norm statistics across replicas.
        spectral_norm: wrap the down-blocks' convolutions and the dense
            layer in spectral normalisation (default True, as FastGAN).
        num_classes: number of classes (inputs `[images, label]`, projection
            term); None: unconditional.
        seed: seed of the weight initialisers and quadrant draws.
        name: model name.
        class_head: also output AC-GAN class logits (conditional only).

    Example:
    >>> d = build_fastgan_discriminator(image_size=32, width=8)
    >>> out = d(keras.random.uniform((2, 32, 32, 3)))
    >>> tuple(out["logits"].shape), tuple(out["reconstruction_error"].shape)
    ((2, 1), (2,))
    """
    stages = num_stages(image_size)
    images, label, inputs = discriminator_inputs(image_size, channels, num_classes)

    def conv(filters, kernel, stride, layer_seed, layer_name):
        layer = keras.layers.Conv2D(
            filters,
            kernel,
            stride,
            padding="same",
            kernel_initializer=_init(layer_seed, 0),
            name=layer_name,
        )
        return SpectralNormalization(layer) if spectral_norm else layer

    x, maps = images, {}
    for i in range(stages):
        side = image_size // 2 ** (i + 1)
        x = _down_block(
            x,
            _channels(width, side, image_size),
            conv=conv,
            synchronized_bn=synchronized_bn,
            seed=_seed(seed, 200 + 20 * i),
            name=f"down{side}",
        )
        maps[side] = x
    x = keras.layers.LeakyReLU(0.2)(x)
    features = GlobalSumPooling2D(dtype="float32", name="sum_pool")(x)
    dense = keras.layers.Dense(
        1, kernel_initializer=_init(seed, 998), dtype="float32", name="logit"
    )
    logits = (SpectralNormalization(dense) if spectral_norm else dense)(features)
    error = _reconstruction_error(images, maps, width, synchronized_bn, seed)
    extra = {"reconstruction_error": error}
    outputs = discriminator_outputs(
        logits, features, label, num_classes, spectral_norm, class_head, extra
    )
    return keras.Model(inputs, outputs, name=name)


def _reconstruction_error(images, maps, width, synchronized_bn, seed):
    """Summed errors of the whole-image and the quadrant decoders `[batch]`."""
    half = images.shape[1] // 2
    channels = images.shape[-1]
    whole = _decoder(
        maps[8],
        half,
        channels,
        width,
        synchronized_bn=synchronized_bn,
        seed=_seed(seed, 700),
        name="decode_whole",
    )
    target = keras.layers.AveragePooling2D(2, name="whole_target")(images)
    features, quadrant = RandomQuadrantCrop(seed=_seed(seed, 800), name="quadrant")(
        [maps[16], images]
    )
    part = _decoder(
        features,
        half,
        channels,
        width,
        synchronized_bn=synchronized_bn,
        seed=_seed(seed, 750),
        name="decode_part",
    )
    errors = [
        ReconstructionError(name="whole_error")([whole, target]),
        ReconstructionError(name="part_error")([part, quadrant]),
    ]
    return keras.layers.Add(dtype="float32", name="reconstruction_error")(errors)
