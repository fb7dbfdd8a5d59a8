"""Where images come from: one dispatcher by kind of source.

A :class:`~keras_gen.data.specs.SourceSpec` names a source, from a string
(:func:`~keras_gen.data.specs.parse_spec`: ``rooms:N[:SEED]``,
``tfds:NAME[:SPLIT]``, a folder) or from a config's ``data`` section
(:func:`keras_gen.data.factory.source_of`). What each kind can do is one
:class:`SourceKind` in :data:`SOURCES`, keyed by ``SourceSpec.kind``:

=========  ==========================  =====  =======  =========================
kind       training pipeline           count  classes  ``keras-gen data convert``
=========  ==========================  =====  =======  =========================
rooms      rendered in memory          N      labels   :class:`RoomsSource`
folder     ``image_folder_dataset``    files  folders  :class:`FolderSource`
tfrecord   ``tfrecord_dataset``        --     --       :class:`FolderSource`
tfds       ``tfds_dataset``            --     --       ``TfdsSource``
lmdb       -- (convert it first)       --     --       ``LmdbSource``
=========  ==========================  =====  =======  =========================

Entry points: :func:`dataset_from_source` (the training pipeline, for
``keras_gen.data.factory.build_dataset``), :func:`dataset_from_spec` (the
pipeline of a string, for ``keras-gen data preview``) and
:func:`parse_source` (the conversion source of a string, for
``keras-gen data convert``).

Example:
    >>> from keras_gen.data.tfrecord import write_shards
    >>> write_shards(parse_source("rooms:64"), "out", num_shards=2)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import tensorflow as tf

from keras_gen.data.images import check_folder, list_image_files
from keras_gen.data.pipeline import (
    PipelineOptions,
    apply_input_options,
    finalize_dataset,
)
from keras_gen.data.specs import SourceSpec, parse_spec
from keras_gen.data.tfrecord_writer import ConvertSource

__all__ = [
    "SOURCES",
    "FolderSource",
    "RoomsSource",
    "SourceKind",
    "class_names_of_source",
    "count_of_source",
    "dataset_from_source",
    "dataset_from_spec",
    "parse_source",
    "source_kind",
]

#: A reader's dataset and a function giving its number of images (called only
#: when needed: counting TFRecords without an index reads them all).
Opened = tuple[tf.data.Dataset, Callable[[], int]]


class FolderSource:
    """Image files under a folder (recursive, sorted) as a ``ConvertSource``.

    Files are read as they are; :func:`~keras_gen.data.tfrecord.prepare_image`
    then checks them with Pillow, so corrupt files are skipped and counted.

    Args:
        path: The folder.

    Example:
        >>> len(FolderSource("photos/"))  # doctest: +SKIP
        4000
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = check_folder(path)
        self.files = list_image_files(self.root)
        if not self.files:
            raise ValueError(f"no image files found in {self.root!r}")
        name = os.path.basename(os.path.normpath(os.path.abspath(self.root)))
        self.description = f"folder:{name}:{len(self.files)}"

    def __len__(self) -> int:
        return len(self.files)

    def read(self, start: int, stop: int) -> Iterator[tuple[str, bytes, int]]:
        """Yield ``(relative path, file bytes, -1)`` for files ``start..stop-1``."""
        for path in self.files[start:stop]:
            try:
                with open(path, "rb") as file:
                    data = file.read()
            except OSError:
                data = b""  # unreadable: counted as skipped downstream
            yield os.path.relpath(path, self.root), data, -1


class RoomsSource:
    """Procedural rooms as a ``ConvertSource`` (arrays, stored as PNG).

    Args:
        num: Number of rooms.
        size: Rendered side in pixels.
        seed: Data-set seed (image ``i`` is ``render_room(image_seed(seed, i))``).

    Example:
        >>> len(RoomsSource(100))
        100
    """

    def __init__(self, num: int, size: int = 64, seed: int = 0) -> None:
        if num < 1 or seed < 0:
            raise ValueError(f"rooms needs num >= 1 and seed >= 0, got {num}, {seed}")
        self.num, self.size, self.seed = int(num), int(size), int(seed)
        self.description = f"rooms:{num}:{seed}:{size}px"

    def __len__(self) -> int:
        return self.num

    def read(self, start: int, stop: int) -> Iterator[tuple[str, np.ndarray, int]]:
        """Yield ``(index, uint8 room, -1)`` for rooms ``start..stop-1``."""
        from keras_gen.data.rooms import image_seed, render_room

        for i in range(start, min(stop, self.num)):
            yield str(i), render_room(image_seed(self.seed, i), self.size)[0], -1


