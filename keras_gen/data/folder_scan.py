"""Listing an image folder and setting aside the files that cannot be read.

:func:`scan_image_folder` lists the image files of a folder
(:func:`keras_gen.data.images.list_image_files`) and checks each one with
Pillow, cheaply by default (the header plus, for JPEG and GIF, the
end-of-file marker), so that broken files are reported by path before
training starts; :mod:`keras_gen.data.folder` reads the rest.

Example:
    >>> scan = scan_image_folder("photos/")  # doctest: +SKIP
    >>> scan.num_skipped, scan.reasons       # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import tensorflow as tf
from PIL import Image

from keras_gen.data.decode import decode_rgb
from keras_gen.data.images import IMAGE_EXTENSIONS, check_folder, list_image_files
from keras_gen.data.pipeline import MAX_PIXELS

__all__ = [
    "CHECK_MODES",
    "FolderScan",
    "SkippedImagesWarning",
    "count_images",
    "scan_image_folder",
]

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
    return len(list_image_files(check_folder(path)))


def _clean_tf_message(error: tf.errors.OpError) -> str:
    """The useful part of a TensorFlow error message (no node names)."""
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", error.message)
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message, flags=re.S)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


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


def _image_problem(image: Any, check: str) -> str | None:
    """Why an opened Pillow image is unusable (size, format, mode), or None."""
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
    return None


def _check_file(path: str, check: str) -> str | None:
    """Why ``path`` is unusable, or None if it looks fine (see scan_image_folder)."""
    try:
        # One open() for all the checks: it matters on network drives.
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size == 0:
                return "empty file (0 bytes)"
            with Image.open(file) as image:
                image_format = image.format
                problem = _image_problem(image, check)
                if problem is not None:
                    return problem
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


def _check_files(root: str, candidates: list[str], check: str) -> FolderScan:
    """Check every candidate (in threads); the scan of the readable ones."""
    # Threads overlap the file-system latency (large on network drives); the
    # checks themselves are light, so few threads are needed.
    workers = min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p: _check_file(p, check), candidates))
    files = [p for p, reason in zip(candidates, results) if reason is None]
    reasons = {p: r for p, r in zip(candidates, results) if r is not None}
    return FolderScan(files=files, skipped=sorted(reasons), reasons=reasons, path=root)


def _report_skipped(scan: FolderScan, candidates: int, check: str) -> None:
    """Raise if nothing is readable; warn once (by the caller's caller) if some
    files were skipped."""
    root, skipped, reasons = scan.path, scan.skipped, scan.reasons
    if not scan.files:
        raise ValueError(
            f"none of the {candidates} image files in {root!r} is readable: "
            + _describe(skipped, reasons)
        )
    if skipped:
        warnings.warn(
            f"{len(skipped)} of {candidates} image files in {root!r} are "
            f"unreadable and were skipped (check={check!r}): "
            + _describe(skipped, reasons)
            + (
                "; all of them: keras_gen.data.folder.scan_image_folder(path).reasons"
                if len(skipped) > _MAX_LISTED
                else ""
            ),
            SkippedImagesWarning,
            stacklevel=3,
        )


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
    root = check_folder(path)
    candidates = list_image_files(root)
    if not candidates:
        raise ValueError(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}, any case) found "
            f"in {root!r} or its sub-folders"
        )
    if check == "none":
        return FolderScan(files=candidates, skipped=[], reasons={}, path=root)
    scan = _check_files(root, candidates, check)
    _report_skipped(scan, len(candidates), check)
    return scan
