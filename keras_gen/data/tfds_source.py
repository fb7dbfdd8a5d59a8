"""TensorFlow Datasets (TFDS) image datasets as keras-gen input pipelines.

Any TFDS dataset with an image feature works (``lsun/bedroom``,
``celeb_a``, ``cifar10``...). The image feature is read *undecoded*
(``tfds.decode.SkipDecoding``) and decoded by the same decoder as the image
folders (:func:`~keras_gen.data.folder.decode_rgb`), then resized and
centre-cropped, so a TFDS copy of a data set gives the same pixels as a folder
of its files.

The dataset must have been prepared (downloaded and converted) once, e.g.::

    tfds build lsun/bedroom --data_dir ~/tensorflow_datasets

or ``data.download: true`` in the config (needs network access). Datasets
whose files cannot be downloaded automatically expect them in
``<data_dir>/downloads/manual/``; :class:`TfdsNotPreparedError` says so.

Example:
    >>> ds, n = tfds_dataset("lsun/bedroom", image_size=64, batch_size=64,
    ...                      data_dir="~/tensorflow_datasets")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from keras_gen.data.decode import decode_to_uint8
from keras_gen.data.pipeline import (
    PipelineOptions,
    apply_input_options,
    finalize_dataset,
)

__all__ = ["TfdsNotPreparedError", "TfdsSource", "load_tfds_builder", "tfds_dataset"]


class TfdsNotPreparedError(FileNotFoundError):
    """The TFDS dataset is not prepared in ``data_dir``; says how to prepare it."""


def _not_prepared_message(builder: Any, name: str, data_dir: str | None) -> str:
    where = data_dir or "~/tensorflow_datasets"
    manual = os.path.join(os.path.expanduser(where), "downloads", "manual")
    message = (
        f"TFDS dataset {name!r} is not prepared in {where!r}. Prepare it once "
        f"with `tfds build {name} --data_dir {where}` (or "
        f"`tfds.builder({name!r}, data_dir={where!r}).download_and_prepare()`), "
        "or set data.download: true to do it at start-up (needs network "
        "access). Without network access, put the downloaded source files in "
        f"the manual download folder {manual!r} and run `tfds build {name} "
        f"--data_dir {where} --manual_dir {manual}`."
    )
    instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if instructions:
        message += f" Manual download instructions: {' '.join(instructions.split())}"
    return message


def load_tfds_builder(
    name: str, *, data_dir: str | None = None, download: bool = False
) -> Any:
    """The TFDS builder of ``name``, prepared, or a clear error.

    Args:
        name: A registered TFDS name, with an optional config and version
            (``"lsun/bedroom"``, ``"cifar10:3.0.2"``).
        data_dir: Where TFDS keeps prepared data (default
            ``~/tensorflow_datasets``).
        download: Download and prepare the dataset if it is not prepared.

    Returns:
        The ``tfds.core.DatasetBuilder``.

    Raises:
        ValueError: The name is not a registered TFDS dataset.
        TfdsNotPreparedError: Not prepared (and ``download`` is false, or the
            download failed); the message says how to prepare it.

    Example:
        >>> builder = load_tfds_builder("lsun/bedroom")  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    data_dir = os.path.expanduser(data_dir) if data_dir else None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"unknown TFDS dataset {name!r}: {error}") from None
    if download and not builder.is_prepared():
        try:
            builder.download_and_prepare()
        except Exception as error:  # network errors come in many types
            raise TfdsNotPreparedError(
                f"download_and_prepare failed ({type(error).__name__}: {error}). "
                + _not_prepared_message(builder, name, data_dir)
            ) from error
    return builder


def _as_dataset(
    builder: Any,
    name: str,
    split: str,
    data_dir: str | None,
    image_key: str,
    shuffle_files: bool,
    seed: int | None,
) -> tf.data.Dataset:
    import tensorflow_datasets as tfds

    features = builder.info.features
    if image_key not in features:
        raise ValueError(
            f"TFDS dataset {name!r} has no feature {image_key!r}; its features "
            f"are {sorted(features.keys())} (set data.image_key)"
        )
    read_config = tfds.ReadConfig(
        shuffle_seed=seed,
        # The caller prefetches at the end of its own pipeline.
        skip_prefetch=True,
        interleave_cycle_length=16,
    )
    try:
        return builder.as_dataset(
            split=split,
            shuffle_files=shuffle_files,
            read_config=read_config,
            decoders={image_key: tfds.decode.SkipDecoding()},
        )
    except (AssertionError, FileNotFoundError) as error:
        # TFDS says "could not find data ... call download_and_prepare()".
        raise TfdsNotPreparedError(
            _not_prepared_message(builder, name, data_dir)
        ) from error


