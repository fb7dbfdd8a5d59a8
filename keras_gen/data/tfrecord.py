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

Writing (:func:`write_shards`) takes any :class:`ConvertSource` (image folder,
LSUN LMDB, TFDS, procedural rooms; see :mod:`keras_gen.data.sources`). Images
are checked and, if needed, re-encoded with Pillow (:func:`prepare_image`):
WebP, BMP and GIF become JPEG (TensorFlow cannot decode WebP), JPEG and PNG
files are stored byte for byte unless ``size`` asks for a smaller copy.
Entries that Pillow cannot decode are skipped and counted. Shard ``i`` of ``n``
holds the source entries ``[i * N // n, (i + 1) * N // n)``, is written to a
temporary name and renamed when complete, and is then recorded (with its
sha256) in the index: rerunning an interrupted conversion skips the complete
shards.

Reading (:func:`tfrecord_dataset`) interleaves the shards in parallel, decodes
with the image-folder decoder (:func:`~keras_gen.data.folder.decode_rgb`),
resizes and centre-crops (:func:`~keras_gen.data.pipeline.resize_and_center_crop`)
and hands the ``uint8`` images to
:func:`~keras_gen.data.pipeline.finalize_dataset`. Its auto-shard policy is
``FILE``: under a multi-worker ``tf.distribute`` strategy each worker reads its
own subset of the shards (so write at least as many shards as workers).

Example:
    >>> from keras_gen.data.sources import parse_source
    >>> index = write_shards(parse_source("rooms:100"), "rooms_tfr", num_shards=4)
    >>> ds = tfrecord_dataset("rooms_tfr", image_size=64, batch_size=32, seed=0)
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_gen.data.pipeline import (
    ValueRange,
    _check_positive_int,
    finalize_dataset,
    keyed_cache_path,
    resize_and_center_crop,
)
from keras_gen.utils.files import atomic_write_text
from keras_gen.utils.processes import pid_alive
from keras_gen.utils.rgb import to_rgb

__all__ = [
    "INDEX_FILE",
    "ConvertSource",
    "EncodedImage",
    "IndexMismatchError",
    "ShardChecksumError",
    "apply_input_options",
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

#: Name of the JSON index in a converted folder.
INDEX_FILE = "index.json"
_INDEX_VERSION = 1
_SHARD_PREFIX = "images"
# Pillow formats stored byte for byte when no resize is asked for.
_PASS_THROUGH = {"JPEG": "jpeg", "PNG": "png"}
_FORMATS = ("auto", "jpeg", "png")


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


class ConvertSource(Protocol):
    """What :func:`write_shards` reads: a fixed, ordered list of raw entries.

    ``read(start, stop)`` yields ``(key, raw, label)`` for entries
    ``start..stop-1`` in order, where ``raw`` is an encoded image file
    (``bytes``, any format Pillow reads) or a ``uint8`` ``[H, W, 3]`` array.
    A corrupt entry is still yielded (its bytes fail to decode and it is
    counted as skipped), so that shard boundaries never move.
    """

    description: str

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> Iterator[tuple[str, Any, int]]: ...


def _shorter_side_box(width: int, height: int, size: int) -> tuple[int, int]:
    """New (width, height) with the shorter side ``size``, rounded as in the
    tf.data pipeline (:func:`~keras_gen.data.pipeline.resize_and_center_crop`)."""
    short = min(width, height)
    new_w = max((width * size + short // 2) // short, size)
    new_h = max((height * size + short // 2) // short, size)
    return new_w, new_h


def prepare_image(
    raw: bytes | np.ndarray,
    *,
    size: int | None = None,
    image_format: str = "auto",
    quality: int = 95,
    label: int = -1,
    key: str = "",
) -> EncodedImage:
    """Decode ``raw`` with Pillow, optionally shrink it, and encode JPEG or PNG.

    Decoding every entry fully is what finds corrupt LMDB values and truncated
    files before they reach training. A JPEG (or PNG) that is kept at its size
    is stored byte for byte: re-encoding a JPEG would only lose quality.

    Args:
        raw: An encoded image (JPEG, PNG, WebP, BMP, GIF...) or a ``uint8``
            ``[H, W, 3]`` array.
        size: If given, resize the shorter side to ``size`` (Lanczos, which
            antialiases when shrinking) and centre-crop to ``size x size``.
        image_format: ``"auto"`` (keep JPEG/PNG, others become JPEG; arrays
            become PNG, which is lossless), ``"jpeg"`` or ``"png"``.
        quality: JPEG quality when encoding (1-100).
        label: Class id to store (``-1``: none).
        key: Identifier to store.

    Returns:
        An :class:`EncodedImage` (height and width are the original ones).

    Raises:
        Exception: Whatever Pillow raises for data it cannot decode
            (``PIL.UnidentifiedImageError``, ``OSError``, ``SyntaxError``...).

    Example:
        >>> img = prepare_image(np.zeros((4, 6, 3), np.uint8))
        >>> img.format, img.height, img.width
        ('png', 4, 6)
    """
    if image_format not in _FORMATS:
        raise ValueError(
            f"image_format must be one of {_FORMATS}, got {image_format!r}"
        )
    if isinstance(raw, np.ndarray):
        image = Image.fromarray(raw)
        original = None
    else:
        image = Image.open(io.BytesIO(raw))
        image.load()  # raises on corrupt or truncated data
        original = image.format
    width, height = image.size
    resized = False
    if size is not None and min(width, height) != size:
        new_w, new_h = _shorter_side_box(width, height, size)
        image = to_rgb(image).resize((new_w, new_h), Image.Resampling.LANCZOS)
        resized = True
    if size is not None and image.size != (size, size):
        left = (image.size[0] - size) // 2
        top = (image.size[1] - size) // 2
        image = image.crop((left, top, left + size, top + size))
        resized = True
    if image_format == "auto":
        out = _PASS_THROUGH.get(original or "", "png" if original is None else "jpeg")
    else:
        out = image_format
    if not resized and original is not None and _PASS_THROUGH.get(original) == out:
        return EncodedImage(bytes(raw), out, height, width, label, key)
    buffer = io.BytesIO()
    # Greyscale, palette, CMYK and RGBA all become RGB (alpha composited on
    # white, as the pipeline's decoder does).
    rgb = to_rgb(image)
    if out == "jpeg":
        rgb.save(buffer, format="JPEG", quality=quality)
    else:
        rgb.save(buffer, format="PNG")
    return EncodedImage(buffer.getvalue(), out, height, width, label, key)


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
        >>> record = encode_example(prepare_image(np.zeros((8, 8, 3), np.uint8)))
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


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_OWN_TEMPORARY = re.compile(
    rf"{_SHARD_PREFIX}-\d{{5}}-of-\d{{5}}\.tfrecord\.tmp-(\d+)|.+\.json\.tmp-(\d+)"
)


def _remove_own_temporaries(folder: str) -> None:
    """Remove the temporary files of an interrupted conversion, and only them.

    Only regular files named as this module names its temporaries (a shard
    or the index, `.tmp-<pid>`) of a process that is gone, or of this one
    (an earlier, interrupted call): a user's own `*.tmp-*` files and
    folders, and another running conversion's, are left alone.
    """
    for name in os.listdir(folder):
        match = _OWN_TEMPORARY.fullmatch(name)
        if not match or not os.path.isfile(os.path.join(folder, name)):
            continue
        pid = int(match[1] or match[2])
        if pid == os.getpid() or not pid_alive(pid):
            os.remove(os.path.join(folder, name))


def _write_json(path: str, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file and rename it: never a half index."""
    atomic_write_text(path, json.dumps(data, indent=1))


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
        if _sha256(file) != shard["sha256"]:
            raise ShardChecksumError(
                f"shard {file!r} does not match its sha256 in the index "
                "(modified or corrupted since it was written)"
            )
    return index


def _shard_name(i: int, n: int) -> str:
    return f"{_SHARD_PREFIX}-{i:05d}-of-{n:05d}.tfrecord"


def _default_num_shards(total: int) -> int:
    # At least 8 (parallel interleave, and file sharding over a few workers),
    # then ~10,000 images a shard (a 256px JPEG shard ~150 MB, near tf.data's
    # advice of 100+ MB files).
    return max(1, min(total, max(8, -(-total // 10_000))))


def write_shards(
    source: ConvertSource,
    out_dir: str | os.PathLike[str],
    *,
    num_shards: int | None = None,
    size: int | None = None,
    image_format: str = "auto",
    quality: int = 95,
    workers: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Convert ``source`` into sharded TFRecords with a JSON index (resumable).

    Args:
        source: The entries to convert (see :class:`ConvertSource` and
            :func:`keras_gen.data.sources.parse_source`).
        out_dir: Output folder (created).
        num_shards: Number of shards; default 8, or one per ~10,000 entries
            for large sources.
        size: Store images resized (shorter side) and centre-cropped to
            ``size x size``; ``None`` keeps their size.
        image_format: ``"auto"``, ``"jpeg"`` or ``"png"`` (see
            :func:`prepare_image`).
        quality: JPEG quality of re-encoded images.
        workers: Threads decoding/encoding with Pillow (it releases the GIL);
            default: the number of CPUs, at most 8.
        progress: Show a tqdm progress bar (entries).
        overwrite: Start again even if ``out_dir`` holds a conversion with
            other settings (its shards are replaced).

    Returns:
        The index (also written to ``out_dir/index.json``).

    Raises:
        IndexMismatchError: ``out_dir`` holds a conversion of something else
            or with other settings, and ``overwrite`` is false.
        ValueError: Bad arguments, or an empty source.

    Example:
        >>> index = write_shards(source, "out", num_shards=4)  # doctest: +SKIP
        >>> index["count"], index["skipped"]  # doctest: +SKIP
        (998, 2)
    """
    total = len(source)
    if total < 1:
        raise ValueError(f"the source {source.description} has no entries")
    num_shards = (
        _default_num_shards(total)
        if num_shards is None
        else min(_check_positive_int("num_shards", num_shards), total)
    )
    if size is not None:
        size = _check_positive_int("size", size)
    if image_format not in _FORMATS:
        raise ValueError(
            f"image_format must be one of {_FORMATS}, got {image_format!r}"
        )
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality!r}")
    workers = workers or min(8, os.cpu_count() or 1)
    folder = os.fspath(out_dir)
    os.makedirs(folder, exist_ok=True)
    settings = {
        "source": source.description,
        "source_entries": total,
        "num_shards": num_shards,
        "image_size": size,
        "image_format": image_format,
        "quality": int(quality),
    }
    done: dict[int, dict[str, Any]] = {}
    index_path = os.path.join(folder, INDEX_FILE)
    if os.path.isfile(index_path) and not overwrite:
        old = read_index(folder)
        differs = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        if differs:
            described = ", ".join(
                f"{k}: {a!r} there, {b!r} now" for k, (a, b) in differs.items()
            )
            raise IndexMismatchError(
                f"{folder!r} holds a conversion with other settings ({described}); "
                "use another output folder or --overwrite"
            )
        for shard in old["shards"]:
            file = os.path.join(folder, shard["file"])
            # Size, not sha256: re-hashing every complete shard would make a
            # resume of a large conversion slow; verify_index does the full check.
            if os.path.isfile(file) and os.path.getsize(file) == shard["bytes"]:
                done[shard["index"]] = shard
    _remove_own_temporaries(folder)

    def index_data() -> dict[str, Any]:
        shards = [done[i] for i in sorted(done)]
        return {
            "format_version": _INDEX_VERSION,
            **settings,
            "count": sum(s["count"] for s in shards),
            "skipped": sum(s["skipped"] for s in shards),
            "complete": len(shards) == num_shards,
            "skipped_examples": [e for s in shards for e in s["skipped_examples"]][:5],
            "shards": shards,
        }

    from tqdm import tqdm

    todo = [i for i in range(num_shards) if i not in done]
    skipped_total = sum(s["skipped"] for s in done.values())
    bar = tqdm(
        total=total,
        initial=sum(s["stop"] - s["start"] for s in done.values()),
        unit="img",
        desc=f"converting to {num_shards} shards",
        disable=not progress,
    )
    start_time = time.perf_counter()

    def prepare(entry: tuple[str, Any, int]) -> EncodedImage | str:
        key, raw, label = entry
        try:
            return prepare_image(
                raw,
                size=size,
                image_format=image_format,
                quality=quality,
                label=label,
                key=key,
            )
        except Exception as error:  # Pillow raises many types for bad data
            return f"{key}: {type(error).__name__}: {error}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i in todo:
            start, stop = i * total // num_shards, (i + 1) * total // num_shards
            name = _shard_name(i, num_shards)
            final = os.path.join(folder, name)
            tmp = f"{final}.tmp-{os.getpid()}"
            count, skipped = 0, []
            with tf.io.TFRecordWriter(tmp) as writer:
                entries = source.read(start, stop)
                while chunk := list(itertools.islice(entries, 64 * workers)):
                    # pool.map keeps the order: shards are reproducible.
                    for result in pool.map(prepare, chunk):
                        if isinstance(result, str):
                            skipped.append(result)
                        else:
                            writer.write(encode_example(result))
                            count += 1
                    bar.update(len(chunk))
                    bar.set_postfix(skipped=skipped_total + len(skipped))
            os.replace(tmp, final)
            done[i] = {
                "index": i,
                "file": name,
                "start": start,
                "stop": stop,
                "count": count,
                "skipped": len(skipped),
                "skipped_examples": skipped[:5],
                "bytes": os.path.getsize(final),
                "sha256": _sha256(final),
            }
            skipped_total += len(skipped)
            # Recorded once renamed: a shard in the index is always complete.
            _write_json(index_path, index_data())
    bar.close()
    index = index_data()
    index["seconds"] = round(time.perf_counter() - start_time, 3)
    _write_json(index_path, index)
    return index


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


def decode_to_uint8(data: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded image bytes -> ``uint8 [image_size, image_size, 3]``.

    The folder pipeline's decoder (accurate JPEG IDCT) followed by the shared
    resize-and-centre-crop, so every source yields the same pixels for the
    same file.

    Args:
        data: Scalar string tensor (JPEG, PNG, BMP, GIF).
        image_size: Output side.

    Returns:
        The ``uint8`` image.

    Example:
        >>> decode_to_uint8(tf.io.read_file("a.jpg"), 64).shape  # doctest: +SKIP
        TensorShape([64, 64, 3])
    """
    from keras_gen.data.folder import decode_rgb

    image = resize_and_center_crop(decode_rgb(data, min_size=image_size), image_size)
    return tf.cast(tf.round(image), tf.uint8)


def apply_input_options(
    ds: tf.data.Dataset,
    *,
    deterministic: bool,
    shard_policy: tf.data.experimental.AutoShardPolicy,
    threads: int | None = None,
) -> tf.data.Dataset:
    """Set the tf.data options shared by the TFRecord and TFDS pipelines.

    Args:
        ds: The finished dataset.
        deterministic: Keep the element order of parallel stages.
        shard_policy: ``FILE`` for file-based sources, ``DATA`` otherwise.
        threads: Size of a private thread pool for this pipeline; ``None``
            uses TensorFlow's shared inter-op pool. A private pool keeps the
            input pipeline's threads from queueing behind the training step's
            ops (and vice versa) on a machine with few cores.

    Returns:
        ``ds`` with the options.

    Example:
        >>> ds = apply_input_options(ds, deterministic=True,  # doctest: +SKIP
        ...     shard_policy=tf.data.experimental.AutoShardPolicy.FILE)
    """
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    options.experimental_distribute.auto_shard_policy = shard_policy
    if threads:
        options.threading.private_threadpool_size = _check_positive_int(
            "threads", threads
        )
    return ds.with_options(options)


def _cache_prefix(cache: str, files: Sequence[str], image_size: int) -> str:
    """A cache file prefix keyed on the shards and the image size.

    tf.data silently reuses whatever cache exists at a prefix; the key makes
    a cache of other shards or another size impossible to read back.
    """
    return keyed_cache_path(
        cache, f"tfrecord|{image_size}", files, os.path.basename, image_size, "tfrecord"
    )


def tfrecord_dataset(
    path: str | os.PathLike[str] | Sequence[str],
    *,
    image_size: int,
    batch_size: int,
    value_range: ValueRange = (-1.0, 1.0),
    training: bool = True,
    shuffle_buffer: int = 10_000,
    cache: bool | str = True,
    flip: bool = True,
    seed: int | None = None,
    repeat: bool = False,
    deterministic: bool = True,
    threads: int | None = None,
    labels: bool = False,
    drop_remainder: bool = True,
    cycle_length: int = 16,
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
        image_size: Output side (shorter side resized, centre crop).
        batch_size: Images per batch.
        value_range: Output ``(low, high)``.
        training: Shuffle shards and images, and flip.
        shuffle_buffer: Images in the shuffle buffer.
        cache: ``True`` caches decoded images in memory; a string caches them
            to files at that prefix (or in that folder), keyed on the shards
            and ``image_size``; ``False`` decodes every epoch.
        flip: Random horizontal flips when training.
        seed: Seed of the shard order, the shuffle and the flips.
        repeat: Repeat forever.
        deterministic: Parallel reading and decoding keep a fixed order, so
            the same seed gives the same batches. ``False`` lets them return
            elements as soon as ready (faster when some shards are slow).
        threads: Private tf.data thread pool size (``None``: shared pool).
        labels: Yield ``(images, labels)`` (int32, ``-1`` = none).
        drop_remainder: Drop the last incomplete batch.
        cycle_length: Shards read at once when training (capped at the
            number of shards); a fixed number, so the interleaved order does
            not depend on the machine's CPU count. Not training, the shards
            are read in order, giving the images in the source's order.

    Returns:
        A dataset of float32 ``[batch, image_size, image_size, 3]`` batches
        in ``value_range`` (or ``(images, labels)``), with auto-shard policy
        ``FILE``.

    Example:
        >>> ds = tfrecord_dataset("rooms_tfr", image_size=64, batch_size=32,
        ...                       seed=0)  # doctest: +SKIP
    """
    files = shard_files(path)
    image_size = _check_positive_int("image_size", image_size)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        # A 1 MB read buffer: fewer, larger reads from each shard.
        lambda f: tf.data.TFRecordDataset(f, buffer_size=1 << 20),
        # Not training: one shard after the other, i.e. the source's order.
        cycle_length=max(1, min(len(files), cycle_length)) if training else 1,
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )

    def load(record: tf.Tensor) -> Any:
        example = parse_example(record)
        image = decode_to_uint8(example["image/encoded"], image_size)
        if labels:
            return image, tf.cast(example["image/label"], tf.int32)
        return image

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if isinstance(cache, str | os.PathLike) and cache is not False:
        cache = _cache_prefix(os.fspath(os.path.expanduser(cache)), files, image_size)
    ds = finalize_dataset(
        ds,
        batch_size=batch_size,
        value_range=value_range,
        training=training,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        flip=flip,
        seed=seed,
        repeat=repeat,
        drop_remainder=drop_remainder,
    )
    return apply_input_options(
        ds,
        deterministic=deterministic,
        shard_policy=tf.data.experimental.AutoShardPolicy.FILE,
        threads=threads,
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
