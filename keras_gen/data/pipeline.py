"""tf.data building blocks shared by every image source.

Every source (procedural rooms, image folders) produces ``uint8`` images of
shape ``[size, size, 3]`` and hands them to :func:`finalize_dataset`, which adds
the training-time machinery: cache, shuffle, random horizontal flip, scaling to
the model's value range, batching and prefetching. Keeping images in ``uint8``
until the very end makes the cache four times smaller than a float32 cache and
keeps one conversion formula (:func:`to_value_range`) for all sources.

The settings of that machinery, plus the readers' image size, determinism and
thread pool, are one :class:`PipelineOptions`, which every reader takes (or
its fields as keyword arguments); :func:`apply_input_options` sets the tf.data
options every finished reader carries.

Value ranges
------------
A GAN generator ends in ``tanh`` and is trained on images in ``(-1, 1)``; a VAE
decoder ends in ``sigmoid`` (Bernoulli likelihood) and uses ``(0, 1)``. Both are
listed in :data:`VALUE_RANGES`; functions taking a ``value_range`` accept either
a ``(low, high)`` pair or one of those names.

Example:
    >>> import numpy as np, tensorflow as tf
    >>> images = np.zeros((10, 32, 32, 3), np.uint8)
    >>> ds = finalize_dataset(tf.data.Dataset.from_tensor_slices(images),
    ...                       batch_size=4, value_range=VALUE_RANGES["tanh"], seed=0)
    >>> [tuple(b.shape) for b in ds]
    [(4, 32, 32, 3), (4, 32, 32, 3)]
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeAlias

import numpy as np
import tensorflow as tf

__all__ = [
    "VALUE_RANGES",
    "PipelineOptions",
    "ValueRange",
    "apply_input_options",
    "check_value_range",
    "finalize_dataset",
    "from_value_range",
    "resize_and_center_crop",
    "to_value_range",
]

#: Pixel value ranges by output activation: GANs use ``tanh``, VAEs ``sigmoid``.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "tanh": (-1.0, 1.0),
    "sigmoid": (0.0, 1.0),
}

#: A ``(low, high)`` pair, or a key of :data:`VALUE_RANGES`.
ValueRange: TypeAlias = "tuple[float, float] | Sequence[float] | str"


def check_value_range(value_range: ValueRange) -> tuple[float, float]:
    """Validate a value range and return it as a pair of floats.

    Args:
        value_range: ``(low, high)`` with ``low < high`` (both finite), or a name
            from :data:`VALUE_RANGES` (``"tanh"`` or ``"sigmoid"``).

    Returns:
        ``(low, high)`` as Python floats.

    Raises:
        ValueError: For an unknown name, a pair of the wrong length, or
            ``low >= high``.

    Example:
        >>> check_value_range("sigmoid")
        (0.0, 1.0)
    """
    if isinstance(value_range, str):
        if value_range not in VALUE_RANGES:
            raise ValueError(
                f"unknown value range {value_range!r}; use a (low, high) pair or "
                f"one of {sorted(VALUE_RANGES)}"
            )
        return VALUE_RANGES[value_range]
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"value_range must be a (low, high) pair of numbers, got {value_range!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"value_range must satisfy low < high (finite), got {value_range!r}"
        )
    return low, high


def to_value_range(images: tf.Tensor, value_range: ValueRange) -> tf.Tensor:
    """Map ``uint8`` images (or floats in ``[0, 255]``) linearly to ``value_range``.

    Args:
        images: A tensor (or array) of any shape, ``uint8`` or float in
            ``[0, 255]``.
        value_range: Target ``(low, high)`` or a :data:`VALUE_RANGES` name.

    Returns:
        A float32 tensor of the same shape, 0 -> ``low`` and 255 -> ``high``.

    Example:
        >>> to_value_range(tf.constant([0, 255], tf.uint8), "tanh").numpy()
        array([-1.,  1.], dtype=float32)
    """
    low, high = check_value_range(value_range)
    images = tf.cast(images, tf.float32)
    return images * ((high - low) / 255.0) + low


def from_value_range(
    images: tf.Tensor | np.ndarray, value_range: ValueRange
) -> tf.Tensor | np.ndarray:
    """Map float images in ``value_range`` back to ``uint8`` ``[0, 255]``.

    Values are rounded to the nearest integer (halves to even, as numpy and
    TensorFlow both do) and out-of-range values are clipped, so the output of a
    generator that overshoots its range is still a valid image.

    Args:
        images: Float images (tensor or anything numpy accepts).
        value_range: Their ``(low, high)`` range or a :data:`VALUE_RANGES` name.

    Returns:
        ``uint8`` images of the same shape: a ``tf.Tensor`` if ``images`` is a
        tensor (so it can be used inside a ``tf.function``), else a numpy array.

    Example:
        >>> from_value_range(np.array([-1.0, 0.0, 1.0, 3.0]), "tanh")
        array([  0, 128, 255, 255], dtype=uint8)
    """
    low, high = check_value_range(value_range)
    if isinstance(images, tf.Tensor | tf.Variable):
        x = (tf.cast(images, tf.float32) - low) * (255.0 / (high - low))
        return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
    x = (np.asarray(images, dtype=np.float32) - low) * (255.0 / (high - low))
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def keyed_cache_path(
    cache: str,
    header: str,
    files: Sequence[str],
    file_id: Callable[[str], str],
    image_size: int,
    name: str,
) -> str:
    """A tf.data cache prefix that changes whenever the cached content would.

    tf.data silently reuses whatever cache exists at a prefix, so a cache of
    other files, another image size or another pipeline version could be read
    back. The key hashes `header` and every file's id, size and modification
    time.

    Args:
        cache: a folder (existing, or ending in the path separator) to put
            `<name>-<key>` in, or a file prefix to which `-<key>` is appended.
        header: what else the content depends on (version, size, labels).
        files: the source files.
        file_id: how a file is named in the key (e.g. its relative path).
        image_size: the decoded size, also spelled out in the name.
        name: the file name stem inside a cache folder.
    """
    digest = hashlib.sha256(header.encode())
    for f in files:
        stat = os.stat(f)
        digest.update(f"|{file_id(f)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    key = f"{image_size}px-{digest.hexdigest()[:16]}"
    if os.path.isdir(cache) or cache.endswith(os.sep):
        return os.path.join(cache, f"{name}-{key}")
    return f"{cache}-{key}"


#: Longest side kept, in multiples of the shorter one, before resizing.
MAX_ASPECT = 4
#: Pixels of the largest image decoded (a decompression bomb beyond).
MAX_PIXELS = 64_000_000


def limit_aspect(images: tf.Tensor, max_ratio: int = MAX_ASPECT) -> tf.Tensor:
    """Centre-crop the longer side to at most `max_ratio` times the shorter.

    `[..., h, w, C]`. The centre square that `resize_and_center_crop` keeps
    is inside the kept part, so images up to that ratio are untouched and
    longer ones lose only what the final crop drops anyway; but the resize
    that follows stays bounded whatever the shape (a 1 x 200,000 image would
    otherwise be resized to 64 x 12,800,000 pixels).

    Example:
        >>> limit_aspect(tf.zeros([1, 200_000, 3])).shape
        TensorShape([1, 4, 3])
    """
    shape = tf.shape(images, out_type=tf.int64)
    height, width = shape[-3], shape[-2]
    short = tf.minimum(height, width)
    keep_h = tf.minimum(height, short * max_ratio)
    keep_w = tf.minimum(width, short * max_ratio)
    top, left = (height - keep_h) // 2, (width - keep_w) // 2
    return images[..., top : top + keep_h, left : left + keep_w, :]


def resize_and_center_crop(
    image: tf.Tensor, size: int, *, method: str = "bilinear"
) -> tf.Tensor:
    """Resize the shorter side to ``size`` (antialiased), then centre-crop.

    This is the usual "resize + centre crop" of image-generation datasets
    (LSUN, CelebA-HQ): it keeps the aspect ratio, so nothing is stretched, and
    the antialiasing filter averages over all source pixels when downscaling,
    so fine texture (carpets, blinds) turns into its mean colour instead of
    aliasing into moiré patterns.

    Args:
        image: ``[height, width, channels]`` tensor, ``uint8`` or float in
            ``[0, 255]``, or a batch ``[n, height, width, channels]`` of
            same-size images (the export's serving signatures). Height and
            width may be unknown (decoded images).
        size: Output height and width in pixels.
        method: A ``tf.image.resize`` method. ``"bilinear"`` (default) with
            ``antialias=True`` is a triangle filter widened by the scale factor;
            ``"area"`` is a box filter. Images smaller than ``size`` are
            upscaled with the same method.

    Returns:
        A float32 ``[size, size, channels]`` tensor (``[n, size, size,
        channels]`` for a batch) with values in ``[0, 255]``.

    Example:
        >>> wide = tf.zeros([100, 300, 3], tf.uint8)
        >>> resize_and_center_crop(wide, 64).shape
        TensorShape([64, 64, 3])
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    size = int(size)
    image = tf.convert_to_tensor(image)
    if image.shape.rank is not None and image.shape.rank not in (3, 4):
        raise ValueError(
            f"expected a [height, width, channels] image, got {image.shape}"
        )
    image = limit_aspect(image)
    shape = tf.shape(image, out_type=tf.int64)
    height, width = shape[-3], shape[-2]
    short = tf.minimum(height, width)
    # The shorter side becomes exactly `size`, the longer one is scaled by the
    # same factor and rounded (integer arithmetic: no float round-off).
    new_height = tf.maximum((height * size + short // 2) // short, size)
    new_width = tf.maximum((width * size + short // 2) // short, size)

    def resize() -> tf.Tensor:
        return tf.image.resize(
            image,
            tf.cast(tf.stack([new_height, new_width]), tf.int32),
            method=method,
            antialias=True,
        )

    # Images already at the right scale (e.g. a folder of 64x64 files read at
    # 64) skip the resize, which is most of the cost of this function.
    resized = tf.cond(tf.equal(short, size), lambda: tf.cast(image, tf.float32), resize)
    top = (new_height - size) // 2
    left = (new_width - size) // 2
    cropped = resized[..., top : top + size, left : left + size, :]
    # Bilinear/area filters cannot overshoot, but bicubic/lanczos can: clip so
    # the documented [0, 255] range holds for every method.
    cropped = tf.clip_by_value(cropped, 0.0, 255.0)
    batch = [image.shape[0]] if image.shape.rank == 4 else []
    return tf.ensure_shape(cropped, [*batch, size, size, image.shape[-1]])


def _map_image(element: Any, fn: Callable[[tf.Tensor], tf.Tensor]) -> Any:
    """Apply ``fn`` to the image of an element that is an image or a tuple."""
    if isinstance(element, tuple):
        return (fn(element[0]), *element[1:])
    return fn(element)


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class PipelineOptions:
    """How a reader turns decoded images into training batches.

    Shared by every source: :func:`finalize_dataset`,
    :func:`~keras_gen.data.folder.image_folder_dataset`,
    :func:`~keras_gen.data.tfrecord.tfrecord_dataset` and
    :func:`~keras_gen.data.tfds_source.tfds_dataset` take one (or its fields
    as keyword arguments), so a setting is described once, here.

    Attributes:
        batch_size: Images per batch.
        value_range: Output ``(low, high)`` or a :data:`VALUE_RANGES` name;
            stored as a pair of floats.
        image_size: Side of the square images the readers decode to (the
            shorter side is resized with antialiasing, then centre-cropped).
            Required by the readers, unused by :func:`finalize_dataset`.
        training: Shuffle and augment. ``False`` keeps the input order and
            applies no random op.
        shuffle_buffer: Size of the shuffle buffer (elements), used when
            training. A buffer at least as large as the dataset is a full
            shuffle.
        cache: ``True`` caches the decoded ``uint8`` images in memory, a path
            caches them to files (each reader keys the name on its data, so a
            stale cache is never read back), ``False`` decodes every epoch.
        flip: Randomly mirror half of the images left-right when training
            (rooms are left-right symmetric in distribution, not upside down).
        seed: Seed of the file order, the shuffle and the flips. With a seed,
            the order and the flips of every epoch are reproducible (different
            epochs still differ); ``None`` draws fresh randomness.
            Reproducible means: for the first iterator made from the dataset
            object (or any object derived from it); later iterators continue
            the random stream.
        repeat: Repeat forever (after shuffling, so every epoch is a
            permutation; batches then run across epoch boundaries).
        drop_remainder: Drop the last, incomplete batch so that every batch
            has the static size ``batch_size`` (required by some distribution
            strategies and by ``jit_compile``).
        deterministic: Parallel reading and decoding keep a fixed order, so
            the same seed gives the same batches. ``False`` lets them return
            elements as soon as ready (faster when some files are slow). An
            image folder is also free-running when training without a seed.
        threads: Size of a private tf.data thread pool for the pipeline;
            ``None`` uses TensorFlow's shared inter-op pool.

    Raises:
        ValueError: A batch size or image size that is not a positive
            integer, or a bad value range.

    Example:
        >>> options = PipelineOptions(batch_size=32, value_range="sigmoid")
        >>> options.value_range, options.replace(training=False).training
        ((0.0, 1.0), False)
    """

    batch_size: int
    value_range: ValueRange = (-1.0, 1.0)
    image_size: int | None = None
    training: bool = True
    shuffle_buffer: int = 10_000
    cache: bool | str | os.PathLike[str] = True
    flip: bool = True
    seed: int | None = None
    repeat: bool = False
    drop_remainder: bool = True
    deterministic: bool = True
    threads: int | None = None

    def __post_init__(self) -> None:
        set_field = partial(object.__setattr__, self)
        set_field("batch_size", _check_positive_int("batch_size", self.batch_size))
        set_field("value_range", check_value_range(self.value_range))
        if self.image_size is not None:
            set_field("image_size", _check_positive_int("image_size", self.image_size))

    @classmethod
    def of(
        cls, options: PipelineOptions | None = None, **fields: Any
    ) -> PipelineOptions:
        """``options`` with ``fields`` replaced, or new options from ``fields``.

        How the readers accept both an options object and keyword arguments.

        Raises:
            TypeError: An unknown field, or no ``batch_size`` anywhere.
        """
        if options is None:
            return cls(**fields)
        return dataclasses.replace(options, **fields) if fields else options

    def replace(self, **changes: Any) -> PipelineOptions:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def require_image_size(self, reader: str) -> int:
        """The image size, which ``reader`` cannot do without."""
        if self.image_size is None:
            raise TypeError(f"{reader}() needs image_size")
        return self.image_size


def _check_uint8_images(ds: tf.data.Dataset) -> None:
    spec = ds.element_spec
    image_spec = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(image_spec, tf.TensorSpec) or image_spec.dtype != tf.uint8:
        raise ValueError(
            f"finalize_dataset expects uint8 images (or tuples starting with one), "
            f"got element_spec {spec}"
        )


def _cache(ds: tf.data.Dataset, cache: Any) -> tf.data.Dataset:
    """Cache in memory (``True``), to a file prefix (a path), or not."""
    if cache is True:
        return ds.cache()
    if isinstance(cache, str | os.PathLike) and cache is not False:
        cache = os.fspath(cache)
        folder = os.path.dirname(os.path.abspath(cache))
        # tf.data writes `<cache>.index` / `.data-*` but does not create folders.
        os.makedirs(folder, exist_ok=True)
        return ds.cache(cache)
    if cache is not False:
        raise ValueError(f"cache must be True, False or a file path, got {cache!r}")
    return ds


def _shuffle_repeat_batch(
    ds: tf.data.Dataset, options: PipelineOptions
) -> tf.data.Dataset:
    if options.training:
        buffer = _check_positive_int("shuffle_buffer", options.shuffle_buffer)
        ds = ds.shuffle(buffer, seed=options.seed, reshuffle_each_iteration=True)
    if options.repeat:
        ds = ds.repeat()
    return ds.batch(
        options.batch_size,
        drop_remainder=options.drop_remainder,
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def _flip_and_convert(
    ds: tf.data.Dataset, seed: int | None, convert: Callable[[tf.Tensor], tf.Tensor]
) -> tf.data.Dataset:
    """Mirror half of each batch's images at random, then ``convert`` them."""
    # One stateless seed per batch from a seeded random stream: the flips are
    # a pure function of (seed, epoch, batch index), so they are
    # reproducible, and `rerandomize_each_iteration` gives each epoch new
    # flips. Stateful ops (tf.image.random_flip_*) would depend on the order
    # in which the parallel map threads run.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, seeds.batch(2))

    def flip_and_convert(element: Any, pair: tf.Tensor) -> Any:
        def fn(images: tf.Tensor) -> tf.Tensor:
            n = tf.shape(images)[0]
            mirror = tf.random.stateless_uniform([n], seed=pair) < 0.5
            images = tf.where(
                mirror[:, None, None, None], tf.reverse(images, axis=[2]), images
            )
            return convert(images)

        return _map_image(element, fn)

    return ds.map(flip_and_convert, num_parallel_calls=tf.data.AUTOTUNE)


def _to_value_range_batches(
    ds: tf.data.Dataset, options: PipelineOptions
) -> tf.data.Dataset:
    """Flip (when training) and scale ``uint8`` batches to the value range."""
    low, high = options.value_range
    scale = (high - low) / 255.0

    def convert(images: tf.Tensor) -> tf.Tensor:
        return tf.cast(images, tf.float32) * scale + low

    if options.training and options.flip:
        return _flip_and_convert(ds, options.seed, convert)
    return ds.map(
        lambda *e: _map_image(e if len(e) > 1 else e[0], convert),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def finalize_dataset(
    ds: tf.data.Dataset, options: PipelineOptions | None = None, **fields: Any
) -> tf.data.Dataset:
    """Turn a dataset of ``uint8`` images into training batches.

    Order of the steps: cache -> shuffle (training) -> repeat -> batch ->
    random horizontal flip (training and ``flip``) and conversion to
    ``value_range`` -> prefetch. The cache comes first so that it holds the
    decoded images, never augmented ones (a cached flip would be the same flip
    every epoch). Flip and conversion run once per batch, vectorised, which is
    cheaper than per image and gives the same result.

    Args:
        ds: Yields ``uint8`` images ``[H, W, 3]`` already at model size, or
            tuples whose first item is such an image (e.g. ``(image, label)``);
            the other items pass through unchanged (and are batched).
        options: The :class:`PipelineOptions` (``batch_size``,
            ``value_range``, ``training``, ``shuffle_buffer``, ``cache``,
            ``flip``, ``seed``, ``repeat``, ``drop_remainder``; the others are
            the readers'). ``cache`` here is ``True``, ``False`` or a file
            prefix used as it is (its folder is created).
        **fields: Fields of :class:`PipelineOptions`, instead of or on top of
            ``options``.

    Returns:
        A dataset of float32 ``[batch_size, H, W, 3]`` batches in ``value_range``
        (or tuples with such a batch first), prefetched with ``AUTOTUNE``.

    Example:
        >>> images = np.zeros((10, 8, 8, 3), np.uint8)
        >>> ds = finalize_dataset(tf.data.Dataset.from_tensor_slices(images),
        ...                       batch_size=4, value_range=(0.0, 1.0), seed=1)
        >>> len(list(ds))  # 10 images, batches of 4, the remainder is dropped
        2
    """
    options = PipelineOptions.of(options, **fields)
    _check_uint8_images(ds)
    ds = _cache(ds, options.cache)
    ds = _shuffle_repeat_batch(ds, options)
    ds = _to_value_range_batches(ds, options)
    return ds.prefetch(tf.data.AUTOTUNE)


def apply_input_options(
    ds: tf.data.Dataset,
    *,
    deterministic: bool,
    shard_policy: tf.data.experimental.AutoShardPolicy,
    threads: int | None = None,
) -> tf.data.Dataset:
    """Set the tf.data options every reader's finished pipeline carries.

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