def _num_examples(builder: Any, split: str, ds: tf.data.Dataset) -> int:
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, ValueError, TypeError):
        # No split metadata (e.g. under tfds.testing.mock_data): count.
        n = int(ds.cardinality())
        if n >= 0:
            return n
        return int(ds.reduce(tf.constant(0, tf.int64), lambda c, _: c + 1))


def _cache_prefix(cache: Any, name: str, split: str, image_size: int) -> Any:
    """A cache path becomes a file in that folder named by the data and size."""
    if not isinstance(cache, str):
        return cache
    return os.path.join(
        os.path.expanduser(cache),
        f"tfds-{name.replace('/', '_').replace(':', '_')}-{split}-{image_size}px",
    )


def tfds_dataset(
    name: str,
    options: PipelineOptions | None = None,
    *,
    split: str = "train",
    data_dir: str | None = None,
    image_key: str = "image",
    download: bool = False,
    **fields: Any,
) -> tuple[tf.data.Dataset, int]:
    """Batches of images from a TFDS dataset, and its number of images.

    Args:
        name: TFDS name, e.g. ``"lsun/bedroom"``.
        options: The :class:`~keras_gen.data.pipeline.PipelineOptions`;
            ``image_size`` and ``batch_size`` are required. ``training`` also
            shuffles the files; a ``cache`` path is a folder (``~`` expanded)
            that gets a file named by the dataset, split and image size.
        split: TFDS split (slicing allowed: ``"train[:10%]"``).
        data_dir: TFDS data folder.
        image_key: Name of the image feature.
        download: Prepare the dataset if needed (network access).
        **fields: Fields of ``PipelineOptions`` instead of or on top of
            ``options``.

    Returns:
        ``(dataset, num_examples)``: float32 batches in ``value_range``, and
        the number of images in the split.

    Raises:
        TfdsNotPreparedError: The dataset is not prepared (see its message).
        ValueError: Unknown dataset or image feature.

    Example:
        >>> ds, n = tfds_dataset("lsun/bedroom", image_size=64,
        ...                      batch_size=64)  # doctest: +SKIP
    """
    options = PipelineOptions.of(options, **fields)
    image_size = options.require_image_size("tfds_dataset")
    builder = load_tfds_builder(name, data_dir=data_dir, download=download)
    ds = _as_dataset(
        builder, name, split, data_dir, image_key, options.training, options.seed
    )
    num = _num_examples(builder, split, ds)
    ds = ds.map(
        lambda ex: decode_to_uint8(ex[image_key], image_size),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=options.deterministic,
    )
    cache = _cache_prefix(options.cache, name, split, image_size)
    ds = finalize_dataset(ds, options.replace(cache=cache))
    ds = apply_input_options(
        ds,
        deterministic=options.deterministic,
        # TFDS reads TFRecord (or ArrayRecord) files: shard them by file.
        shard_policy=tf.data.experimental.AutoShardPolicy.AUTO,
        threads=options.threads,
    )
    return ds, num


class TfdsSource:
    """A TFDS split as a ``ConvertSource`` for ``keras-gen data convert``.

    Entries are the encoded images in the split's order; labels come from
    ``label_key`` if given.

    Args:
        name: TFDS name.
        split: Split.
        data_dir: TFDS data folder.
        image_key: Image feature.
        label_key: Integer label feature, or ``None``.

    Example:
        >>> source = TfdsSource("lsun/bedroom")  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        split: str = "train",
        data_dir: str | None = None,
        image_key: str = "image",
        label_key: str | None = None,
    ) -> None:
        self._builder = load_tfds_builder(name, data_dir=data_dir)
        self._args = (name, split, data_dir, image_key)
        self._label_key = label_key
        ds = self._dataset()
        self._len = _num_examples(self._builder, split, ds)
        self.description = f"tfds:{name}:{split}"

    def _dataset(self) -> tf.data.Dataset:
        name, split, data_dir, image_key = self._args
        return _as_dataset(self._builder, name, split, data_dir, image_key, False, None)

    def __len__(self) -> int:
        return self._len

    def read(self, start: int, stop: int) -> Iterator[tuple[str, bytes, int]]:
        """Yield ``(key, encoded image, label)`` for examples ``start..stop-1``."""
        image_key = self._args[3]
        ds = self._dataset().skip(start).take(stop - start)
        for i, ex in enumerate(ds.as_numpy_iterator(), start):
            label = int(ex[self._label_key]) if self._label_key else -1
            yield f"{self.description}/{i}", ex[image_key], label
