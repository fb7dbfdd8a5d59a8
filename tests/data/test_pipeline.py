"""Tests for the shared tf.data building blocks (keras_gen.data.pipeline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.data.pipeline import (
    VALUE_RANGES,
    check_value_range,
    finalize_dataset,
    from_value_range,
    resize_and_center_crop,
    to_value_range,
)

ALL_BYTES = np.arange(256, dtype=np.uint8)


# --------------------------------------------------------------------------- #
# Value ranges
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_value_range_round_trip_is_exact(name: str) -> None:
    low, high = VALUE_RANGES[name]
    x = to_value_range(tf.constant(ALL_BYTES), (low, high))
    assert x.dtype == tf.float32
    assert float(x[0]) == low and float(x[-1]) == high
    np.testing.assert_allclose(
        x.numpy(), low + ALL_BYTES / 255.0 * (high - low), atol=1e-6
    )
    # Back to uint8, from a tensor (stays a tensor) and from numpy.
    back = from_value_range(x, name)
    assert isinstance(back, tf.Tensor) and back.dtype == tf.uint8
    np.testing.assert_array_equal(back.numpy(), ALL_BYTES)
    back_np = from_value_range(x.numpy(), name)
    assert isinstance(back_np, np.ndarray) and back_np.dtype == np.uint8
    np.testing.assert_array_equal(back_np, ALL_BYTES)


def test_from_value_range_clips_and_rounds() -> None:
    x = np.array([-3.0, -1.0, -0.999, 0.0, 1.0, 7.0], np.float32)
    np.testing.assert_array_equal(
        from_value_range(x, (-1.0, 1.0)), [0, 0, 0, 128, 255, 255]
    )
    np.testing.assert_array_equal(
        from_value_range(tf.constant([0.5 / 255, 1.6 / 255]), (0.0, 1.0)).numpy(),
        [0, 2],  # 0.5 rounds half to even, 1.6 rounds up
    )


@pytest.mark.parametrize("bad", ["relu", (1.0, 1.0), (1.0, -1.0), (0.0,), "ab"])
def test_invalid_value_range(bad: object) -> None:
    with pytest.raises(ValueError, match="value"):
        check_value_range(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# Resize and centre crop
# --------------------------------------------------------------------------- #
LEFT, CENTRE, RIGHT = (220, 20, 20), (20, 200, 40), (30, 40, 230)


def _three_bands(height: int, band: int, axis: int) -> np.ndarray:
    """Three bands of LEFT/CENTRE/RIGHT colour along `axis` (1: wide, 0: tall)."""
    image = np.zeros((height, 3 * band, 3), np.uint8)
    for i, colour in enumerate((LEFT, CENTRE, RIGHT)):
        image[:, i * band : (i + 1) * band] = colour
    return image if axis == 1 else image.transpose(1, 0, 2)


@pytest.mark.parametrize("axis", [1, 0], ids=["wide", "tall"])
def test_resize_and_center_crop_keeps_only_the_centre(axis: int) -> None:
    image = _three_bands(height=30, band=30, axis=axis)  # 30 x 90 (or 90 x 30)
    out = resize_and_center_crop(tf.constant(image), 10)
    assert out.shape == (10, 10, 3) and out.dtype == tf.float32
    out = out.numpy()
    centre = np.array(CENTRE, np.float32)
    # Every pixel is (much) nearer the centre colour than either side colour...
    for side in (LEFT, RIGHT):
        assert np.all(
            np.linalg.norm(out - centre, axis=-1)
            < np.linalg.norm(out - np.array(side, np.float32), axis=-1) / 3
        )
    # ...and away from the crop border (where the antialiasing filter reaches a
    # few source pixels past the crop) it is exactly the centre colour.
    inner = out[1:-1, 1:-1]
    np.testing.assert_allclose(inner, np.broadcast_to(centre, inner.shape), atol=0.5)


def test_resize_and_center_crop_antialiases() -> None:
    # A 1-pixel checkerboard shrunk 3x: without a low-pass filter, bilinear
    # resizing samples exactly one source pixel per output pixel and returns
    # the checkerboard itself (0 or 255); antialiased, it is uniform grey.
    board = (np.indices((60, 60)).sum(axis=0) % 2 * 255).astype(np.uint8)
    image = np.repeat(board[..., None], 3, axis=-1)
    out = resize_and_center_crop(tf.constant(image), 20).numpy()
    assert out.shape == (20, 20, 3)
    assert np.abs(out - 127.5).max() < 5.0, (out.min(), out.max())
    aliased = tf.image.resize(image, [20, 20], antialias=False).numpy()
    assert np.abs(aliased - 127.5).max() > 100  # the test can tell the difference


def test_resize_and_center_crop_other_sizes() -> None:
    rng = np.random.default_rng(0)
    same = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    # Already at size: returned unchanged (as float32).
    np.testing.assert_array_equal(resize_and_center_crop(same, 16).numpy(), same)
    # Smaller than the size: upscaled, values stay in [0, 255].
    up = resize_and_center_crop(tf.constant(same), 40).numpy()
    assert up.shape == (40, 40, 3) and up.min() >= 0 and up.max() <= 255
    # Odd aspect ratio, float input, bicubic (overshoots, so it is clipped).
    odd = resize_and_center_crop(
        tf.constant(rng.random((37, 101, 3)) * 255), 13, method="bicubic"
    )
    assert odd.shape == (13, 13, 3)
    assert float(tf.reduce_min(odd)) >= 0.0 and float(tf.reduce_max(odd)) <= 255.0
    # Inside a tf.function with unknown image shape (as after decoding).
    fn = tf.function(
        lambda x: resize_and_center_crop(x, 8),
        input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)],
    )
    assert fn(tf.constant(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8))).shape == (
        8,
        8,
        3,
    )
    with pytest.raises(ValueError, match="size"):
        resize_and_center_crop(same, 0)


@pytest.mark.parametrize(("shape", "size"), [((4, 6), 3), ((4, 10), 5), ((37, 91), 16)])
def test_resize_and_center_crop_of_a_batch_is_that_of_each_image(shape, size) -> None:
    """The export's serving signatures resize batches with this function.

    4x6 -> 3 and 4x10 -> 5 round a half (4.5, 12.5) up: the export rounded
    them to even before it shared this function.
    """
    from keras_gen.export.signatures import _resize_and_center_crop

    images = np.random.default_rng(0).integers(0, 256, (2, *shape, 3))
    images = tf.constant(images, tf.float32)
    expected = np.stack([resize_and_center_crop(im, size) for im in images])
    np.testing.assert_array_equal(resize_and_center_crop(images, size), expected)
    np.testing.assert_array_equal(_resize_and_center_crop(images, size), expected)


# --------------------------------------------------------------------------- #
# finalize_dataset
# --------------------------------------------------------------------------- #
def _ramps(n: int, size: int = 8) -> np.ndarray:
    """`n` images whose brightness grows left to right (so a flip is visible),
    with the image index in the first row's green channel."""
    images = np.zeros((n, size, size, 3), np.uint8)
    images[..., 0] = np.linspace(0, 255, size).astype(np.uint8)[None, None, :]
    images[:, :, :, 1] = np.arange(n, dtype=np.uint8)[:, None, None]
    return images


