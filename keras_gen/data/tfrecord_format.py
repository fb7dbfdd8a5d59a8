"""The TFRecord format of converted data sets: records, shard names, index.

Shared by the writer (:mod:`keras_gen.data.tfrecord_writer`) and the reader
(:mod:`keras_gen.data.tfrecord_reader`); the layout is described in
:mod:`keras_gen.data.tfrecord`.

Example:
    >>> record = encode_example(EncodedImage(b"...", "png", 8, 8))
    >>> parse_example(tf.constant(record))["image/height"].numpy()  # doctest: +SKIP
    8
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from keras_gen.utils.files import file_digest

__all__ = [
    "INDEX_FILE",
    "EncodedImage",
    "IndexMismatchError",
    "ShardChecksumError",
    "encode_example",
    "parse_example",
    "read_index",
    "verify_index",
]

#: Name of the JSON index in a converted folder.
INDEX_FILE = "index.json"
_INDEX_VERSION = 1
_SHARD_PREFIX = "images"


class ShardChecksumError(ValueError):
    """A shard is missing or its sha256 differs from the one in the index."""


class IndexMismatchError(ValueError):
    """The output folder holds a conversion made with other settings."""


@dataclass
class EncodedImage:
    """One image ready to be written to a TFRecord.

    Attributes:
        data: The encoded file (JPEG or PNG).
        format: ``"jpeg"`` or ``"png"``.
        height: Height of the original image, before any resize.
        width: Width of the original image.
        label: Class id, ``-1`` for none.
        key: Where the image came from (path, LMDB key, index).
    """

    data: bytes
    format: str
    height: int
    width: int
    label: int = -1
    key: str = ""


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def encode_example(image: EncodedImage) -> bytes:
    """Serialize one image as a ``tf.train.Example`` (keys in the module doc).

    Args:
        image: The encoded image and its metadata.

    Returns:
        The serialized ``Example``.

    Example:
        >>> record = encode_example(EncodedImage(b"...", "png", 8, 8))
        >>> parse_example(tf.constant(record))["image/height"].numpy()
        8
    """
    features = {
        "image/encoded": _bytes_feature(image.data),
        "image/format": _bytes_feature(image.format.encode()),
        "image/height": _int_feature(image.height),
        "image/width": _int_feature(image.width),
        "image/label": _int_feature(image.label),
        "image/key": _bytes_feature(image.key.encode("utf-8", "replace")),
    }
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString()


_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/format": tf.io.FixedLenFeature([], tf.string, default_value=b""),
    "image/height": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/width": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/key": tf.io.FixedLenFeature([], tf.string, default_value=b""),
}


def parse_example(record: tf.Tensor) -> dict[str, tf.Tensor]:
    """Parse one serialized record into its features (see the module doc).

    Args:
        record: Scalar string tensor.

    Returns:
        A dict of scalar tensors keyed like the table in the module doc.

    Example:
        >>> parse_example(record)["image/key"]  # doctest: +SKIP
    """
    return tf.io.parse_single_example(record, _FEATURES)


def _shard_name(i: int, n: int) -> str:
    return f"{_SHARD_PREFIX}-{i:05d}-of-{n:05d}.tfrecord"


def read_index(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON index of a converted folder.

    Args:
        path: The folder (or the ``index.json`` file itself).

    Returns:
        The index: ``count``, ``skipped``, ``num_shards``, ``complete``,
        ``shards`` (``file``, ``start``, ``stop``, ``count``, ``skipped``,
        ``bytes``, ``sha256``) and the conversion settings.

    Raises:
        FileNotFoundError: If there is no index.

    Example:
        >>> read_index("rooms_tfr")["count"]  # doctest: +SKIP
        100
    """
    path = os.fspath(path)
    file = path if path.endswith(".json") else os.path.join(path, INDEX_FILE)
    if not os.path.isfile(file):
        raise FileNotFoundError(f"no TFRecord index {INDEX_FILE} in {path!r}")
    with open(file) as f:
        return json.load(f)


def verify_index(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every shard of a converted folder against the index's sha256.

    Args:
        path: The converted folder.

    Returns:
        The index.

    Raises:
        FileNotFoundError: No index.
        ShardChecksumError: The conversion is incomplete, or a shard is
            missing or differs from the index (the message names it).

    Example:
        >>> verify_index("rooms_tfr")["num_shards"]  # doctest: +SKIP
        4
    """
    folder = os.fspath(path)
    index = read_index(folder)
    if not index.get("complete"):
        raise ShardChecksumError(
            f"{folder!r}: the conversion is incomplete ({len(index['shards'])} of "
            f"{index['num_shards']} shards); rerun the same command to finish it"
        )
    for shard in index["shards"]:
        file = os.path.join(folder, shard["file"])
        if not os.path.isfile(file):
            raise ShardChecksumError(f"shard {file!r} listed in the index is missing")
        if file_digest(file) != shard["sha256"]:
            raise ShardChecksumError(
                f"shard {file!r} does not match its sha256 in the index "
                "(modified or corrupted since it was written)"
            )
    return index
