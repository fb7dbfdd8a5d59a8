"""Tests for PipelineOptions: one set of settings for every reader."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_gen.data.folder import image_folder_dataset
from keras_gen.data.pipeline import PipelineOptions, finalize_dataset
from keras_gen.data.tfrecord import tfrecord_dataset, write_shards


def _images(n: int = 10, size: int = 8) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), np.uint8)


def _all(ds: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([b.numpy() for b in ds])


def test_defaults_and_validation() -> None:
    options = PipelineOptions(batch_size=4)
    assert options.value_range == (-1.0, 1.0)
    assert options.image_size is None and options.training and options.cache is True
    assert options.deterministic and options.threads is None
    assert PipelineOptions(batch_size=2, value_range="sigmoid").value_range == (0, 1)
    for bad in ({"batch_size": 0}, {"batch_size": 2, "image_size": 0}):
        with pytest.raises(ValueError, match="must be a positive integer"):
            PipelineOptions(**bad)
    with pytest.raises(ValueError, match="value range"):
        PipelineOptions(batch_size=2, value_range="relu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 3  # type: ignore[misc]


def test_of_merges_options_and_fields() -> None:
    base = PipelineOptions(batch_size=4, seed=1)
    assert PipelineOptions.of(base) is base
    merged = PipelineOptions.of(base, seed=2, training=False)
    assert (merged.batch_size, merged.seed, merged.training) == (4, 2, False)
    assert PipelineOptions.of(None, batch_size=3).batch_size == 3
    assert base.replace(repeat=True).repeat and not base.repeat
    with pytest.raises(TypeError):
        PipelineOptions.of(None, seed=1)  # no batch size
    with pytest.raises(TypeError):
        PipelineOptions.of(base, shuffle=True)  # not a field
    with pytest.raises(TypeError, match="needs image_size"):
        base.require_image_size("reader")


def test_finalize_takes_options_or_keywords() -> None:
    images = _images()
    options = PipelineOptions(batch_size=4, value_range="tanh", seed=3)
    source = tf.data.Dataset.from_tensor_slices(images)
    by_options = _all(finalize_dataset(source, options))
    by_keywords = _all(
        finalize_dataset(source, batch_size=4, value_range="tanh", seed=3)
    )
    np.testing.assert_array_equal(by_options, by_keywords)
    in_order = _all(finalize_dataset(source, options, training=False))
    expected = finalize_dataset(
        source, batch_size=4, value_range="tanh", training=False
    )
    np.testing.assert_array_equal(in_order, _all(expected))


def test_readers_take_the_same_options(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate(_images(6, 16)):
        Image.fromarray(image).save(folder / f"{i}.png")
    write_shards(_ArraySource(_images(6, 16)), tmp_path / "shards", num_shards=2)
    options = PipelineOptions(
        batch_size=3, image_size=16, seed=0, cache=False, value_range="sigmoid"
    )
    keywords = {"image_size": 16, "batch_size": 3, "seed": 0, "cache": False}
    readers = [(image_folder_dataset, folder), (tfrecord_dataset, tmp_path / "shards")]
    for read, path in readers:
        by_keywords = read(path, value_range="sigmoid", **keywords)
        np.testing.assert_array_equal(_all(read(path, options)), _all(by_keywords))
    with pytest.raises(TypeError, match="needs image_size"):
        image_folder_dataset(folder, batch_size=3)


class _ArraySource:
    description = "arrays"

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def read(self, start, stop):
        for i in range(start, stop):
            yield str(i), self.images[i], -1
