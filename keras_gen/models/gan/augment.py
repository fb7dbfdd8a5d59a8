"""DiffAugment (Zhao et al. 2020): differentiable augmentation for GANs.

With few training images the discriminator memorises them. DiffAugment
applies the same family of random, differentiable transformations to real and
generated images before every discriminator call (and in the generator's
step), so the discriminator never sees the raw images while gradients still
flow to the generator. Each call draws fresh parameters per example; the
randomness is drawn per replica from the global batch (see
`keras_gen.models.distributed`), so distributed steps stay exact.

Policies, as in the paper: "color" (brightness, saturation, contrast),
"translation" (shift by up to 1/8 of the side, zero padding), "cutout" (a
square of half the side set to zero).

Each transformation is applied to an example with a probability `p`
(Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data"): at p = 1, as in DiffAugment, the discriminator never sees an image
without a flat grey square, so a generator that paints such squares is
penalised less (2.6x less visible in room features) and square blocks show
in its samples (docs/evaluation.md). Below p ~ 0.8 the clean images keep
the augmented distribution invertible (Karras et al.);
`keras_gen.models.gan.ada` adapts p during training.
"""

from __future__ import annotations

import tensorflow as tf

from keras_gen.models.distributed import replica_uniform

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> tuple of names, checked."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(
            f"Unknown DiffAugment policy {unknown[0]!r}. Valid: {', '.join(POLICIES)}."
        )
    return names


def _color(x, seed_generator):
    batch = tf.shape(x)[0]
    u = replica_uniform((batch, 3), seed_generator)[:, :, None, None, None]
    x = x + (u[:, 0] - 0.5)  # brightness
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (u[:, 1] * 2.0) + mean  # saturation
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (u[:, 2] + 0.5) + mean  # contrast


def _translation(x, seed_generator, ratio=0.125):
    batch = tf.shape(x)[0]
    size = tf.shape(x)[1:3]
    shift = tf.cast(tf.cast(size, tf.float32) * ratio + 0.5, tf.int32)
    u = replica_uniform((batch, 2), seed_generator)
    # Integer shifts in [-shift, shift] for rows and columns.
    dy = (
        tf.cast(tf.floor(u[:, 0] * tf.cast(2 * shift[0] + 1, tf.float32)), tf.int32)
        - shift[0]
    )
    dx = (
        tf.cast(tf.floor(u[:, 1] * tf.cast(2 * shift[1] + 1, tf.float32)), tf.int32)
        - shift[1]
    )
    rows = tf.range(size[0])[None, :] - dy[:, None]  # [B, H]
    cols = tf.range(size[1])[None, :] - dx[:, None]  # [B, W]
    valid_r = (rows >= 0) & (rows < size[0])
    valid_c = (cols >= 0) & (cols < size[1])
    rows = tf.clip_by_value(rows, 0, size[0] - 1)
    cols = tf.clip_by_value(cols, 0, size[1] - 1)
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    x = tf.gather(x, cols, axis=2, batch_dims=1)
    mask = tf.cast(valid_r[:, :, None] & valid_c[:, None, :], x.dtype)
    return x * mask[..., None]


def _cutout(x, seed_generator, ratio=0.5):
    batch = tf.shape(x)[0]
    size = tf.shape(x)[1:3]
    cut = tf.cast(tf.cast(size, tf.float32) * ratio + 0.5, tf.int32)
    u = replica_uniform((batch, 2), seed_generator)
    # Centre of the square, anywhere such that it may overlap the border.
    cy = tf.cast(
        tf.floor(u[:, 0] * tf.cast(size[0] + (1 - cut[0] % 2), tf.float32)), tf.int32
    )
    cx = tf.cast(
        tf.floor(u[:, 1] * tf.cast(size[1] + (1 - cut[1] % 2), tf.float32)), tf.int32
    )
    rows = tf.range(size[0])[None, :]
    cols = tf.range(size[1])[None, :]
    in_r = tf.abs(rows - cy[:, None]) <= cut[0] // 2 - 1 + cut[0] % 2
    in_c = tf.abs(cols - cx[:, None]) <= cut[1] // 2 - 1 + cut[1] % 2
    keep = 1.0 - tf.cast(in_r[:, :, None] & in_c[:, None, :], x.dtype)
    return x * keep[..., None]


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images, policy: tuple[str, ...], seed_generator, p=1.0):
    """Apply the DiffAugment `policy` (tuple of names) to a batch of images.

    Differentiable with respect to `images`; parameters drawn per example.

    Args:
        images: float batch `[B, H, W, C]`.
        policy: names from `POLICIES`, applied in order.
        seed_generator: the `keras.random.SeedGenerator` of the draws.
        p: probability (a float or scalar tensor) that each transformation
            is applied to each example; 1 applies every one to every example.
    """
    x = tf.cast(images, tf.float32)
    batch = tf.shape(x)[0]
    for name in policy:
        augmented = _OPS[name](x, seed_generator)
        if isinstance(p, (int, float)) and p >= 1.0:
            x = augmented
            continue
        # The draw is made even at p = 0 so that the random stream, and with
        # it every later draw, does not depend on p.
        apply = replica_uniform((batch, 1, 1, 1), seed_generator) < tf.cast(
            p, tf.float32
        )
        x = tf.where(apply, augmented, x)
    return x
