"""Image folders as tf.data pipelines: any tree of JPEG/PNG/BMP/GIF files.

:func:`image_folder_dataset` turns a folder (searched recursively) into batches
of float32 images at model size in the model's value range:

1. :func:`scan_image_folder` (:mod:`keras_gen.data.folder_scan`) lists the
   image files by extension and checks each one with Pillow (cheap by
   default: the header plus, for JPEG and GIF, the end-of-file marker), so
   that broken files are reported by path before training starts.
2. tf.data reads and decodes the files in parallel
   (:func:`~keras_gen.data.decode.decode_rgb`: greyscale becomes RGB, an
   alpha channel is composited on white), resizes the shorter side to
   ``image_size`` with antialiasing and centre-crops
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
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, overload

import numpy as np
import tensorflow as tf

from keras_gen.data.decode import decode_rgb, decode_to_uint8
from keras_gen.data.folder_scan import (
    CHECK_MODES,
    FolderScan,
    SkippedImagesWarning,
    _describe,
    count_images,
    scan_image_folder,
)
from keras_gen.data.images import IMAGE_EXTENSIONS
from keras_gen.data.pipeline import (
    PipelineOptions,
    apply_input_options,
    finalize_dataset,
    keyed_cache_path,
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
    "inferred_class_names",
    "scan_image_folder",
]

# Bumped when the decoded pixels change, so file caches of older code are unused.
_PIPELINE_VERSION = 1


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


def _labelled_files(scan: FolderScan) -> tuple[list[str], list[str], list[int]]:
    """Files in class folders, the class names and each file's label id.

    Files directly in the folder belong to no class: they are left out, with
    one warning (attributed to the caller of ``image_folder_dataset``).
    """
    root = scan.path
    class_of = partial(_class_of, root)
    class_names = _class_names(scan)
    if not class_names:
        raise ValueError(
            f"labels='inferred' needs one sub-folder per class in {root!r}, "
            "but all its image files are directly in it"
        )
    ids = {name: i for i, name in enumerate(class_names)}
    loose = [f for f in scan.files if class_of(f) is None]
    if loose:
        warnings.warn(
            f"{len(loose)} image files directly in {root!r} belong to no class "
            "folder and are ignored: " + _describe(loose),
            SkippedImagesWarning,
            stacklevel=4,  # the caller of image_folder_dataset
        )
    files = [f for f in scan.files if class_of(f) is not None]
    label_ids = [ids[class_of(f)] for f in files]  # type: ignore[index]
    if not files:
        raise ValueError(f"no readable image file in the class folders of {root!r}")
    return files, class_names, label_ids


def _folder_info(
    scan: FolderScan,
    labels: Literal["inferred"] | None,
    cache: Any,
    image_size: int,
) -> FolderDatasetInfo:
    """What the dataset will read: files, classes, cache file, decode recorder."""
    files, class_names, label_ids = scan.files, None, None
    if labels == "inferred":
        files, class_names, label_ids = _labelled_files(scan)
    cache_path: str | None = None
    if isinstance(cache, str | os.PathLike) and not isinstance(cache, bool):
        cache_path = _cache_file(
            os.fspath(cache), scan.path, files, image_size, label_ids
        )
    # Paths go to TensorFlow as bytes: a file name that is not valid UTF-8
    # (possible on Linux) could not be encoded as a str tensor.
    recorder = _DecodeRecorder(scan.path, [os.fsencode(f) for f in files])
    return FolderDatasetInfo(
        path=scan.path,
        image_size=image_size,
        files=files,
        scan=scan,
        class_names=class_names,
        labels=label_ids,
        cache_path=cache_path,
        _recorder=recorder,
    )


def _file_list(info: FolderDatasetInfo, options: PipelineOptions) -> tf.data.Dataset:
    """The file paths (bytes), with their labels, shuffled when training."""
    encoded = tf.constant([os.fsencode(f) for f in info.files], tf.string)
    if info.labels is None:
        ds = tf.data.Dataset.from_tensor_slices(encoded)
    else:
        ds = tf.data.Dataset.from_tensor_slices(
            (encoded, tf.constant(info.labels, tf.int32))
        )
    if options.training:
        # Folders are often ordered (by class, by date): shuffling the file
        # list makes even a small shuffle buffer see a well mixed stream.
        ds = ds.shuffle(
            len(info.files), seed=options.seed, reshuffle_each_iteration=True
        )
    return ds


def _decode_files(
    ds: tf.data.Dataset,
    image_size: int,
    num_parallel_calls: int,
    deterministic: bool,
) -> tf.data.Dataset:
    """``(file, uint8 image, *label)``, dropping files that fail to decode."""

    def load(file: tf.Tensor, *label: tf.Tensor) -> tuple[tf.Tensor, ...]:
        # Back to uint8 (values are already clipped to [0, 255]): a 4x smaller
        # cache, and finalize_dataset's single conversion to the value range.
        return (file, decode_to_uint8(tf.io.read_file(file), image_size), *label)

    ds = ds.map(
        load, num_parallel_calls=num_parallel_calls, deterministic=deterministic
    )
    # A file that fails to read or decode raises inside `load`; drop it instead
    # of ending training. `_record_decoded` finds out which files those were.
    return ds.ignore_errors()


def _record_decoded(ds: tf.data.Dataset, info: FolderDatasetInfo) -> tf.data.Dataset:
    """Tell the recorder which files were decoded, then drop the paths."""
    labelled = info.labels is not None
    size = info.image_size
    end_marker = (
        tf.constant(b""),
        tf.zeros([size, size, 3], tf.uint8),
        *([tf.constant(-1, tf.int32)] if labelled else []),
    )
    ds = ds.concatenate(tf.data.Dataset.from_tensors(end_marker))
    recorder = info._recorder

    def record(file: tf.Tensor, *_: tf.Tensor) -> tf.Tensor:
        keep = tf.numpy_function(recorder, [file], tf.bool, stateful=True)
        return tf.reshape(keep, [])

    ds = ds.filter(record)
    if labelled:
        return ds.map(lambda file, image, label: (image, label))
    return ds.map(lambda file, image: image)


def _with_input_options(
    ds: tf.data.Dataset, deterministic: bool, threads: int | None
) -> tf.data.Dataset:
    """The finished pipeline's tf.data options: order, sharding, threads."""
    # Multi-worker sharding (handled elsewhere): AutoShardPolicy.FILE cannot
    # work here, since the files are read by `map(tf.io.read_file)` rather than
    # a file-reader dataset (TFRecordDataset...), and tf.data then fails with
    # "Found an unshardable source dataset" (AUTO tries FILE, logs that error,
    # and falls back to DATA). DATA is correct but every worker decodes every
    # file; to split the decoding, build one dataset per worker from a shard of
    # `info.files` with `strategy.distribute_datasets_from_function`.
    return apply_input_options(
        ds,
        deterministic=deterministic,
        shard_policy=tf.data.experimental.AutoShardPolicy.DATA,
        threads=threads,
    )