def _rooms_dataset(source: SourceSpec, options: PipelineOptions) -> Opened:
    from keras_gen.data.rooms import render_rooms

    cache_dir = source.render_cache_dir
    images, table = render_rooms(
        source.num,
        size=options.require_image_size("rooms"),
        seed=source.seed,
        cache_dir=os.path.expanduser(cache_dir) if cache_dir else None,
        progress=source.progress,
    )
    if source.labels is None:
        ds = tf.data.Dataset.from_tensor_slices(images)
    else:
        labels = np.asarray(table[source.labels], dtype=np.int32)
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
    # Already decoded in memory: a tf.data cache would only copy it.
    ds = finalize_dataset(ds, options.replace(cache=False))
    ds = apply_input_options(
        ds,
        deterministic=options.deterministic,
        # Generated in memory, there are no files to shard by.
        shard_policy=tf.data.experimental.AutoShardPolicy.DATA,
        threads=options.threads,
    )
    return ds, lambda: len(images)


def _folder_dataset(source: SourceSpec, options: PipelineOptions) -> Opened:
    from keras_gen.data.folder import image_folder_dataset

    ds, info = image_folder_dataset(
        source.path,
        options,
        check=source.check,
        labels="inferred" if source.labels else None,
        return_info=True,
    )
    return ds, lambda: len(info.files)


def _tfrecord_dataset(source: SourceSpec, options: PipelineOptions) -> Opened:
    from keras_gen.data.tfrecord_reader import count_records, tfrecord_dataset

    path = os.path.expanduser(source.path)
    return tfrecord_dataset(path, options), partial(count_records, path)


def _tfds_dataset(source: SourceSpec, options: PipelineOptions) -> Opened:
    from keras_gen.data.tfds_source import tfds_dataset

    ds, num = tfds_dataset(
        source.name,
        options,
        split=source.split,
        data_dir=source.data_dir,
        image_key=source.image_key,
        download=source.download,
    )
    return ds, lambda: num


def _count_folder(source: SourceSpec) -> int:
    from keras_gen.data.folder_scan import scan_image_folder

    return len(scan_image_folder(source.path, check="none").files)


def _room_classes(source: SourceSpec) -> list[str]:
    from keras_gen.data.rooms import class_names

    return list(class_names(source.labels))


def _folder_classes(source: SourceSpec) -> list[str]:
    from keras_gen.data.folder import inferred_class_names

    return inferred_class_names(source.path)


def _convert_rooms(source: SourceSpec, size: int | None, **_: Any) -> ConvertSource:
    return RoomsSource(source.num, size or 64, source.seed)


def _convert_folder(source: SourceSpec, **_: Any) -> ConvertSource:
    return FolderSource(source.path)


def _convert_tfds(source: SourceSpec, label_key: str | None, **_: Any) -> ConvertSource:
    from keras_gen.data.tfds_source import TfdsSource

    return TfdsSource(
        source.name,
        source.split,
        source.data_dir,
        image_key=source.image_key,
        label_key=label_key,
    )


def _convert_lmdb(source: SourceSpec, limit: int | None, **_: Any) -> ConvertSource:
    from keras_gen.data.lsun import LmdbSource

    return LmdbSource(source.path, limit=limit)


@dataclass(frozen=True)
class SourceKind:
    """What keras-gen does with one kind of source.

    Attributes:
        dataset: ``(source, options) -> (dataset, count function)``: the
            training pipeline; None if the kind must be converted first.
        count: Images in one pass, known without reading them, or None.
        class_names: The class names of ``source.labels``; None if the kind
            has no labels.
        convert: ``(source, size=, label_key=, limit=) -> ConvertSource``, the
            entries ``keras-gen data convert`` reads.
    """

    dataset: Callable[[SourceSpec, PipelineOptions], Opened] | None
    count: Callable[[SourceSpec], int | None]
    class_names: Callable[[SourceSpec], list[str]] | None
    convert: Callable[..., ConvertSource]


def _no_count(source: SourceSpec) -> None:
    return None


#: Every kind of source, by ``SourceSpec.kind`` (``data.source`` in configs).
SOURCES: dict[str, SourceKind] = {
    "rooms": SourceKind(_rooms_dataset, lambda s: s.num, _room_classes, _convert_rooms),
    "folder": SourceKind(
        _folder_dataset, _count_folder, _folder_classes, _convert_folder
    ),
    # A folder of shards is read as a folder when converting, as it always was.
    "tfrecord": SourceKind(_tfrecord_dataset, _no_count, None, _convert_folder),
    "tfds": SourceKind(_tfds_dataset, _no_count, None, _convert_tfds),
    "lmdb": SourceKind(None, _no_count, None, _convert_lmdb),
}


def source_kind(kind: str) -> SourceKind:
    """The :class:`SourceKind` of ``kind``.

    Raises:
        ValueError: An unknown kind.
    """
    try:
        return SOURCES[kind]
    except KeyError:
        raise ValueError(
            f"unknown source kind {kind!r}; known: {', '.join(SOURCES)}"
        ) from None


