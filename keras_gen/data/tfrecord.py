"""Sharded TFRecord files of encoded images: writing (resumable) and reading.

A converted data set is a folder of shards plus a small JSON index::

    out/
      images-00000-of-00008.tfrecord   tf.train.Example records, see below
      ...
      index.json                        count, shards, sha256 of each shard

Every record is a ``tf.train.Example`` with

==================  ======  ==================================================
key                 type    value
==================  ======  ==================================================
``image/encoded``   bytes   the JPEG or PNG file
``image/format``    bytes   ``b"jpeg"`` or ``b"png"``
``image/height``    int64   height of the *original* image (before ``size``)
``image/width``     int64   width of the original image
``image/label``     int64   class id, ``-1`` when the source has no labels
``image/key``       bytes   where it came from (relative path, LMDB key, ...)
==================  ======  ==================================================

Writing (:func:`write_shards`, in :mod:`keras_gen.data.tfrecord_writer`) takes
any :class:`ConvertSource` (image folder, LSUN LMDB, TFDS, procedural rooms;
see :mod:`keras_gen.data.sources`). Images are checked and, if needed,
re-encoded with Pillow (:func:`prepare_image`): WebP, BMP and GIF become JPEG
(TensorFlow cannot decode WebP), JPEG and PNG files are stored byte for byte
unless ``size`` asks for a smaller copy. Entries that Pillow cannot decode are
skipped and counted. Shard ``i`` of ``n`` holds the source entries
``[i * N // n, (i + 1) * N // n)``, is written to a temporary name and renamed
when complete, and is then recorded (with its sha256) in the index: rerunning
an interrupted conversion skips the complete shards.

Reading (:func:`tfrecord_dataset`, in :mod:`keras_gen.data.tfrecord_reader`)
interleaves the shards in parallel, decodes with the image-folder decoder
(:func:`~keras_gen.data.decode.decode_rgb`), resizes and centre-crops
(:func:`~keras_gen.data.pipeline.resize_and_center_crop`) and hands the
``uint8`` images to
:func:`~keras_gen.data.pipeline.finalize_dataset`. Its auto-shard policy is
``FILE``: under a multi-worker ``tf.distribute`` strategy each worker reads its
own subset of the shards (so write at least as many shards as workers).

This module re-exports both (and the record format of
:mod:`keras_gen.data.tfrecord_format`), so either import path works.

Example:
    >>> from keras_gen.data.sources import parse_source
    >>> index = write_shards(parse_source("rooms:100"), "rooms_tfr", num_shards=4)
    >>> ds = tfrecord_dataset("rooms_tfr", image_size=64, batch_size=32, seed=0)
"""

from __future__ import annotations

from keras_gen.data.decode import decode_to_uint8
from keras_gen.data.pipeline import apply_input_options
from keras_gen.data.tfrecord_format import (
    INDEX_FILE,
    EncodedImage,
    IndexMismatchError,
    ShardChecksumError,
    encode_example,
    parse_example,
    read_index,
    verify_index,
)
from keras_gen.data.tfrecord_reader import count_records, shard_files, tfrecord_dataset
from keras_gen.data.tfrecord_writer import ConvertSource, prepare_image, write_shards

__all__ = [
    "INDEX_FILE",
    "ConvertSource",
    "EncodedImage",
    "IndexMismatchError",
    "ShardChecksumError",
    "apply_input_options",
    "count_records",
    "decode_to_uint8",
    "encode_example",
    "parse_example",
    "prepare_image",
    "read_index",
    "shard_files",
    "tfrecord_dataset",
    "verify_index",
    "write_shards",
]
