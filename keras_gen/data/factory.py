"""The training data a config's `data` section describes, as `tf.data` batches.

One dispatcher by `data.source` (rooms, folder, tfds, tfrecord); the sources'
own modules do the reading. Every function takes the `data` section and the
image side, not the whole config.

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
import os
from typing import Any

import numpy as np
import tensorflow as tf

from keras_gen.config import DataConfig
from keras_gen.utils.console import log

#: Offset of the validation rooms' seed: far from any seed a config uses, so
#: no validation room is a training room.
VALIDATION_SEED_OFFSET = 1_000_003


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
    if data.source == "rooms":
        return _rooms_dataset(
            data, image_size, value_range, batch_size, training, repeat
        )
    if data.source in ("tfds", "tfrecord"):
        from keras_gen.data.sources import dataset_from_data

        return dataset_from_data(
            data, image_size, value_range, batch_size, training, repeat
        )
    return _folder_dataset(data, image_size, value_range, batch_size, training, repeat)


def _rooms_dataset(data, image_size, value_range, batch_size, training, repeat):
    from keras_gen.data.pipeline import finalize_dataset
    from keras_gen.data.rooms import render_rooms

    cache_dir = (
        os.path.expanduser(data.render_cache_dir) if data.render_cache_dir else None
    )
    images, table = render_rooms(
        data.num_images,
        size=image_size,
        seed=data.seed,
        cache_dir=cache_dir,
        progress=log.isEnabledFor(logging.INFO),  # off under `keras-gen -q`
    )
    if data.labels is None:
        ds = tf.data.Dataset.from_tensor_slices(images)
    else:
        labels = np.asarray(table[data.labels], dtype=np.int32)
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
    # Already decoded in memory: a tf.data cache would only copy it.
    ds = finalize_dataset(
        ds,
        batch_size=batch_size,
        value_range=value_range,
        training=training,
        shuffle_buffer=data.shuffle_buffer,
        cache=False,
        flip=data.flip,
        seed=data.seed,
        repeat=repeat,
    )
    options = tf.data.Options()
    # Generated in memory, there are no files to shard by.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return ds.with_options(options), len(images)


def _folder_dataset(data, image_size, value_range, batch_size, training, repeat):
    from keras_gen.data.folder import image_folder_dataset

    ds, info = image_folder_dataset(
        data.path,
        image_size=image_size,
        batch_size=batch_size,
        value_range=value_range,
        training=training,
        shuffle_buffer=data.shuffle_buffer,
        cache=data.cache,
        flip=data.flip,
        seed=data.seed,
        check=data.check,
        repeat=repeat,
        labels="inferred" if data.labels else None,
        return_info=True,
    )
    files = len(info.files)
    return ds, files if data.num_images is None else min(data.num_images, files)


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
        from keras_gen.data.folder import image_folder_dataset

        ds = image_folder_dataset(
            data.validation_path,
            image_size=image_size,
            batch_size=data.validation_images,
            value_range=value_range,
            training=False,
            cache=False,
            check=data.check,
            drop_remainder=False,
            labels="inferred" if data.labels else None,
        )
        batch = next(iter(ds.take(1)))
        if isinstance(batch, tuple):
            return tuple(t.numpy() for t in batch)
        return batch.numpy()
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


def class_names_of(data: DataConfig) -> list[str] | None:
    """Class names of the data's labels (None without `data.labels`).

    Found without building the input pipeline (a folder is only listed), so
    the model can be built with the right number of classes first.
    """
    if data.labels is None:
        return None
    if data.source == "rooms":
        from keras_gen.data.rooms import class_names

        return list(class_names(data.labels))
    from keras_gen.data.folder import inferred_class_names

    return inferred_class_names(data.path)


def count_images(data: DataConfig) -> int | None:
    """Images in one pass over the data, if known without reading them.

    Procedural rooms: `num_images`; a folder: its image files (listed, not
    opened), at most `num_images`; TFDS/TFRecord: None (unknown).
    """
    if data.source == "rooms":
        return data.num_images
    if data.source != "folder":
        return None
    from keras_gen.data.folder import scan_image_folder

    files = len(scan_image_folder(data.path, check="none").files)
    return files if data.num_images is None else min(files, data.num_images)


__all__ = [
    "build_dataset",
    "class_names_of",
    "count_images",
    "first_images",
    "validation_images",
]