def _cap(count: int | None, limit: int | None) -> int | None:
    if count is None or limit is None:
        return count
    return min(count, limit)


def dataset_from_source(
    source: SourceSpec, options: PipelineOptions
) -> tuple[tf.data.Dataset, int]:
    """The training pipeline of a source, and its images in one pass.

    Args:
        source: What to read.
        options: How (``image_size`` and ``batch_size`` are required).

    Returns:
        ``(dataset, count)``: float32 batches in ``options.value_range`` (or
        ``(images, labels)`` batches), and the number of images in one pass,
        at most ``source.num``.

    Raises:
        ValueError: A kind without a training pipeline (``lmdb``).

    Example:
        >>> ds, n = dataset_from_source(SourceSpec("rooms", num=64),
        ...     PipelineOptions(batch_size=16, image_size=32))  # doctest: +SKIP
    """
    open_dataset = source_kind(source.kind).dataset
    if open_dataset is None:
        raise ValueError(
            f"a {source.kind} source has no training pipeline: convert "
            f"{source.path!r} with `keras-gen data convert` first"
        )
    ds, count = open_dataset(source, options)
    return ds, _cap(count(), source.num)


def count_of_source(source: SourceSpec) -> int | None:
    """Images in one pass, if known without reading them (at most ``num``).

    Procedural rooms: ``num``; a folder: its image files (listed, not
    opened); TFDS, TFRecord, LMDB: None (unknown).
    """
    return _cap(source_kind(source.kind).count(source), source.num)


def class_names_of_source(source: SourceSpec) -> list[str]:
    """The class names of ``source.labels``, found without reading images.

    Raises:
        ValueError: The kind has no labels, or a folder has no class folder.
    """
    names = source_kind(source.kind).class_names
    if names is None:
        raise ValueError(f"a {source.kind} source has no class labels")
    return names(source)


def parse_source(
    spec: str,
    *,
    size: int | None = None,
    data_dir: str | None = None,
    image_key: str = "image",
    label_key: str | None = None,
    limit: int | None = None,
) -> ConvertSource:
    """The conversion source named by ``spec`` (table in the module doc).

    Args:
        spec: ``rooms:N[:SEED]``, ``tfds:NAME[:SPLIT]``, an LMDB folder or an
            image folder.
        size: Rendered size of rooms (default 64); ignored by other sources
            (``write_shards(size=...)`` resizes those).
        data_dir: TFDS data folder.
        image_key: TFDS image feature.
        label_key: TFDS label feature.
        limit: LMDB: only the first ``limit`` entries.

    Returns:
        A ``ConvertSource``.

    Raises:
        ValueError: A malformed spec.
        FileNotFoundError: A path that does not exist.

    Example:
        >>> parse_source("rooms:10:3").description
        'rooms:10:3:64px'
    """
    source = parse_spec(spec, data_dir=data_dir, image_key=image_key)
    if source.kind not in ("rooms", "tfds") and not os.path.exists(spec):
        raise FileNotFoundError(f"source not found: {spec!r}")
    return source_kind(source.kind).convert(
        source, size=size, label_key=label_key, limit=limit
    )


def dataset_from_spec(
    spec: str,
    *,
    image_size: int,
    batch_size: int,
    value_range: tuple[float, float] = (-1.0, 1.0),
    seed: int = 0,
    training: bool = True,
    data_dir: str | None = None,
    image_key: str = "image",
) -> tf.data.Dataset:
    """A training pipeline from a spec string (for ``keras-gen data preview``).

    Args:
        spec: ``rooms:N[:SEED]``, ``tfds:NAME[:SPLIT]``, a folder of TFRecord
            shards (with ``index.json`` or ``*.tfrecord`` files) or an image
            folder.
        image_size: Model size.
        batch_size: Images per batch.
        value_range: Output range.
        seed: Data seed.
        training: Shuffle and flip as training does.
        data_dir: TFDS data folder.
        image_key: TFDS image feature.

    Returns:
        A dataset of float32 batches.

    Example:
        >>> ds = dataset_from_spec("rooms:64", image_size=64,
        ...                        batch_size=16)  # doctest: +SKIP
    """
    options = PipelineOptions(
        image_size=image_size,
        batch_size=batch_size,
        value_range=value_range,
        training=training,
        cache=False,
        seed=seed,
    )
    source = parse_spec(spec, data_dir=data_dir, image_key=image_key)
    open_dataset = source_kind(source.kind).dataset
    if open_dataset is None:  # an LMDB database: read it as a folder, as before
        open_dataset = _folder_dataset
    return open_dataset(source, options)[0]
