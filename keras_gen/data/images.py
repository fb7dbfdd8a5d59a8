"""Listing image files: the one place that decides what counts as an image.

Pure Python (no TensorFlow, no Pillow), so that command-line tools can list
their inputs without importing either.

- :data:`IMAGE_EXTENSIONS` are the files the tf.data readers decode
  (:mod:`keras_gen.data.folder`, ``keras-gen data convert``);
  :data:`PILLOW_IMAGE_EXTENSIONS` adds WebP, which only Pillow reads (the
  denoiser and the anomaly detector load their inputs with Pillow).
- :func:`list_image_files` walks a folder: recursive, sorted, symbolic links
  followed (with a guard against loops), hidden files and folders skipped.
- :func:`list_images` is the command-line form: one file as given, or the
  image files of a folder, with a clear error when there are none.

Example:
    >>> list_image_files("photos/")[:2]  # doctest: +SKIP
    ['photos/a.jpg', 'photos/sub/b.png']
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "IMAGE_EXTENSIONS",
    "PILLOW_IMAGE_EXTENSIONS",
    "check_folder",
    "list_image_files",
    "list_images",
]

#: Extensions of the files the tf.data readers decode (any case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

#: Extensions of the files read with Pillow: the above plus WebP.
PILLOW_IMAGE_EXTENSIONS: tuple[str, ...] = (*IMAGE_EXTENSIONS, ".webp")


def check_folder(path: str | os.PathLike[str]) -> str:
    """``path`` as a string, if it is an existing folder.

    Raises:
        FileNotFoundError: It does not exist.
        NotADirectoryError: It is a file (the message suggests its folder).
    """
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(f"image folder not found: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(
            f"image folder {root!r} is a file, not a folder: give the folder "
            f"that holds the images (here perhaps {os.path.dirname(root) or '.'!r})"
        )
    return root


def list_image_files(
    root: str | os.PathLike[str], extensions: Iterable[str] = IMAGE_EXTENSIONS
) -> list[str]:
    """All image files under ``root`` by extension, recursive, sorted.

    Symbolic links are followed (data sets are often linked in), with a guard
    against link loops. Hidden entries are skipped: they are mostly metadata
    such as macOS ``._photo.jpg`` resource forks, which have image extensions
    but are not images.

    Args:
        root: The folder (not checked: a missing folder lists nothing).
        extensions: Lower-case extensions with the dot, compared
            case-insensitively.

    Returns:
        Paths starting with ``root``.
    """
    suffixes = tuple(e.lower() for e in extensions)
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
            if not name.startswith(".") and name.lower().endswith(suffixes)
        )
    return sorted(files)


def list_images(
    source: str | os.PathLike[str],
    extensions: Iterable[str] = PILLOW_IMAGE_EXTENSIONS,
) -> list[Path]:
    """The one image file given, or the image files of a folder (sorted).

    Args:
        source: A file (returned as it is, whatever its extension) or a
            folder (:func:`list_image_files`).
        extensions: What counts as an image in a folder.

    Raises:
        FileNotFoundError: No such file or folder, or no image in the folder.

    Example:
        >>> list_images("noisy/")  # doctest: +SKIP
        [PosixPath('noisy/a.png'), PosixPath('noisy/b.jpg')]
    """
    path = Path(source)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such image file or folder")
    suffixes = tuple(extensions)
    # Sorted as paths (by folder level), as the command-line tools always did.
    files = sorted(Path(f) for f in list_image_files(path, suffixes))
    if not files:
        patterns = ", ".join(f"*{s}" for s in suffixes)
        raise FileNotFoundError(f"{path}: no {patterns} file in this folder")
    return files