def _source(images: np.ndarray) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(images)


def _flipped(batches: list[np.ndarray]) -> np.ndarray:
    """Per image: was it mirrored (is its left edge brighter than its right)?"""
    images = np.concatenate(batches)
    return images[:, 0, 0, 0] > images[:, 0, -1, 0]


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_finalize_shapes_dtypes_and_range(name: str) -> None:
    low, high = VALUE_RANGES[name]
    ds = finalize_dataset(
        _source(_ramps(12)), batch_size=4, value_range=VALUE_RANGES[name], seed=0
    )
    assert ds.element_spec.shape.as_list() == [4, 8, 8, 3]
    assert ds.element_spec.dtype == tf.float32
    batches = [b.numpy() for b in ds]
    assert len(batches) == 3
    images = np.concatenate(batches)
    assert images.min() == low and images.max() == high  # 0 and 255 present


def test_finalize_drop_remainder() -> None:
    images = _ramps(10)
    kept = finalize_dataset(_source(images), batch_size=4, value_range="tanh", seed=0)
    assert [b.shape[0] for b in kept] == [4, 4]
    all_ = finalize_dataset(
        _source(images), batch_size=4, value_range="tanh", drop_remainder=False, seed=0
    )
    assert [b.shape[0] for b in all_] == [4, 4, 2]


