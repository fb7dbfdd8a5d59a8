"""Transparent pixels are white, as a viewer shows them, on every read path."""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_gen.data.folder import decode_rgb
from keras_gen.data.tfrecord import prepare_image
from keras_gen.utils.images import save_image_grid
from keras_gen.utils.rgb import to_rgb


def half_transparent_png() -> bytes:
    """Left half opaque red, right half fully transparent (stored as black)."""
    rgba = np.zeros((4, 8, 4), np.uint8)
    rgba[:, :4] = (255, 0, 0, 255)
    rgba[:, 4:] = (0, 0, 0, 0)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def test_pipeline_decoder_composites_png_alpha_on_white():
    image = decode_rgb(tf.constant(half_transparent_png())).numpy()
    assert image.shape == (4, 8, 3)
    assert (image[:, :4] == (255, 0, 0)).all()
    assert (image[:, 4:] == 255).all()  # not the stored black
    # Opaque files decode as before.
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (10, 20, 30)).save(buffer, format="PNG")
    assert (decode_rgb(tf.constant(buffer.getvalue())).numpy() == (10, 20, 30)).all()


def test_pillow_readers_agree_with_the_pipeline():
    with Image.open(io.BytesIO(half_transparent_png())) as image:
        rgb = np.asarray(to_rgb(image))
    np.testing.assert_array_equal(
        rgb, decode_rgb(tf.constant(half_transparent_png())).numpy()
    )
    encoded = prepare_image(half_transparent_png(), size=4, image_format="png")
    with Image.open(io.BytesIO(encoded.data)) as image:
        assert image.mode == "RGB"
        assert np.asarray(image)[:, -1].min() > 200  # right edge: white, not black


def test_grids_are_rgb_pngs(tmp_path):
    path = save_image_grid(np.zeros((4, 8, 8, 3), np.uint8), tmp_path / "g.png")
    with Image.open(path) as image:
        assert image.mode == "RGB"
