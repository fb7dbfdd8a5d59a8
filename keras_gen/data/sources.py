"""Where images come from: source specs for conversion, configs for training.

Two entry points:

- :func:`parse_source` turns a ``SRC`` string of ``keras-gen data convert``
  into a :class:`~keras_gen.data.tfrecord.ConvertSource`:

  ==========================  ==============================================
  ``SRC``                     source
  ==========================  ==============================================
  ``rooms:N`` / ``rooms:N:SEED``  ``N`` procedural rooms (seed 0 by default)
  ``tfds:NAME[:SPLIT]``       a prepared TFDS dataset (``tfds:lsun/bedroom``)
  a folder with ``data.mdb``  an LMDB database (LSUN layout)
  any other folder            its image files, recursively (labels: none)
  ==========================  ==============================================

- :func:`dataset_from_config` builds the training pipeline of a ``tfds`` or
  ``tfrecord`` data config (the trainer's ``build_dataset`` calls it).

Example:
    >>> from keras_gen.data.tfrecord import write_shards
    >>> write_shards(parse_source("rooms:64"), "out", num_shards=2)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from keras_gen.data.tfrecord import ConvertSource

__all__ = [
    "FolderSource",
    "RoomsSource",
    "dataset_from_config",
    "dataset_from_data",
    "dataset_from_spec",
    "parse_source",
]


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
        from keras_gen.data.folder import _check_folder, _list_image_files

        self.root = _check_folder(path)
        self.files = _list_image_files(self.root)
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
    if spec.startswith("rooms"):
        parts = spec.split(":")
        try:
            num = int(parts[1])
            seed = int(parts[2]) if len(parts) > 2 else 0
        except (IndexError, ValueError):
            raise ValueError(
                f"bad rooms spec {spec!r}: use rooms:N or rooms:N:SEED"
            ) from None
        return RoomsSource(num, size or 64, seed)
    if spec.startswith("tfds:"):
        from keras_gen.data.tfds_source import TfdsSource

        name, _, split = spec[len("tfds:") :].partition(":")
        return TfdsSource(
            name, split or "train", data_dir, image_key=image_key, label_key=label_key
        )
    if not os.path.exists(spec):
        raise FileNotFoundError(f"source not found: {spec!r}")
    if os.path.isfile(os.path.join(spec, "data.mdb")) or spec.endswith(".mdb"):
        from keras_gen.data.lsun import LmdbSource

        return LmdbSource(spec, limit=limit)
    return FolderSource(spec)


def dataset_from_config(
    config: Any,
    value_range: tuple[float, float],
    batch_size: int,
    training: bool = True,
    repeat: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """`dataset_from_data(config.data, config.model.image_size, ...)`."""
    return dataset_from_data(
        config.data, config.model.image_size, value_range, batch_size, training, repeat
    )


def dataset_from_data(
    data: Any,
    image_size: int,
    value_range: tuple[float, float],
    batch_size: int,
    training: bool = True,
    repeat: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """The training pipeline of a ``tfds`` or ``tfrecord`` data section.

    Args:
        data: A validated ``keras_gen.config.DataConfig`` (``source`` is
            ``"tfds"`` or ``"tfrecord"``).
        image_size: Side of the square images.
        value_range: The model's ``(low, high)``.
        batch_size: Global batch size.
        training: Shuffle and flip (the caller folds in ``data.shuffle``).
        repeat: Repeat forever.

    Returns:
        ``(dataset, num_images)``: float32 batches, and the images in one
        epoch (``data.num_images`` caps it, as for folders).

    Example:
        >>> ds, n = dataset_from_data(cfg.data, 64, (-1.0, 1.0), 64)  # doctest: +SKIP
    """
    d = data
    common: dict[str, Any] = {
        "image_size": image_size,
        "batch_size": batch_size,
        "value_range": value_range,
        "training": training,
        "shuffle_buffer": d.shuffle_buffer,
        "cache": os.path.expanduser(d.cache) if isinstance(d.cache, str) else d.cache,
        "flip": d.flip,
        "seed": d.seed,
        "repeat": repeat,
        "deterministic": d.deterministic,
        "threads": d.threads,
    }
    if d.source == "tfrecord":
        from keras_gen.data.tfrecord import count_records, tfrecord_dataset

        path = os.path.expanduser(d.path)
        ds = tfrecord_dataset(path, **common)
        total = count_records(path)
    elif d.source == "tfds":
        from keras_gen.data.tfds_source import tfds_dataset

        ds, total = tfds_dataset(
            d.name,
            split=d.split,
            data_dir=d.data_dir,
            image_key=d.image_key,
            download=d.download,
            **common,
        )
    else:
        raise ValueError(
            f"dataset_from_data handles tfds and tfrecord, not {d.source!r}"
        )
    num = total if d.num_images is None else min(d.num_images, total)
    return ds, num


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
    from keras_gen.data.pipeline import finalize_dataset

    common: dict[str, Any] = {
        "image_size": image_size,
        "batch_size": batch_size,
        "value_range": value_range,
        "training": training,
        "cache": False,
        "seed": seed,
    }
    if spec.startswith("rooms"):
        source = parse_source(spec, size=image_size)
        images = np.stack([raw for _, raw, _ in source.read(0, len(source))])
        common.pop("image_size")
        return finalize_dataset(tf.data.Dataset.from_tensor_slices(images), **common)
    if spec.startswith("tfds:"):
        from keras_gen.data.tfds_source import tfds_dataset

        name, _, split = spec[len("tfds:") :].partition(":")
        ds, _ = tfds_dataset(
            name,
            split=split or "train",
            data_dir=data_dir,
            image_key=image_key,
            **common,
        )
        return ds
    from keras_gen.data.tfrecord import INDEX_FILE, tfrecord_dataset

    if os.path.isfile(os.path.join(spec, INDEX_FILE)) or tf.io.gfile.glob(
        os.path.join(spec, "*.tfrecord*")
    ):
        return tfrecord_dataset(spec, **common)
    from keras_gen.data.folder import image_folder_dataset

    return image_folder_dataset(spec, **common)
