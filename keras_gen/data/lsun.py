"""LSUN's LMDB databases: read them and import them as TFRecords or a folder.

LSUN (Yu et al., 2015) ships each scene category as one LMDB database, e.g.
``bedroom_train_lmdb/`` holding ``data.mdb`` and ``lock.mdb``: about 3 million
entries for bedrooms, each keyed by a 40-character hexadecimal id (bytes) with
an encoded image as its value (WebP in the current release, JPEG in older
ones; shorter side 256).

TensorFlow cannot decode WebP, so :func:`import_lsun` decodes every value with
Pillow and writes JPEG (quality 95 by default; ``image_format="png"`` for
lossless) into TFRecord shards (:func:`~keras_gen.data.tfrecord.write_shards`,
resumable, with a JSON index) or into an image folder (one file per key).
JPEG values are stored as they are unless a ``size`` asks for a smaller copy.
Values that fail to decode (LSUN has a few) are skipped and counted.

Example:
    >>> from keras_gen.data.lsun import import_lsun
    >>> stats = import_lsun("bedroom_train_lmdb", "bedroom_tfr",
    ...                     size=64)  # doctest: +SKIP
    >>> stats["count"], stats["skipped"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from keras_gen.data.tfrecord import EncodedImage, prepare_image, write_shards

__all__ = ["LmdbSource", "import_lsun"]


class LmdbSource:
    """The entries of an LMDB database in key order (a ``ConvertSource``).

    Args:
        path: The database folder (holding ``data.mdb``) or the ``data.mdb``
            file itself.
        limit: Use only the first ``limit`` entries.

    Raises:
        FileNotFoundError: No database at ``path``.

    Example:
        >>> source = LmdbSource("bedroom_train_lmdb")  # doctest: +SKIP
        >>> len(source)  # doctest: +SKIP
        3033042
    """

    def __init__(self, path: str | os.PathLike[str], limit: int | None = None) -> None:
        import lmdb

        self.path = os.fspath(path)
        subdir = os.path.isdir(self.path)
        if subdir and not os.path.isfile(os.path.join(self.path, "data.mdb")):
            raise FileNotFoundError(f"no LMDB database (data.mdb) in {self.path!r}")
        if not subdir and not os.path.isfile(self.path):
            raise FileNotFoundError(f"LMDB database not found: {self.path!r}")
        # Read-only, no lock file writes (the database may be on a read-only
        # mount), no readahead (random pages of a 40+ GB file).
        self._env = lmdb.open(
            self.path,
            subdir=subdir,
            readonly=True,
            lock=False,
            readahead=False,
            meminit=False,
            max_readers=64,
        )
        entries = int(self._env.stat()["entries"])
        self._len = entries if limit is None else min(entries, int(limit))
        name = os.path.basename(os.path.normpath(os.path.abspath(self.path)))
        self.description = f"lmdb:{name}" + (f"[:{self._len}]" if limit else "")

    def __len__(self) -> int:
        return self._len

    def read(self, start: int, stop: int) -> Iterator[tuple[str, bytes, int]]:
        """Yield ``(hex key, encoded value, -1)`` for entries ``start..stop-1``.

        Args:
            start: First entry (in key order).
            stop: One past the last entry (capped at ``len(self)``).

        Yields:
            The key decoded as text, the raw value, and no label (``-1``).
        """
        stop = min(stop, self._len)
        with self._env.begin(buffers=False) as txn:
            cursor = txn.cursor()
            if not cursor.first():
                return
            # Walking the cursor without reading values is cheap (B-tree
            # leaves only); it is how a resumed import finds its place.
            for _ in range(start):
                if not cursor.next():
                    return
            for _ in range(start, stop):
                key, value = cursor.item()
                yield key.decode("ascii", "replace"), value, -1
                if not cursor.next():
                    return

    def close(self) -> None:
        """Close the database (lmdb allows one open handle per process)."""
        self._env.close()

    def __enter__(self) -> LmdbSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        env = getattr(self, "_env", None)
        if env is not None:
            env.close()


def _write_file(folder: str, image: EncodedImage) -> None:
    suffix = ".jpg" if image.format == "jpeg" else ".png"
    final = os.path.join(folder, image.key + suffix)
    tmp = f"{final}.tmp-{os.getpid()}"
    with open(tmp, "wb") as file:
        file.write(image.data)
    os.replace(tmp, final)  # a file in the folder is always complete


def import_lsun(
    lmdb_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    output: str = "tfrecord",
    num_shards: int | None = None,
    size: int | None = None,
    image_format: str = "jpeg",
    quality: int = 95,
    limit: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Import an LSUN LMDB database as TFRecord shards or an image folder.

    Args:
        lmdb_path: The ``*_lmdb`` folder (or its ``data.mdb``).
        out_dir: Output folder.
        output: ``"tfrecord"`` (shards + ``index.json``) or ``"folder"``
            (``<key>.jpg`` files; existing files are kept, so an interrupted
            import resumes).
        num_shards: TFRecord shards (default: see ``write_shards``).
        size: Resize the shorter side and centre-crop to ``size`` at import
            (LSUN images are 256 on their shorter side).
        image_format: ``"jpeg"`` (WebP values re-encoded at ``quality``; JPEG
            values kept as they are), ``"png"`` (lossless) or ``"auto"``.
        quality: JPEG quality of re-encoded images.
        limit: Import only the first ``limit`` entries.
        workers: Pillow threads.
        progress: Show a progress bar.
        overwrite: TFRecords: replace a conversion with other settings.

    Returns:
        ``{"count": imported, "skipped": corrupt entries, "entries": read,
        "output": out_dir, ...}`` (for TFRecords, the whole index).

    Example:
        >>> import_lsun("bedroom_train_lmdb", "bedroom64", size=64,
        ...             output="folder")  # doctest: +SKIP
        {'count': 3033042, 'skipped': 0, ...}
    """
    source = LmdbSource(lmdb_path, limit=limit)
    try:
        if output == "tfrecord":
            index = write_shards(
                source,
                out_dir,
                num_shards=num_shards,
                size=size,
                image_format=image_format,
                quality=quality,
                workers=workers,
                progress=progress,
                overwrite=overwrite,
            )
            return {**index, "entries": len(source), "output": os.fspath(out_dir)}
        if output != "folder":
            raise ValueError(f"output must be 'tfrecord' or 'folder', got {output!r}")
        return _import_to_folder(
            source, os.fspath(out_dir), size, image_format, quality, workers, progress
        )
    finally:
        source.close()