def test_finalize_evaluation_keeps_order_and_never_flips() -> None:
    images = _ramps(16)
    ds = finalize_dataset(
        _source(images), batch_size=8, value_range=(0.0, 1.0), training=False
    )
    out = np.concatenate([b.numpy() for b in ds])
    np.testing.assert_array_equal(from_value_range(out, (0.0, 1.0)), images)


def test_flip_only_when_training_and_deterministic_for_a_seed() -> None:
    images = _ramps(64)

    def run(seed: int | None, epochs: int = 1, **kwargs: object) -> list[np.ndarray]:
        ds = finalize_dataset(
            _source(images), batch_size=16, value_range="tanh", seed=seed, **kwargs
        )
        return [np.concatenate([b.numpy() for b in ds]) for _ in range(epochs)]

    first, second = run(seed=3, epochs=2)
    flips = _flipped([first])
    # About half of the 64 images are mirrored (exactly, never flipped or
    # always flipped would fail), and mirroring is the only change.
    assert 16 <= flips.sum() <= 48
    ids = first[:, 0, 0, 1]
    assert sorted(np.round((ids + 1) * 127.5).astype(int)) == list(range(64))
    # Same seed, new dataset: same order and same flips. Different seed: not.
    np.testing.assert_array_equal(run(seed=3)[0], first)
    assert not np.array_equal(run(seed=4)[0], first)
    # A new epoch draws new flips (the cache holds unflipped images).
    assert not np.array_equal(_flipped([second]), flips)
    # No flips with training=False or flip=False.
    assert not _flipped([run(seed=3, training=False)[0]]).any()
    assert not _flipped([run(seed=3, flip=False)[0]]).any()


def test_finalize_passes_labels_through_with_their_images() -> None:
    images = _ramps(12)
    labels = np.arange(12, dtype=np.int32) * 10
    ds = finalize_dataset(
        tf.data.Dataset.from_tensor_slices((images, labels)),
        batch_size=4,
        value_range=(0.0, 1.0),
        seed=1,
    )
    for x, y in ds:
        ids = np.round(x.numpy()[:, 0, 0, 1] * 255).astype(int)
        np.testing.assert_array_equal(y.numpy(), ids * 10)


def test_finalize_repeat() -> None:
    ds = finalize_dataset(
        _source(_ramps(6)), batch_size=4, value_range="tanh", seed=0, repeat=True
    )
    assert len(list(ds.take(5))) == 5  # runs across epoch boundaries


def test_finalize_cache_to_file(tmp_path: Path) -> None:
    prefix = tmp_path / "new_folder" / "cache"
    images = _ramps(8)
    kwargs = dict(
        batch_size=4, value_range=(0.0, 1.0), training=False, cache=str(prefix)
    )
    first = np.concatenate(
        [b.numpy() for b in finalize_dataset(_source(images), **kwargs)]
    )
    assert list(prefix.parent.glob("cache*.index"))
    # A new pipeline with the same cache file reads the cached images, not its
    # own (different) source: the cache is really used.
    other = finalize_dataset(_source(np.zeros_like(images)), **kwargs)
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in other]), first)


def test_finalize_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        finalize_dataset(
            _source(np.zeros((4, 8, 8, 3), np.float32)),
            batch_size=2,
            value_range="tanh",
        )
    with pytest.raises(ValueError, match="batch_size"):
        finalize_dataset(_source(_ramps(4)), batch_size=0, value_range="tanh")
    with pytest.raises(ValueError, match="cache"):
        finalize_dataset(_source(_ramps(4)), batch_size=2, value_range="tanh", cache=3)  # type: ignore[arg-type]
