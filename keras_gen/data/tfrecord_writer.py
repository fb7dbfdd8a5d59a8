"""Writing sharded TFRecords of encoded images (resumable), with their index.

:func:`write_shards` takes any :class:`ConvertSource` (image folder, LSUN
LMDB, TFDS, procedural rooms; see :mod:`keras_gen.data.sources`), checks and
if needed re-encodes every entry with Pillow (:func:`prepare_image`), and
writes shard ``i`` of ``n`` (the source entries
``[i * N // n, (i + 1) * N // n)``) to a temporary name, renames it when
complete and then records it, with its sha256, in the index. Rerunning an
interrupted conversion skips the complete shards. The layout is described in
:mod:`keras_gen.data.tfrecord`.

Example:
    >>> from keras_gen.data.sources import parse_source
    >>> index = write_shards(parse_source("rooms:100"), "rooms_tfr",
    ...                      num_shards=4)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_gen.data.pipeline import _check_positive_int
from keras_gen.data.tfrecord_format import (
    _INDEX_VERSION,
    _SHARD_PREFIX,
    INDEX_FILE,
    EncodedImage,
    IndexMismatchError,
    _shard_name,
    encode_example,
    read_index,
)
from keras_gen.utils.files import atomic_write_text, file_digest
from keras_gen.utils.processes import pid_alive
from keras_gen.utils.rgb import to_rgb

__all__ = ["ConvertSource", "prepare_image", "write_shards"]

# Pillow formats stored byte for byte when no resize is asked for.
_PASS_THROUGH = {"JPEG": "jpeg", "PNG": "png"}
_FORMATS = ("auto", "jpeg", "png")


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


def _check_image_format(image_format: str) -> None:
    if image_format not in _FORMATS:
        raise ValueError(
            f"image_format must be one of {_FORMATS}, got {image_format!r}"
        )


def _open_image(raw: bytes | np.ndarray) -> tuple[Image.Image, str | None]:
    """The decoded image and its Pillow format (None for an array)."""
    if isinstance(raw, np.ndarray):
        return Image.fromarray(raw), None
    image = Image.open(io.BytesIO(raw))
    image.load()  # raises on corrupt or truncated data
    return image, image.format


def _fit_to_size(image: Image.Image, size: int | None) -> tuple[Image.Image, bool]:
    """Shorter side to ``size`` (Lanczos), centre crop; and whether it changed."""
    if size is None:
        return image, False
    resized = False
    width, height = image.size
    if min(width, height) != size:
        new_w, new_h = _shorter_side_box(width, height, size)
        image = to_rgb(image).resize((new_w, new_h), Image.Resampling.LANCZOS)
        resized = True
    if image.size != (size, size):
        left = (image.size[0] - size) // 2
        top = (image.size[1] - size) // 2
        image = image.crop((left, top, left + size, top + size))
        resized = True
    return image, resized


def _encode(image: Image.Image, out: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    # Greyscale, palette, CMYK and RGBA all become RGB (alpha composited on
    # white, as the pipeline's decoder does).
    rgb = to_rgb(image)
    if out == "jpeg":
        rgb.save(buffer, format="JPEG", quality=quality)
    else:
        rgb.save(buffer, format="PNG")
    return buffer.getvalue()


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
    _check_image_format(image_format)
    image, original = _open_image(raw)
    width, height = image.size
    image, resized = _fit_to_size(image, size)
    if image_format == "auto":
        out = _PASS_THROUGH.get(original or "", "png" if original is None else "jpeg")
    else:
        out = image_format
    if not resized and original is not None and _PASS_THROUGH.get(original) == out:
        return EncodedImage(bytes(raw), out, height, width, label, key)
    return EncodedImage(_encode(image, out, quality), out, height, width, label, key)


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


def _write_json(path: str, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file and rename it: never a half index."""
    atomic_write_text(path, json.dumps(data, indent=1))


