"""Encoded image bytes to ``uint8`` pixels: the decoder every reader shares.

Image folders, TFRecord shards and TFDS datasets all decode with
:func:`decode_rgb` and resize with
:func:`~keras_gen.data.pipeline.resize_and_center_crop`
(:func:`decode_to_uint8` does both), so one file gives the same pixels
whichever way it is read.

Example:
    >>> decode_to_uint8(tf.io.read_file("photo.jpg"), 64).shape  # doctest: +SKIP
    TensorShape([64, 64, 3])
"""

from __future__ import annotations

from functools import partial

import tensorflow as tf

from keras_gen.data.pipeline import resize_and_center_crop

__all__ = ["decode_rgb", "decode_to_uint8"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _decode_jpeg(data: tf.Tensor, min_size: int | None) -> tf.Tensor:
    """Accurate-IDCT JPEG decoding, with libjpeg's DCT scaling for ``min_size``."""
    if not min_size:
        return tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")
    shape = tf.image.extract_jpeg_shape(data)
    short = tf.minimum(shape[0], shape[1])
    # Index of the largest ratio in (1, 2, 4, 8) with short // ratio >= min_size.
    index = tf.add_n([tf.cast(short >= min_size * r, tf.int32) for r in (2, 4, 8)])
    branches = [
        lambda r=r: tf.io.decode_jpeg(
            data, channels=3, ratio=r, dct_method="INTEGER_ACCURATE"
        )
        for r in (1, 2, 4, 8)
    ]
    return tf.switch_case(index, branches)


def _decode_png_on_white(data: tf.Tensor) -> tf.Tensor:
    """A PNG with its alpha channel composited on white."""
    rgba = tf.cast(tf.io.decode_png(data, channels=4), tf.float32)
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return tf.cast(tf.round(rgb), tf.uint8)


def _decode_other(data: tf.Tensor) -> tf.Tensor:
    """PNG (on white), or BMP/GIF/WebP by ``tf.io.decode_image``."""
    return tf.cond(
        tf.strings.substr(data, 0, 8) == _PNG_MAGIC,
        partial(_decode_png_on_white, data),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )


def decode_rgb(data: tf.Tensor, min_size: int | None = None) -> tf.Tensor:
    """Decode an encoded JPEG/PNG/BMP/GIF/WebP image to ``uint8 [H, W, 3]``.

    Greyscale becomes RGB; a PNG's alpha channel is composited on white
    (as a viewer shows it; `keras_gen.utils.rgb.to_rgb` does the same for
    Pillow); an animated GIF gives its first frame. JPEGs use the accurate
    integer IDCT: TensorFlow's default
    (``INTEGER_FAST``, the only one ``tf.io.decode_image`` offers) is off by up
    to 5 grey levels on high-quality files, while the accurate one matches
    Pillow exactly and is as fast with libjpeg-turbo's SIMD code.

    With ``min_size``, a JPEG whose shorter side is at least twice
    ``min_size`` is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling
    (the largest factor that keeps the shorter side >= ``min_size``): a 256px
    photo read for a 64px model decodes 16x fewer pixels, already low-pass
    filtered, and the remaining resize is small or skipped.

    Args:
        data: A scalar string tensor with the file's bytes.
        min_size: The smallest shorter side the caller needs (None: full size).

    Returns:
        The ``uint8`` image, ``[height, width, 3]``.

    Example:
        >>> decode_rgb(tf.io.read_file("photo.jpg")).shape  # doctest: +SKIP
        TensorShape([256, 256, 3])
    """
    image = tf.cond(
        tf.io.is_jpeg(data),
        partial(_decode_jpeg, data, min_size),
        partial(_decode_other, data),
    )
    return tf.ensure_shape(image, [None, None, 3])


def decode_to_uint8(data: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded image bytes -> ``uint8 [image_size, image_size, 3]``.

    The folder pipeline's decoder (accurate JPEG IDCT) followed by the shared
    resize-and-centre-crop, so every source yields the same pixels for the
    same file.

    Args:
        data: Scalar string tensor (JPEG, PNG, BMP, GIF).
        image_size: Output side.

    Returns:
        The ``uint8`` image.

    Example:
        >>> decode_to_uint8(tf.io.read_file("a.jpg"), 64).shape  # doctest: +SKIP
        TensorShape([64, 64, 3])
    """
    image = resize_and_center_crop(decode_rgb(data, min_size=image_size), image_size)
    return tf.cast(tf.round(image), tf.uint8)