def _import_to_folder(
    source: LmdbSource,
    folder: str,
    size: int | None,
    image_format: str,
    quality: int,
    workers: int | None,
    progress: bool,
) -> dict[str, Any]:
    from tqdm import tqdm

    os.makedirs(folder, exist_ok=True)
    existing = {
        os.path.splitext(n)[0]
        for n in os.listdir(folder)
        if ".tmp-" not in n and n.endswith((".jpg", ".png"))
    }
    count = skipped = kept = 0
    skipped_examples: list[str] = []

    def convert(entry: tuple[str, bytes, int]) -> str | None:
        key, raw, label = entry
        if key in existing:
            return "kept"
        try:
            image = prepare_image(
                raw, size=size, image_format=image_format, quality=quality, key=key
            )
        except Exception as error:  # Pillow raises many types for bad data
            return f"{key}: {type(error).__name__}: {error}"
        _write_file(folder, image)
        return None

    workers = workers or min(8, os.cpu_count() or 1)
    bar = tqdm(total=len(source), unit="img", desc="importing", disable=not progress)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        chunk: list[tuple[str, bytes, int]] = []
        entries = source.read(0, len(source))
        while True:
            chunk = [e for _, e in zip(range(64 * workers), entries)]
            if not chunk:
                break
            for result in pool.map(convert, chunk):
                if result is None:
                    count += 1
                elif result == "kept":
                    kept += 1
                else:
                    skipped += 1
                    if len(skipped_examples) < 5:
                        skipped_examples.append(result)
            bar.update(len(chunk))
            bar.set_postfix(skipped=skipped)
    bar.close()
    return {
        "count": count + kept,
        "written": count,
        "kept": kept,
        "skipped": skipped,
        "skipped_examples": skipped_examples,
        "entries": len(source),
        "output": folder,
    }
