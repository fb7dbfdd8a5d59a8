"""What a source is: the ``rooms:N:SEED`` spec and the other source strings.

The command line names image sources by strings; configs name them by a
``data`` section. Both become a :class:`SourceSpec`, which
:mod:`keras_gen.data.sources` turns into a pipeline or a conversion source.

====================================  =========  ================================
string                                kind       what
====================================  =========  ================================
``rooms``, ``rooms:N``, ``rooms:N:S``  rooms     ``N`` procedural rooms, seed ``S``
``tfds:NAME[:SPLIT]``                 tfds       a prepared TFDS dataset
a folder with ``data.mdb`` (or .mdb)  lmdb       an LMDB database (LSUN layout)
a folder with ``index.json`` or       tfrecord   converted TFRecord shards
``*.tfrecord*`` files
any other path                        folder     its image files, recursively
====================================  =========  ================================

:func:`parse_rooms_spec` is the one parser of the rooms spec: the number
of rooms is required where a finite set is built (conversion, training
preview) and optional where the rooms are streamed (evaluation), and the
default seed is the caller's (0 for training data, 1000 for evaluation).

Pure Python: nothing here imports TensorFlow at import time.

Example:
    >>> parse_rooms_spec("rooms:10:3")
    RoomsSpec(count=10, seed=3)
    >>> parse_spec("tfds:lsun/bedroom").kind
    'tfds'
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = [
    "SOURCE_KINDS",
    "RoomsSpec",
    "SourceSpec",
    "is_rooms_spec",
    "parse_rooms_spec",
    "parse_spec",
]

#: Kinds of source, as in a config's ``data.source`` (plus ``lmdb``, which
#: only ``keras-gen data convert`` reads).
SOURCE_KINDS: tuple[str, ...] = ("rooms", "folder", "tfds", "tfrecord", "lmdb")


@dataclass(frozen=True)
class RoomsSpec:
    """A parsed ``rooms[:N[:SEED]]`` spec.

    Attributes:
        count: Number of rooms, or None (not given: as many as asked for).
        seed: Data-set seed (image ``i`` is ``render_room(image_seed(seed, i))``).
    """

    count: int | None
    seed: int


def is_rooms_spec(spec: str) -> bool:
    """True for ``rooms`` and ``rooms:...`` (``rooms_photos/`` is a folder)."""
    return spec == "rooms" or spec.startswith("rooms:")


def parse_rooms_spec(
    spec: str, *, default_seed: int = 0, count_required: bool = True
) -> RoomsSpec:
    """Parse ``rooms``, ``rooms:N`` or ``rooms:N:SEED``.

    Args:
        spec: The spec string.
        default_seed: Seed when the spec gives none.
        count_required: Reject a spec without ``N`` (``rooms``, ``rooms:``).

    Returns:
        The :class:`RoomsSpec`.

    Raises:
        ValueError: Not a rooms spec, a part that is not an integer, more than
            three parts, ``N < 1``, a negative seed, or no ``N`` when it is
            required; the message says "bad rooms spec" and the forms allowed.

    Example:
        >>> parse_rooms_spec("rooms", default_seed=1000, count_required=False)
        RoomsSpec(count=None, seed=1000)
    """
    usage = (
        "rooms:N or rooms:N:SEED"
        if count_required
        else "rooms, rooms:N or rooms:N:SEED"
    )
    bad = ValueError(f"bad rooms spec {spec!r}: use {usage}")
    parts = spec.split(":")
    if not is_rooms_spec(spec) or len(parts) > 3:
        raise bad
    try:
        count = int(parts[1]) if len(parts) > 1 and parts[1] else None
        seed = int(parts[2]) if len(parts) > 2 else default_seed
    except ValueError:
        raise bad from None
    if (count is None and count_required) or (count is not None and count < 1):
        raise bad
    if seed < 0:
        raise bad
    return RoomsSpec(count, seed)


@dataclass(frozen=True)
class SourceSpec:
    """Where images come from: a source string or a config's ``data`` section.

    Attributes:
        kind: One of :data:`SOURCE_KINDS`.
        path: Folder, TFRecord shards (folder, glob) or LMDB database.
        name: TFDS dataset name.
        split: TFDS split.
        data_dir: TFDS data folder.
        image_key: TFDS image feature.
        download: Prepare a TFDS dataset that is not prepared (network).
        num: Rooms: how many; other kinds: at most this many images count as
            one pass (None: all of them).
        seed: Rooms: the data-set seed.
        labels: Class labels: a rooms label name, or (any true value) the
            sub-folders of an image folder; None for none.
        check: How an image folder's files are checked (``header``, ``full``,
            ``none``).
        render_cache_dir: Rooms: folder of the rendered ``.npz`` cache.
        progress: Rooms: show a progress bar while rendering.
    """

    kind: str
    path: str | None = None
    name: str | None = None
    split: str = "train"
    data_dir: str | None = None
    image_key: str = "image"
    download: bool = False
    num: int | None = None
    seed: int = 0
    labels: str | None = None
    check: str = "header"
    render_cache_dir: str | None = None
    progress: bool = False


def _is_lmdb(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "data.mdb")) or path.endswith(".mdb")


def _is_tfrecord_folder(path: str) -> bool:
    import tensorflow as tf  # gfile: also remote file systems

    from keras_gen.data.tfrecord_format import INDEX_FILE

    return os.path.isfile(os.path.join(path, INDEX_FILE)) or bool(
        tf.io.gfile.glob(os.path.join(path, "*.tfrecord*"))
    )


def parse_spec(
    spec: str,
    *,
    data_dir: str | None = None,
    image_key: str = "image",
    rooms_seed: int = 0,
) -> SourceSpec:
    """The :class:`SourceSpec` of a source string (table in the module doc).

    Paths are classified, not checked: a missing path is a ``folder`` (or an
    ``lmdb`` if it ends in ``.mdb``), for the reader to report.

    Args:
        spec: The string.
        data_dir: TFDS data folder, for a ``tfds:`` spec.
        image_key: TFDS image feature, for a ``tfds:`` spec.
        rooms_seed: Seed of a rooms spec without one.

    Raises:
        ValueError: A malformed rooms spec.

    Example:
        >>> parse_spec("rooms:64").num
        64
    """
    if is_rooms_spec(spec):
        rooms = parse_rooms_spec(spec, default_seed=rooms_seed)
        return SourceSpec("rooms", num=rooms.count, seed=rooms.seed)
    if spec.startswith("tfds:"):
        name, _, split = spec[len("tfds:") :].partition(":")
        return SourceSpec(
            "tfds",
            name=name,
            split=split or "train",
            data_dir=data_dir,
            image_key=image_key,
        )
    if _is_lmdb(spec):
        return SourceSpec("lmdb", path=spec)
    if _is_tfrecord_folder(spec):
        return SourceSpec("tfrecord", path=spec)
    return SourceSpec("folder", path=spec)