@overload
def image_folder_dataset(
    path: str | os.PathLike[str],
    options: PipelineOptions | None = ...,
    *,
    check: str = ...,
    num_parallel_calls: int = ...,
    labels: Literal["inferred"] | None = ...,
    return_info: Literal[False] = ...,
    **fields: Any,
) -> tf.data.Dataset: ...


@overload
def image_folder_dataset(
    path: str | os.PathLike[str],
    options: PipelineOptions | None = ...,
    *,
    check: str = ...,
    num_parallel_calls: int = ...,
    labels: Literal["inferred"] | None = ...,
    return_info: Literal[True],
    **fields: Any,
) -> tuple[tf.data.Dataset, FolderDatasetInfo]: ...


def image_folder_dataset(
    path: str | os.PathLike[str],
    options: PipelineOptions | None = None,
    *,
    check: str = "header",
    num_parallel_calls: int = tf.data.AUTOTUNE,
    labels: Literal["inferred"] | None = None,
    return_info: bool = False,
    **fields: Any,
) -> tf.data.Dataset | tuple[tf.data.Dataset, FolderDatasetInfo]:
    """Batches of images from a folder tree, ready for ``model.fit``.

    Args:
        path: The folder; searched recursively (see :func:`scan_image_folder`).
        options: The :class:`~keras_gen.data.pipeline.PipelineOptions`;
            ``image_size`` and ``batch_size`` are required. ``training``
            also shuffles the file list (``False`` gives the files in sorted
            order, unaugmented); ``cache`` as a path caches to files at that
            prefix, or in that folder if it is one, with a key of the data
            and ``image_size`` added to the name (64x64: 12 KB an image);
            ``seed`` also seeds the file order, and without one the parallel
            decoder returns images out of order when training (a bit faster).
        check: How files are checked before training: ``"header"``, ``"full"``
            or ``"none"`` (see :func:`scan_image_folder`).
        num_parallel_calls: Parallel read-and-decode calls (``AUTOTUNE``).
        labels: ``None`` yields images only. ``"inferred"`` makes each immediate
            sub-folder a class (sorted names -> ids 0, 1, ...) and yields
            ``(images, labels)`` with int32 labels; image files directly in
            ``path`` are then ignored (with a warning).
        return_info: Return ``(dataset, info)`` instead of the dataset alone.
        **fields: Fields of ``PipelineOptions`` (``image_size``,
            ``batch_size``, ``value_range``, ``training``, ``shuffle_buffer``,
            ``cache``, ``flip``, ``seed``, ``repeat``, ``drop_remainder``,
            ``deterministic``, ``threads``) instead of or on top of
            ``options``.

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
    options = PipelineOptions.of(options, **fields)
    image_size = options.require_image_size("image_folder_dataset")
    if labels not in (None, "inferred"):
        raise ValueError(f"labels must be None or 'inferred', got {labels!r}")
    scan = scan_image_folder(path, check=check)
    info = _folder_info(scan, labels, options.cache, image_size)
    # Without a seed, training data may come out of the parallel decoder in any
    # order (a slow file does not hold up the others); with a seed, or for
    # evaluation, the order is reproducible.
    deterministic = options.deterministic and (
        options.seed is not None or not options.training
    )
    ds = _file_list(info, options)
    ds = _decode_files(ds, image_size, num_parallel_calls, deterministic)
    ds = _record_decoded(ds, info)
    cache = info.cache_path if info.cache_path is not None else bool(options.cache)
    ds = finalize_dataset(ds, options.replace(cache=cache))
    ds = _with_input_options(ds, deterministic, options.threads)
    ds.folder_info = info
    if return_info:
        return ds, info
    return ds
