"""The training data a config's `data` section describes, as `tf.data` batches.

A data section is a :class:`~keras_gen.data.specs.SourceSpec` (what:
:func:`source_of`) plus :class:`~keras_gen.data.pipeline.PipelineOptions`
(how: :func:`pipeline_options`); the one dispatcher by `data.source`,
:data:`keras_gen.data.sources.SOURCES`, picks the reader. Every function
takes the `data` section and the image side, not the whole config.

Example:
>>> from keras_gen.config import load_config
>>> cfg = load_config("training/configs/smoke_gan.yaml")
>>> ds, count = build_dataset(cfg.data, 32, (-1.0, 1.0), batch_size=16)
>>> count
64
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import tensorflow as tf

from keras_gen.config import DataConfig
from keras_gen.data.pipeline import PipelineOptions
from keras_gen.data.sources import (
    class_names_of_source,
    count_of_source,
    dataset_from_source,
)
from keras_gen.data.specs import SourceSpec
from keras_gen.utils.console import log

#: Offset of the validation rooms' seed: far from any seed a config uses, so
#: no validation room is a training room.
VALIDATION_SEED_OFFSET = 1_000_003


def source_of(data: DataConfig) -> SourceSpec:
    """The :class:`~keras_gen.data.specs.SourceSpec` of a config's data section."""
    return SourceSpec(
        kind=data.source,
        path=data.path,
        name=data.name,
        split=data.split,
        data_dir=data.data_dir,
        image_key=data.image_key,
        download=data.download,
        num=data.num_images,
        seed=data.seed,
        labels=data.labels,
        check=data.check,
        render_cache_dir=data.render_cache_dir,
        progress=log.isEnabledFor(logging.INFO),  # off under `keras-gen -q`
    )


def pipeline_options(
    data: DataConfig,
    image_size: int,
    value_range: tuple[float, float],
    batch_size: int,
    training: bool = True,
    repeat: bool = False,
) -> PipelineOptions:
    """The :class:`~keras_gen.data.pipeline.PipelineOptions` of a data section."""
    return PipelineOptions(
        batch_size=batch_size,
        value_range=value_range,
        image_size=image_size,
        training=training,
        shuffle_buffer=data.shuffle_buffer,
        cache=data.cache,
        flip=data.flip,
        seed=data.seed,
        repeat=repeat,
        deterministic=data.deterministic,
        threads=data.threads,
    )


def build_dataset(
    data: DataConfig,
    image_size: int,
    value_range: tuple[float, float],
    batch_size: int,
    training: bool = True,
    repeat: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """The `tf.data.Dataset` of float image batches in `value_range`.

    Args:
        data: the config's `data` section.
        image_size: side of the square images.
        value_range: the model's `(low, high)`.
        batch_size: global batch size.
        training: shuffle and flip (when `data.shuffle` allows).
        repeat: repeat forever.

    Returns:
        The dataset and the number of images in one pass over the data.
    """
    training = training and data.shuffle
    options = pipeline_options(
        data, image_size, value_range, batch_size, training, repeat
    )
    return dataset_from_source(source_of(data), options)


def first_images(data: DataConfig, image_size: int, value_range, num: int):
    """The first `num` images of the data, unshuffled and unaugmented."""
    data = dataclasses.replace(data, cache=False)
    ds, _ = build_dataset(data, image_size, value_range, num, training=False)
    return next(iter(ds.take(1)))


def validation_images(data: DataConfig, image_size: int, value_range) -> Any:
    """The held-out images of `data.validation_images` (None when 0).

    Rooms are rendered with a seed no training run uses; a folder
    (`data.validation_path`) is read in file order, unaugmented. Returns
    float images in `value_range`, or `(images, labels)` with `data.labels`.
    """
    if not data.validation_images:
        return None
    if data.validation_path:
        return _validation_folder(data, image_size, value_range)
    from keras_gen.data.rooms import render_rooms

    images, table = render_rooms(
        data.validation_images,
        size=image_size,
        seed=data.seed + VALIDATION_SEED_OFFSET,
    )
    low, high = value_range
    images = images.astype("float32") / 255.0 * (high - low) + low
    if data.labels:
        return images, table[data.labels].astype("int32")
    return images


def _validation_folder(data: DataConfig, image_size: int, value_range) -> Any:
    """All of `data.validation_images` images of `data.validation_path`,
    in file order, unaugmented, as numpy (images, or images and labels)."""
    source = SourceSpec(
        "folder", path=data.validation_path, check=data.check, labels=data.labels
    )
    options = PipelineOptions(
        batch_size=data.validation_images,
        value_range=value_range,
        image_size=image_size,
        training=False,
        cache=False,
        drop_remainder=False,
    )
    ds, _ = dataset_from_source(source, options)
    batch = next(iter(ds.take(1)))
    if isinstance(batch, tuple):
        return tuple(t.numpy() for t in batch)
    return batch.numpy()


def class_names_of(data: DataConfig) -> list[str] | None:
    """Class names of the data's labels (None without `data.labels`).

    Found without building the input pipeline (a folder is only listed), so
    the model can be built with the right number of classes first.
    """
    if data.labels is None:
        return None
    return class_names_of_source(source_of(data))


def count_images(data: DataConfig) -> int | None:
    """Images in one pass over the data, if known without reading them.

    Procedural rooms: `num_images`; a folder: its image files (listed, not
    opened), at most `num_images`; TFDS/TFRecord: None (unknown).
    """
    return count_of_source(source_of(data))


__all__ = [
    "build_dataset",
    "class_names_of",
    "count_images",
    "first_images",
    "pipeline_options",
    "source_of",
    "validation_images",
]
