"""Reading sharded TFRecords of encoded images as a training pipeline.

:func:`tfrecord_dataset` interleaves the shards in parallel, decodes with the
image-folder decoder (:func:`~keras_gen.data.decode.decode_to_uint8`) and hands
the ``uint8`` images to :func:`~keras_gen.data.pipeline.finalize_dataset`. Its
auto-shard policy is ``FILE``: under a multi-worker ``tf.distribute``
strategy each worker reads its own subset of the shards (so write at least as
many shards as workers). The layout is described in
:mod:`keras_gen.data.tfrecord`.

Example:
    >>> ds = tfrecord_dataset("rooms_tfr", image_size=64, batch_size=32,
    ...                       seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_gen.data.decode import decode_to_uint8
from keras_gen.data.pipeline import (
    PipelineOptions,
    apply_input_options,
    finalize_dataset,
    keyed_cache_path,
)
from keras_gen.data.tfrecord_format import INDEX_FILE, parse_example, read_index

__all__ = ["count_records", "shard_files", "tfrecord_dataset"]


def shard_files(path: str | os.PathLike[str] | Sequence[str]) -> list[str]:
    """The shard files of a converted folder, a glob pattern or a list of files.

    Args:
        path: A folder with an ``index.json`` (its shards, which must all be
            present: an incomplete conversion is an error), a folder without
            one (every ``*.tfrecord*`` file in it), a glob pattern, or a list.

    Returns:
        Sorted shard paths.

    Raises:
        FileNotFoundError: Nothing found.
        ValueError: The index says the conversion is incomplete.

    Example:
        >>> shard_files("rooms_tfr")[:1]  # doctest: +SKIP
        ['rooms_tfr/images-00000-of-00004.tfrecord']
    """
    if not isinstance(path, str | os.PathLike):
        files = [os.fspath(p) for p in path]
    else:
        path = os.fspath(path)
        if os.path.isfile(os.path.join(path, INDEX_FILE)):
            index = read_index(path)
            if not index.get("complete"):
                raise ValueError(
                    f"{path!r}: the conversion is incomplete ({len(index['shards'])} "
                    f"of {index['num_shards']} shards); rerun it to finish"
                )
            files = [os.path.join(path, s["file"]) for s in index["shards"]]
        elif os.path.isdir(path):
            files = tf.io.gfile.glob(os.path.join(path, "*.tfrecord*"))
        else:
            files = tf.io.gfile.glob(path)
    files = sorted(f for f in files if ".tmp-" not in f)
    if not files:
        raise FileNotFoundError(f"no TFRecord files found at {path!r}")
    return files


def _cache_prefix(cache: str, files: Sequence[str], image_size: int) -> str:
    """A cache file prefix keyed on the shards and the image size.

    tf.data silently reuses whatever cache exists at a prefix; the key makes
    a cache of other shards or another size impossible to read back.
    """
    return keyed_cache_path(
        cache, f"tfrecord|{image_size}", files, os.path.basename, image_size, "tfrecord"
    )


def _interleave_shards(
    files: list[str], options: PipelineOptions, cycle_length: int
) -> tf.data.Dataset:
    """The records of the shards: shuffled and interleaved when training,
    one shard after the other (the source's order) otherwise."""
    ds = tf.data.Dataset.from_tensor_slices(files)
    if options.training:
        ds = ds.shuffle(len(files), seed=options.seed, reshuffle_each_iteration=True)
    return ds.interleave(
        # A 1 MB read buffer: fewer, larger reads from each shard.
        lambda f: tf.data.TFRecordDataset(f, buffer_size=1 << 20),
        cycle_length=max(1, min(len(files), cycle_length)) if options.training else 1,
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=options.deterministic,
    )


def _decode_records(
    ds: tf.data.Dataset, image_size: int, labels: bool, deterministic: bool
) -> tf.data.Dataset:
    """Records -> ``uint8`` images (with int32 labels if ``labels``)."""

    def load(record: tf.Tensor) -> Any:
        example = parse_example(record)
        image = decode_to_uint8(example["image/encoded"], image_size)
        if labels:
            return image, tf.cast(example["image/label"], tf.int32)
        return image

    return ds.map(
        load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic
    )


def tfrecord_dataset(
    path: str | os.PathLike[str] | Sequence[str],
    options: PipelineOptions | None = None,
    *,
    labels: bool = False,
    cycle_length: int = 16,
    **fields: Any,
) -> tf.data.Dataset:
    """Batches of images from TFRecord shards, ready for ``model.fit``.

    Pipeline: list of shards (shuffled by ``seed`` when training) ->
    ``interleave`` of ``TFRecordDataset`` s, ``cycle_length`` shards read in
    parallel -> parallel parse + decode + resize/crop to ``uint8`` ->
    :func:`~keras_gen.data.pipeline.finalize_dataset` (cache, shuffle, repeat,
    batch, flip, scale, prefetch).

    Args:
        path: A converted folder, a folder of ``*.tfrecord`` files, a glob
            pattern or a list of files (see :func:`shard_files`).
        options: The :class:`~keras_gen.data.pipeline.PipelineOptions`;
            ``image_size`` and ``batch_size`` are required. ``training`` also
            shuffles the shards, ``seed`` also seeds their order, and a
            ``cache`` path (``~`` expanded; a prefix or a folder) is keyed on
            the shards and ``image_size``.
        labels: Yield ``(images, labels)`` (int32, ``-1`` = none).
        cycle_length: Shards read at once when training (capped at the
            number of shards); a fixed number, so the interleaved order does
            not depend on the machine's CPU count. Not training, the shards
            are read in order, giving the images in the source's order.
        **fields: Fields of ``PipelineOptions`` instead of or on top of
            ``options``.

    Returns:
        A dataset of float32 ``[batch, image_size, image_size, 3]`` batches
        in ``value_range`` (or ``(images, labels)``), with auto-shard policy
        ``FILE``.

    Example:
        >>> ds = tfrecord_dataset("rooms_tfr", image_size=64, batch_size=32,
        ...                       seed=0)  # doctest: +SKIP
    """
    options = PipelineOptions.of(options, **fields)
    files = shard_files(path)
    image_size = options.require_image_size("tfrecord_dataset")
    ds = _interleave_shards(files, options, cycle_length)
    ds = _decode_records(ds, image_size, labels, options.deterministic)
    cache = options.cache
    if isinstance(cache, str | os.PathLike) and cache is not False:
        cache = _cache_prefix(os.fspath(os.path.expanduser(cache)), files, image_size)
    ds = finalize_dataset(ds, options.replace(cache=cache))
    return apply_input_options(
        ds,
        deterministic=options.deterministic,
        shard_policy=tf.data.experimental.AutoShardPolicy.FILE,
        threads=options.threads,
    )


def count_records(path: str | os.PathLike[str] | Sequence[str]) -> int:
    """Number of images in TFRecord shards: from the index, else by reading.

    Args:
        path: As for :func:`shard_files`.

    Returns:
        The record count.

    Example:
        >>> count_records("rooms_tfr")  # doctest: +SKIP
        100
    """
    if isinstance(path, str | os.PathLike):
        folder = os.fspath(path)
        if os.path.isfile(os.path.join(folder, INDEX_FILE)):
            return int(read_index(folder)["count"])
    files = shard_files(path)
    ds = tf.data.TFRecordDataset(files)
    return int(ds.reduce(np.int64(0), lambda n, _: n + 1))