def _default_num_shards(total: int) -> int:
    # At least 8 (parallel interleave, and file sharding over a few workers),
    # then ~10,000 images a shard (a 256px JPEG shard ~150 MB, near tf.data's
    # advice of 100+ MB files).
    return max(1, min(total, max(8, -(-total // 10_000))))


def _settings(
    source: ConvertSource,
    num_shards: int | None,
    size: int | None,
    image_format: str,
    quality: int,
) -> dict[str, Any]:
    """The validated conversion settings, as recorded in the index."""
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
    _check_image_format(image_format)
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality!r}")
    return {
        "source": source.description,
        "source_entries": total,
        "num_shards": num_shards,
        "image_size": size,
        "image_format": image_format,
        "quality": int(quality),
    }


def _complete_shards(
    folder: str, settings: dict[str, Any], overwrite: bool
) -> dict[int, dict[str, Any]]:
    """The shards an earlier run of the same conversion completed, by number.

    Raises:
        IndexMismatchError: The folder holds a conversion with other settings
            (and not ``overwrite``).
    """
    if overwrite or not os.path.isfile(os.path.join(folder, INDEX_FILE)):
        return {}
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
    done = {}
    for shard in old["shards"]:
        file = os.path.join(folder, shard["file"])
        # Size, not sha256: re-hashing every complete shard would make a
        # resume of a large conversion slow; verify_index does the full check.
        if os.path.isfile(file) and os.path.getsize(file) == shard["bytes"]:
            done[shard["index"]] = shard
    return done


def _index_data(
    settings: dict[str, Any], done: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """The index of the shards written so far."""
    shards = [done[i] for i in sorted(done)]
    return {
        "format_version": _INDEX_VERSION,
        **settings,
        "count": sum(s["count"] for s in shards),
        "skipped": sum(s["skipped"] for s in shards),
        "complete": len(shards) == settings["num_shards"],
        "skipped_examples": [e for s in shards for e in s["skipped_examples"]][:5],
        "shards": shards,
    }


def _prepare_entry(entry: tuple[str, Any, int], **settings: Any) -> EncodedImage | str:
    """The encoded entry, or why it was skipped (``"key: error"``)."""
    key, raw, label = entry
    try:
        return prepare_image(raw, label=label, key=key, **settings)
    except Exception as error:  # Pillow raises many types for bad data
        return f"{key}: {type(error).__name__}: {error}"


def _progress_bar(
    total: int, done: dict[int, dict[str, Any]], num_shards: int, progress: bool
) -> Any:
    """A tqdm bar over the entries, starting after the complete shards."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=sum(s["stop"] - s["start"] for s in done.values()),
        unit="img",
        desc=f"converting to {num_shards} shards",
        disable=not progress,
    )


class _ShardWriter:
    """Writes whole shards: entries prepared in a thread pool, in order."""

    def __init__(
        self,
        source: ConvertSource,
        folder: str,
        num_shards: int,
        prepare: Callable[[tuple[str, Any, int]], EncodedImage | str],
        pool: Executor,
        chunk: int,
        bar: Any,
        skipped: int,
    ) -> None:
        self.source, self.folder, self.num_shards = source, folder, num_shards
        self.prepare, self.pool, self.chunk, self.bar = prepare, pool, chunk, bar
        self.skipped_total = skipped

    def write(self, i: int) -> dict[str, Any]:
        """Write shard ``i`` under a temporary name, rename it; its index entry."""
        total = len(self.source)
        start, stop = i * total // self.num_shards, (i + 1) * total // self.num_shards
        name = _shard_name(i, self.num_shards)
        final = os.path.join(self.folder, name)
        tmp = f"{final}.tmp-{os.getpid()}"
        with tf.io.TFRecordWriter(tmp) as writer:
            count, skipped = self._write_records(writer, self.source.read(start, stop))
        os.replace(tmp, final)
        self.skipped_total += len(skipped)
        return {
            "index": i,
            "file": name,
            "start": start,
            "stop": stop,
            "count": count,
            "skipped": len(skipped),
            "skipped_examples": skipped[:5],
            "bytes": os.path.getsize(final),
            "sha256": file_digest(final),
        }

    def _write_records(
        self, writer: tf.io.TFRecordWriter, entries: Iterator[tuple[str, Any, int]]
    ) -> tuple[int, list[str]]:
        count, skipped = 0, []
        while chunk := list(itertools.islice(entries, self.chunk)):
            # pool.map keeps the order: shards are reproducible.
            for result in self.pool.map(self.prepare, chunk):
                if isinstance(result, str):
                    skipped.append(result)
                else:
                    writer.write(encode_example(result))
                    count += 1
            self.bar.update(len(chunk))
            self.bar.set_postfix(skipped=self.skipped_total + len(skipped))
        return count, skipped


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
    settings = _settings(source, num_shards, size, image_format, quality)
    total, num_shards = settings["source_entries"], settings["num_shards"]
    workers = workers or min(8, os.cpu_count() or 1)
    folder = os.fspath(out_dir)
    os.makedirs(folder, exist_ok=True)
    index_path = os.path.join(folder, INDEX_FILE)
    done = _complete_shards(folder, settings, overwrite)
    _remove_own_temporaries(folder)
    start_time = time.perf_counter()
    prepare = partial(
        _prepare_entry,
        size=settings["image_size"],
        image_format=image_format,
        quality=quality,
    )
    with (
        _progress_bar(total, done, num_shards, progress) as bar,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        skipped = sum(s["skipped"] for s in done.values())
        shards = _ShardWriter(
            source, folder, num_shards, prepare, pool, 64 * workers, bar, skipped
        )
        for i in [i for i in range(num_shards) if i not in done]:
            done[i] = shards.write(i)
            # Recorded once renamed: a shard in the index is always complete.
            _write_json(index_path, _index_data(settings, done))
    index = _index_data(settings, done)
    index["seconds"] = round(time.perf_counter() - start_time, 3)
    _write_json(index_path, index)
    return index
