"""Image folders as tf.data pipelines: any tree of JPEG/PNG/BMP/GIF files.

:func:`image_folder_dataset` turns a folder (searched recursively) into batches
of float32 images at model size in the model's value range:

1. :func:`scan_image_folder` lists the image files by extension and checks
   each one with Pillow (cheap by default: the header plus, for JPEG and GIF,
   the end-of-file marker), so that broken files are reported by path before
   training starts.
2. tf.data reads and decodes the files in parallel (:func:`decode_rgb`:
   greyscale becomes RGB, an alpha channel is dropped), resizes the shorter side
   to ``image_size`` with antialiasing and centre-crops
   (:func:`~keras_gen.data.pipeline.resize_and_center_crop`), and keeps the
   images as ``uint8``.
3. :func:`~keras_gen.data.pipeline.finalize_dataset` caches the decoded images,
   shuffles, flips, scales, batches and prefetches.

Bad input never stops training. A file that fails the scan is left out of the
pipeline; a file that passes the scan but still fails to decode in TensorFlow is
dropped inside the pipeline (``ignore_errors``). Both are counted, with their
paths, in the :class:`FolderDatasetInfo` of the dataset (see "Skipped files"
below), and each kind is reported by one :class:`SkippedImagesWarning` with the
count and up to five paths.

Skipped files
-------------
``image_folder_dataset(...)`` returns a ``tf.data.Dataset`` that carries a
:class:`FolderDatasetInfo` as its ``folder_info`` attribute; pass
``return_info=True`` to get ``(dataset, info)`` instead, which also works after
you transform the dataset further (a transformation returns a new object
without the attribute). ``info.num_skipped`` / ``info.skipped`` combine the
files rejected by the scan (known at once) with the files TensorFlow failed to
decode (known after the first complete pass over the data, i.e. the first
epoch; ``info.decode_failures`` is ``None`` until then).

Example:
    >>> ds, info = image_folder_dataset("photos/", image_size=64, batch_size=32,
    ...                                 value_range=(-1.0, 1.0), seed=0,
    ...                                 return_info=True)  # doctest: +SKIP
    >>> for batch in ds: ...                               # doctest: +SKIP
    >>> info.num_skipped, info.skipped[:3]                 # doctest: +SKIP

Limitations: EXIF orientation is not applied (TensorFlow's decoders ignore it),
so a phone photo stored sideways stays sideways; only the first frame of an
animated GIF is used; hidden files and folders (names starting with ``.``) are
not listed.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import BinaryIO, Literal, overload

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_gen.data.pipeline import (
    MAX_PIXELS,
    ValueRange,
    _check_positive_int,
    check_value_range,
    finalize_dataset,
    keyed_cache_path,
    resize_and_center_crop,
)

__all__ = [
    "CHECK_MODES",
    "IMAGE_EXTENSIONS",
    "FolderDatasetInfo",
    "FolderScan",
    "SkippedImagesWarning",
    "count_images",
    "decode_rgb",
    "image_folder_dataset",
    "scan_image_folder",
]

#: File extensions listed (compared case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

#: Values of the ``check`` argument, cheapest last.
CHECK_MODES: tuple[str, ...] = ("full", "header", "none")

# Pillow format names of the files tf.io.decode_image can read ("MPO" is a
# JPEG with extra pictures appended, as written by many cameras). A file named
# .jpg that is really e.g. a TIFF would only fail later, inside the pipeline.
_TF_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP"})
# TensorFlow's BMP decoder reads 8-bit greyscale, 24- and 32-bit files; it
# rejects 1/4-bit files and decodes 8-bit palette files as if the palette
# indices were grey levels, i.e. with wrong colours, so those are skipped.
_TF_BMP_MODES = frozenset({"L", "RGB", "RGBA"})
# Bumped when the decoded pixels change, so file caches of older code are unused.
_PIPELINE_VERSION = 1
_MAX_LISTED = 3


class SkippedImagesWarning(UserWarning):
    """Some image files were unreadable and left out of a dataset."""


@dataclass
class FolderScan:
    """The result of :func:`scan_image_folder`.

    Attributes:
        files: Readable image files, sorted (paths start with the scanned path).
        skipped: Unreadable files (corrupt, zero-byte, not an image, a format
            TensorFlow cannot decode), sorted.
        reasons: Why each skipped file was skipped, by path.
        path: The scanned folder, as given.
    """

    files: list[str]
    skipped: list[str]
    reasons: dict[str, str]
    path: str = ""

    @property
    def num_skipped(self) -> int:
        """Number of skipped files."""
        return len(self.skipped)


def _check_folder(path: str | os.PathLike[str]) -> str:
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(f"image folder not found: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(
            f"image folder {root!r} is a file, not a folder: give the folder "
            f"that holds the images (here perhaps {os.path.dirname(root) or '.'!r})"
        )
    return root


def _list_image_files(root: str) -> list[str]:
    """All image files under ``root`` by extension, recursive, sorted.

    Symbolic links are followed (data sets are often linked in), with a guard
    against link loops. Hidden entries are skipped: they are mostly metadata
    such as macOS ``._photo.jpg`` resource forks, which have image extensions
    but are not images.
    """
    files: list[str] = []
    seen_dirs: set[str] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen_dirs:  # a symlink loop, or a folder linked twice
            dirs.clear()
            continue
        seen_dirs.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(
            os.path.join(folder, name)
            for name in names
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)
        )
    return sorted(files)


def count_images(path: str | os.PathLike[str]) -> int:
    """Number of image files under ``path`` (recursive, by extension only).

    No file is opened, so this is fast but also counts broken files; use
    :func:`scan_image_folder` for the readable ones.

    Args:
        path: A folder.

    Returns:
        How many files with an :data:`IMAGE_EXTENSIONS` extension it holds.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        NotADirectoryError: If ``path`` is not a folder.

    Example:
        >>> count_images("photos/")  # doctest: +SKIP
        4000
    """
    return len(_list_image_files(_check_folder(path)))


def _clean_tf_message(error: tf.errors.OpError) -> str:
    """The useful part of a TensorFlow error message (no node names)."""
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", error.message)
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message, flags=re.S)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def decode_rgb(data: tf.Tensor, min_size: int | None = None) -> tf.Tensor:
    """Decode an encoded JPEG/PNG/BMP/GIF/WebP image to ``uint8 [H, W, 3]``.

    Greyscale becomes RGB; a PNG's alpha channel is composited on white
    (as a viewer shows it; `keras_gen.utils.rgb.to_rgb` does the same for
    Pillow); an animated GIF gives its first frame. JPEGs use the accurate
    integer IDCT: TensorFlow's default
    (``INTEGER_FAST``, the only one ``tf.io.decode_image`` offers) is off by up
    to 5 grey levels on high-quality files, while the accurate one matches
    Pillow exactly and is as fast with libjpeg-turbo's SIMD code.

    With ``min_size``, a JPEG whose shorter side is at least twice
    ``min_size`` is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling
    (the largest factor that keeps the shorter side >= ``min_size``): a 256px
    photo read for a 64px model decodes 16x fewer pixels, already low-pass
    filtered, and the remaining resize is small or skipped.

    Args:
        data: A scalar string tensor with the file's bytes.
        min_size: The smallest shorter side the caller needs (None: full size).

    Returns:
        The ``uint8`` image, ``[height, width, 3]``.

    Example:
        >>> decode_rgb(tf.io.read_file("photo.jpg")).shape  # doctest: +SKIP
        TensorShape([256, 256, 3])
    """

    def jpeg() -> tf.Tensor:
        if not min_size:
            return tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")
        shape = tf.image.extract_jpeg_shape(data)
        short = tf.minimum(shape[0], shape[1])
        # Index of the largest ratio in (1, 2, 4, 8) with short // ratio >= min_size.
        index = tf.add_n([tf.cast(short >= min_size * r, tf.int32) for r in (2, 4, 8)])
        branches = [
            lambda r=r: tf.io.decode_jpeg(
                data, channels=3, ratio=r, dct_method="INTEGER_ACCURATE"
            )
            for r in (1, 2, 4, 8)
        ]
        return tf.switch_case(index, branches)

    def png_on_white() -> tf.Tensor:
        rgba = tf.cast(tf.io.decode_png(data, channels=4), tf.float32)
        alpha = rgba[..., 3:] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return tf.cast(tf.round(rgb), tf.uint8)

    def other() -> tf.Tensor:
        return tf.cond(
            tf.strings.substr(data, 0, 8) == _PNG_MAGIC,
            png_on_white,
            lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
        )

    image = tf.cond(tf.io.is_jpeg(data), jpeg, other)
    return tf.ensure_shape(image, [None, None, 3])


def _tf_decode_error(path: str) -> str | None:
    """Decode ``path`` as the pipeline will; the error message, or None if fine."""
    try:
        decode_rgb(tf.io.read_file(path))
    except tf.errors.OpError as error:
        return f"TensorFlow cannot decode it: {_clean_tf_message(error)}"
    return None


def _ends_with_marker(file: BinaryIO, image_format: str) -> bool:
    """True if the file ends like a complete JPEG (EOI marker) or GIF (trailer).

    Pillow's ``verify()`` does not read JPEG or GIF image data, so a truncated
    download passes it. A complete file ends with its end marker, possibly
    followed by a few padding bytes.
    """
    size = file.seek(0, os.SEEK_END)
    file.seek(max(size - 64, 0))
    tail = file.read().rstrip(b"\x00\r\n ")
    if image_format == "GIF":
        return tail.endswith(b"\x3b")
    return tail.endswith(b"\xff\xd9")


def _check_file(path: str, check: str) -> str | None:
    """Why ``path`` is unusable, or None if it looks fine (see scan_image_folder)."""
    try:
        # One open() for all the checks: it matters on network drives.
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size == 0:
                return "empty file (0 bytes)"
            with Image.open(file) as image:
                image_format, mode = image.format, image.mode
                if image.width * image.height > MAX_PIXELS:
                    return (
                        f"{image.width}x{image.height} pixels, over the limit of "
                        f"{MAX_PIXELS:,} (memory)"
                    )
                if image_format not in _TF_FORMATS:
                    return f"{image_format} image, which TensorFlow cannot decode"
                if image_format == "BMP" and mode not in _TF_BMP_MODES:
                    return (
                        f"BMP in mode {mode}, which TensorFlow cannot decode "
                        "correctly (only 8-bit grey, 24- and 32-bit BMPs)"
                    )
                if check == "full":
                    image.load()  # raises on truncated or corrupt image data
                else:
                    image.verify()
            if (
                check == "header"
                and image_format in ("JPEG", "MPO", "GIF")
                and not _ends_with_marker(file, image_format)
            ):
                # Most likely truncated, but some cameras append data after the
                # end marker: only these rare files pay for a full decode.
                return _tf_decode_error(path)
    except Exception as error:  # Pillow raises many types for bad files
        return f"{type(error).__name__}: {error}".replace(path, "<file>")
    return None


def _describe(paths: Sequence[str], reasons: dict[str, str] | None = None) -> str:
    listed = [
        f"{p} ({reasons[p]})" if reasons and p in reasons else p
        for p in paths[:_MAX_LISTED]
    ]
    more = f", and {len(paths) - _MAX_LISTED} more" if len(paths) > _MAX_LISTED else ""
    return "; ".join(listed) + more


def scan_image_folder(
    path: str | os.PathLike[str], *, check: str = "header"
) -> FolderScan:
    """List the image files under ``path`` and set aside unreadable ones.

    Files are found recursively by extension (:data:`IMAGE_EXTENSIONS`,
    case-insensitive), following symbolic links and skipping hidden entries,
    and sorted. If any file is skipped, one :class:`SkippedImagesWarning` gives
    the count and up to five paths with their reasons.

    Args:
        path: The folder.
        check: How hard to look at each file:
            ``"header"`` (default) opens it with Pillow and runs ``verify()``
            (reads the header; for PNG also checks every chunk's CRC), rejects
            formats TensorFlow cannot decode, and checks that JPEG and GIF files
            end with their end marker (catches truncated downloads); about
            0.1-0.2 ms a file. ``"full"`` fully decodes every file with Pillow
            (catches every corrupt file Pillow can detect; ~1 ms for 256x256).
            ``"none"`` trusts the extensions. Whatever the mode, a file that
            still fails in TensorFlow is dropped by the pipeline.

    Returns:
        A :class:`FolderScan` with the readable ``files`` and the ``skipped``
        ones with their ``reasons``.

    Raises:
        FileNotFoundError: If ``path`` does not exist (the message names it).
        NotADirectoryError: If ``path`` is not a folder.
        ValueError: If ``check`` is unknown, or if no readable image file is
            found (the message names the path and the extensions looked for).

    Example:
        >>> scan = scan_image_folder("photos/")  # doctest: +SKIP
        >>> len(scan.files), scan.skipped        # doctest: +SKIP
        (3998, ['photos/a/broken.jpg', 'photos/empty.png'])
    """
    if check not in CHECK_MODES:
        raise ValueError(f"check must be one of {CHECK_MODES}, got {check!r}")
    root = _check_folder(path)
    candidates = _list_image_files(root)
    if not candidates:
        raise ValueError(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}, any case) found "
            f"in {root!r} or its sub-folders"
        )
    if check == "none":
        return FolderScan(files=candidates, skipped=[], reasons={}, path=root)

    # Threads overlap the file-system latency (large on network drives); the
    # checks themselves are light, so few threads are needed.
    workers = min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p: _check_file(p, check), candidates))
    files = [p for p, reason in zip(candidates, results) if reason is None]
    reasons = {p: r for p, r in zip(candidates, results) if r is not None}
    skipped = sorted(reasons)
    if not files:
        raise ValueError(
            f"none of the {len(candidates)} image files in {root!r} is readable: "
            + _describe(skipped, reasons)
        )
    if skipped:
        warnings.warn(
            f"{len(skipped)} of {len(candidates)} image files in {root!r} are "
            f"unreadable and were skipped (check={check!r}): "
            + _describe(skipped, reasons)
            + (
                "; all of them: keras_gen.data.folder.scan_image_folder(path).reasons"
                if len(skipped) > _MAX_LISTED
                else ""
            ),
            SkippedImagesWarning,
            stacklevel=2,
        )
    return FolderScan(files=files, skipped=skipped, reasons=reasons, path=root)


class _DecodeRecorder:
    """Notes which files made it through the decoder, to name the ones that did not.

    Called from the pipeline (``tf.numpy_function``) with the path of each
    decoded file and with ``b""`` at the end of a pass; at the end of the first
    complete pass it computes the failures and warns once.
    """

    def __init__(self, root: str, files: Sequence[bytes]) -> None:
        self._root = root
        self._expected = list(files)
        self._decoded: set[bytes] = set()
        self._lock = threading.Lock()
        self.failures: list[str] | None = None

    def __call__(self, path: bytes) -> np.bool_:
        if path:
            with self._lock:
                self._decoded.add(bytes(path))
            return np.bool_(True)
        self._end_pass()
        return np.bool_(False)  # the end marker itself is filtered out

    def _end_pass(self) -> None:
        with self._lock:
            if self.failures is not None:
                return
            failed = [p for p in self._expected if p not in self._decoded]
            self.failures = [os.fsdecode(p) for p in failed]
            self._decoded.clear()  # no longer needed
        if self.failures:
            warnings.warn(
                f"{len(self.failures)} of {len(self._expected)} image files in "
                f"{self._root!r} passed the scan but could not be decoded by "
                "TensorFlow and were skipped: " + _describe(self.failures),
                SkippedImagesWarning,
                stacklevel=1,
            )


def _class_of(root: str, file: str) -> str | None:
    """Class of a file in labelled mode: its first folder below `root`."""
    parts = os.path.relpath(file, root).split(os.sep)
    return parts[0] if len(parts) > 1 else None


def _class_names(scan: FolderScan) -> list[str]:
    # Classes come from every listed file, skipped ones too, so that one
    # broken file cannot shift the ids of the other classes.
    return sorted(
        {c for f in scan.files + scan.skipped if (c := _class_of(scan.path, f))}
    )


def inferred_class_names(path: str | os.PathLike[str]) -> list[str]:
    """The class names (sorted sub-folders holding images) of ``labels="inferred"``.

    Lists the folder without reading any image, so a model can be built
    with the right number of classes before the data pipeline exists.

    Raises:
        ValueError: no image file is inside a sub-folder of ``path``.
    """
    scan = scan_image_folder(path, check="none")
    names = _class_names(scan)
    if not names:
        raise ValueError(
            f"labels='inferred' needs one sub-folder per class in {scan.path!r}, "
            "but all its image files are directly in it"
        )
    return names


@dataclass
class FolderDatasetInfo:
    """What :func:`image_folder_dataset` read, and what it skipped.

    Attributes:
        path: The folder.
        image_size: Output height and width.
        files: The files fed to the decoder (readable according to the scan;
            in labelled mode only those inside a class folder).
        scan: The :class:`FolderScan`.
        class_names: Class of each label id (labelled mode), else None.
        labels: Label id of each entry of ``files`` (labelled mode), else None.
        cache_path: File prefix of the tf.data cache, if caching to a file.
    """

    path: str
    image_size: int
    files: list[str]
    scan: FolderScan
    class_names: list[str] | None = None
    labels: list[int] | None = None
    cache_path: str | None = None
    _recorder: _DecodeRecorder | None = field(default=None, repr=False)

    @property
    def decode_failures(self) -> list[str] | None:
        """Files that passed the scan but failed to decode in TensorFlow.

        ``None`` until a complete pass over the data has gone through the
        decoder (normally the first epoch). Stays ``None`` when every image
        comes from an existing cache file, since then nothing is decoded.
        """
        return None if self._recorder is None else self._recorder.failures

    @property
    def skipped(self) -> list[str]:
        """All skipped files: rejected by the scan, then failed in TensorFlow."""
        return self.scan.skipped + (self.decode_failures or [])

    @property
    def num_skipped(self) -> int:
        """Number of skipped files so far (see :attr:`decode_failures`)."""
        return len(self.skipped)

    @property
    def num_images(self) -> int:
        """Images in one epoch (exact once :attr:`decode_failures` is known)."""
        return len(self.files) - len(self.decode_failures or [])


def _cache_file(
    cache: str, root: str, files: Sequence[str], image_size: int, labels: object
) -> str:
    """A cache file prefix that changes whenever the cached content would.

    tf.data reuses whatever cache file exists at a prefix, so a cache written
    for another image size or an older version of the folder would silently
    be read back. The key hashes the file list (with sizes and modification
    times), the image size, the labels and the pipeline version.
    """
    return keyed_cache_path(
        cache,
        f"{_PIPELINE_VERSION}|{image_size}|{labels}",
        files,
        lambda f: os.path.relpath(f, root),
        image_size,
        os.path.basename(os.path.normpath(os.path.abspath(root))) or "images",
    )


@overload
def image_folder_dataset(
    path: str | os.PathLike[str],
    *,
    image_size: int,
    batch_size: int,
    value_range: ValueRange = ...,
    training: bool = ...,
    shuffle_buffer: int = ...,
    cache: bool | str = ...,
    flip: bool = ...,
    seed: int | None = ...,
    check: str = ...,
    repeat: bool = ...,
    num_parallel_calls: int = ...,
    labels: Literal["inferred"] | None = ...,
    drop_remainder: bool = ...,
    return_info: Literal[False] = ...,
) -> tf.data.Dataset: ...


@overload
def image_folder_dataset(
    path: str | os.PathLike[str],
    *,
    image_size: int,
    batch_size: int,
    value_range: ValueRange = ...,
    training: bool = ...,
    shuffle_buffer: int = ...,
    cache: bool | str = ...,
    flip: bool = ...,
    seed: int | None = ...,
    check: str = ...,
    repeat: bool = ...,
    num_parallel_calls: int = ...,
    labels: Literal["inferred"] | None = ...,
    drop_remainder: bool = ...,
    return_info: Literal[True],
) -> tuple[tf.data.Dataset, FolderDatasetInfo]: ...


def image_folder_dataset(
    path: str | os.PathLike[str],
    *,
    image_size: int,
    batch_size: int,
    value_range: ValueRange = (-1.0, 1.0),
    training: bool = True,
    shuffle_buffer: int = 10_000,
    cache: bool | str = True,
    flip: bool = True,
    seed: int | None = None,
    check: str = "header",
    repeat: bool = False,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    labels: Literal["inferred"] | None = None,
    drop_remainder: bool = True,
    return_info: bool = False,
) -> tf.data.Dataset | tuple[tf.data.Dataset, FolderDatasetInfo]:
    """Batches of images from a folder tree, ready for ``model.fit``.

    Args:
        path: The folder; searched recursively (see :func:`scan_image_folder`).
        image_size: Output height and width: the shorter side is resized to it
            with antialiasing, then the centre is cropped.
        batch_size: Images per batch.
        value_range: ``(low, high)`` of the output, ``(-1, 1)`` for a GAN,
            ``(0, 1)`` for a VAE (the model's ``value_range``).
        training: Shuffle the file order and the images, and flip. ``False``
            gives the files in sorted order, unaugmented.
        shuffle_buffer: Shuffle buffer (images) after the cache.
        cache: ``True``: keep the decoded ``uint8`` images in memory (64x64:
            12 KB an image); a string: cache to files at that prefix, or in that
            folder if it is one (a key of the data and ``image_size`` is added
            to the name, so a stale cache is never reused); ``False``: decode
            every epoch.
        flip: Random horizontal flips when training.
        seed: Seed of the file order, the shuffle and the flips; with a seed the
            whole stream is reproducible. ``None`` also lets the parallel
            decoder return images out of order when training (a bit faster).
        check: How files are checked before training: ``"header"``, ``"full"``
            or ``"none"`` (see :func:`scan_image_folder`).
        repeat: Repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        num_parallel_calls: Parallel read-and-decode calls (``AUTOTUNE``).
        labels: ``None`` yields images only. ``"inferred"`` makes each immediate
            sub-folder a class (sorted names -> ids 0, 1, ...) and yields
            ``(images, labels)`` with int32 labels; image files directly in
            ``path`` are then ignored (with a warning).
        drop_remainder: Drop the last incomplete batch (see
            :func:`~keras_gen.data.pipeline.finalize_dataset`).
        return_info: Return ``(dataset, info)`` instead of the dataset alone.

    Returns:
        A dataset of float32 ``[batch_size, image_size, image_size, 3]`` batches
        in ``value_range`` (or ``(images, labels)`` pairs), with a
        :class:`FolderDatasetInfo` as its ``folder_info`` attribute; or
        ``(dataset, info)`` if ``return_info``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it holds no readable image (or no class folder in
            labelled mode), or for an invalid argument.

    Example:
        >>> ds = image_folder_dataset("bedrooms/", image_size=64, batch_size=64,
        ...                           value_range=(-1.0, 1.0), seed=0)  # doctest: +SKIP
        >>> gan.fit(ds, epochs=10)                                      # doctest: +SKIP
        >>> ds.folder_info.num_skipped                                  # doctest: +SKIP
        2
    """
    image_size = _check_positive_int("image_size", image_size)
    _check_positive_int("batch_size", batch_size)
    value_range = check_value_range(value_range)
    if labels not in (None, "inferred"):
        raise ValueError(f"labels must be None or 'inferred', got {labels!r}")
    scan = scan_image_folder(path, check=check)
    root = scan.path

    files = scan.files
    class_names: list[str] | None = None
    label_ids: list[int] | None = None
    if labels == "inferred":
        class_of = partial(_class_of, root)
        class_names = _class_names(scan)
        if not class_names:
            raise ValueError(
                f"labels='inferred' needs one sub-folder per class in {root!r}, "
                "but all its image files are directly in it"
            )
        ids = {name: i for i, name in enumerate(class_names)}
        loose = [f for f in files if class_of(f) is None]
        if loose:
            warnings.warn(
                f"{len(loose)} image files directly in {root!r} belong to no class "
                "folder and are ignored: " + _describe(loose),
                SkippedImagesWarning,
                stacklevel=2,
            )
        files = [f for f in files if class_of(f) is not None]
        label_ids = [ids[class_of(f)] for f in files]  # type: ignore[index]
        if not files:
            raise ValueError(f"no readable image file in the class folders of {root!r}")

    cache_path: str | None = None
    if isinstance(cache, str | os.PathLike) and not isinstance(cache, bool):
        cache_path = _cache_file(os.fspath(cache), root, files, image_size, label_ids)

    # Paths go to TensorFlow as bytes: a file name that is not valid UTF-8
    # (possible on Linux) could not be encoded as a str tensor.
    encoded = [os.fsencode(f) for f in files]
    recorder = _DecodeRecorder(root, encoded)
    info = FolderDatasetInfo(
        path=root,
        image_size=image_size,
        files=files,
        scan=scan,
        class_names=class_names,
        labels=label_ids,
        cache_path=cache_path,
        _recorder=recorder,
    )

    # Without a seed, training data may come out of the parallel decoder in any
    # order (a slow file does not hold up the others); with a seed, or for
    # evaluation, the order is reproducible.
    deterministic = seed is not None or not training
    if label_ids is None:
        ds = tf.data.Dataset.from_tensor_slices(tf.constant(encoded, tf.string))
    else:
        ds = tf.data.Dataset.from_tensor_slices(
            (tf.constant(encoded, tf.string), tf.constant(label_ids, tf.int32))
        )
    if training:
        # Folders are often ordered (by class, by date): shuffling the file
        # list makes even a small shuffle buffer see a well mixed stream.
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

    def load(file: tf.Tensor, *label: tf.Tensor) -> tuple[tf.Tensor, ...]:
        image = resize_and_center_crop(
            decode_rgb(tf.io.read_file(file), min_size=image_size), image_size
        )
        # Back to uint8 (values are already clipped to [0, 255]): a 4x smaller
        # cache, and finalize_dataset's single conversion to the value range.
        return (file, tf.cast(tf.round(image), tf.uint8), *label)

    ds = ds.map(
        load, num_parallel_calls=num_parallel_calls, deterministic=deterministic
    )
    # A file that fails to read or decode raises inside `load`; drop it instead
    # of ending training. The recorder below finds out which files those were.
    ds = ds.ignore_errors()
    end_marker = (
        tf.constant(b""),
        tf.zeros([image_size, image_size, 3], tf.uint8),
        *([tf.constant(-1, tf.int32)] if label_ids is not None else []),
    )
    ds = ds.concatenate(tf.data.Dataset.from_tensors(end_marker))

    def record(file: tf.Tensor, *_: tf.Tensor) -> tf.Tensor:
        keep = tf.numpy_function(recorder, [file], tf.bool, stateful=True)
        return tf.reshape(keep, [])

    ds = ds.filter(record)
    if label_ids is None:
        ds = ds.map(lambda file, image: image)
    else:
        ds = ds.map(lambda file, image, label: (image, label))

    ds = finalize_dataset(
        ds,
        batch_size=batch_size,
        value_range=value_range,
        training=training,
        shuffle_buffer=shuffle_buffer,
        cache=cache_path if cache_path is not None else bool(cache),
        flip=flip,
        seed=seed,
        repeat=repeat,
        drop_remainder=drop_remainder,
    )
    options = tf.data.Options()
    options.deterministic = deterministic
    # Multi-worker sharding (handled elsewhere): AutoShardPolicy.FILE cannot
    # work here, since the files are read by `map(tf.io.read_file)` rather than
    # a file-reader dataset (TFRecordDataset...), and tf.data then fails with
    # "Found an unshardable source dataset" (AUTO tries FILE, logs that error,
    # and falls back to DATA). DATA is correct but every worker decodes every
    # file; to split the decoding, build one dataset per worker from a shard of
    # `info.files` with `strategy.distribute_datasets_from_function`.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    ds = ds.with_options(options)
    ds.folder_info = info
    if return_info:
        return ds, info
    return ds
