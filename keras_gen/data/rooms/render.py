"""Rendering: a sampled scene to pixels, and the public rendering API.

:func:`render_room` renders one room from its seed; :func:`render_rooms` a
deterministic data set (image ``i`` from :func:`image_seed`), over several
processes and through an optional ``.npz`` cache.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from keras_gen.data.rooms.cache import (
    _cache_path,
    _label_arrays,
    _load_cache,
    _save_cache,
)
from keras_gen.data.rooms.canvas import _Canvas
from keras_gen.data.rooms.draw import _draw_scene
from keras_gen.data.rooms.labels import (
    ROOM_LABELS,
    SEED_STRIDE,
    _check_seed,
    _check_size,
    _normalize_overrides,
)
from keras_gen.data.rooms.scene import _sample_scene, _Scene

__all__ = ["image_seed", "render_room", "render_rooms"]


@lru_cache(maxsize=16)
def _coords(size: int) -> np.ndarray:
    return ((np.arange(size, dtype=np.float32) + 0.5) / size).astype(np.float32)


def _supersampling(size: int) -> int:
    # Small images need more sub-samples for smooth edges; large ones have
    # enough pixels per edge already and would pay quadratically.
    return 4 if size <= 48 else 3 if size <= 96 else 2


def _shading(
    scene: _Scene, glow: tuple[float, float, float] | None, size: int
) -> np.ndarray:
    """Per-pixel RGB light: ceiling light, vignette, exposure, lamp glow."""
    light, c = scene.light, _coords(size)
    # Separable Gaussian fall-off around the ceiling light, plus a vignette.
    r2 = 2.0 * light["radius"] ** 2
    gx, gy = (
        np.exp(-((c - light["x"]) ** 2) / r2),
        np.exp(-((c - light["y"]) ** 2) / r2),
    )
    amb = light["ambient"]
    vx = (c - 0.5) ** 2
    shade = amb + (1.0 - amb) * (gy[:, None] * gx[None, :])
    shade *= 1.0 - light["vignette"] * (vx[:, None] + vx[None, :])
    shade *= scene.labels["brightness"]
    shade3 = np.repeat(shade[:, :, None], 3, axis=2)
    if glow is not None:
        u, v, s = glow
        gr2 = 2.0 * max(2.2 * s, 0.06) ** 2
        lg = (
            np.exp(-((c - v) ** 2) / gr2)[:, None]
            * np.exp(-((c - u) ** 2) / gr2)[None, :]
        )
        lg *= scene.lamp["glow"]
        shade3 += lg[:, :, None] * np.array([0.55, 0.42, 0.22], dtype=np.float32)
    return shade3


def _render_scene(scene: _Scene, rng: np.random.Generator, size: int) -> np.ndarray:
    """Rasterise a sampled scene, then light it and add material noise."""
    ss = _supersampling(size)
    cv = _Canvas(scene.cam, size * ss, scene.colors["ceiling"])
    glow = _draw_scene(cv, scene)
    image = np.asarray(cv.image.reduce(ss), dtype=np.float32)
    mask = np.asarray(cv.mask.reduce(ss), dtype=np.float32)
    shade3 = _shading(scene, glow, size)
    emit = mask[:, :, 1:2] * (1.0 / 255.0)
    shade3 = shade3 * (1.0 - emit) + emit
    noise = rng.standard_normal((size, size), dtype=np.float32)
    noise *= mask[:, :, 0] * (1.0 / 1000.0)
    noise += 1.0
    image *= shade3
    image *= noise[:, :, None]
    np.clip(image, 0.0, 255.0, out=image)
    return (image + 0.5).astype(np.uint8)


def render_room(
    seed: int, size: int = 64, **overrides: Any
) -> tuple[np.ndarray, dict[str, int | float]]:
    """Render one room.

    Args:
        seed: Non-negative integer; the same seed and size always give the
            same pixels, and the same seed gives the same scene at every size.
        size: Side of the square image in pixels, in [32, 256].
        **overrides: Forced factors, by label name (see :data:`ROOM_LABELS`),
            e.g. ``has_bed=True``, ``num_windows=0``, ``floor_texture="tiles"``,
            ``wall_hue=0.6``. The other factors keep the values the seed gives
            them, so an override plants or removes one thing only. A count the
            room cannot hold (no free wall left) is lowered, and the label says
            what was drawn.

    Returns:
        ``(image, labels)``: a ``uint8`` array of shape ``(size, size, 3)`` and
        a dict with one ``int`` or ``float`` per name in :data:`ROOM_LABELS`.

    Raises:
        ValueError: If ``size`` is outside [32, 256], ``seed`` is negative, or
            an override has an unknown name or a value outside its allowed set
            (the message names the key and the allowed values).

    Example:
        >>> image, labels = render_room(3, size=64, has_bed=False, num_windows=2)
        >>> image.shape, labels["has_bed"], labels["num_windows"]
        ((64, 64, 3), 0, 2)
    """
    size = _check_size(size)
    seed = _check_seed(seed)
    scene, rng = _sample_scene(seed, _normalize_overrides(overrides))
    return _render_scene(scene, rng, size), dict(scene.labels)


def image_seed(seed: int, index: int) -> int:
    """Per-image seed used by :func:`render_rooms`: ``seed * SEED_STRIDE + index``.

    Args:
        seed: The data-set seed passed to :func:`render_rooms`.
        index: Position of the image in the data set.

    Returns:
        The seed to pass to :func:`render_room` for that image.

    Example:
        >>> image_seed(2, 5)
        2000011
    """
    return seed * SEED_STRIDE + index


def _render_chunk(
    task: tuple[int, int, int, int, dict[str, int | float]],
) -> tuple[int, np.ndarray, dict[str, np.ndarray]]:
    """Render images ``start..stop-1`` of a data set (runs in worker processes)."""
    start, stop, seed, size, overrides = task
    images = np.empty((stop - start, size, size, 3), dtype=np.uint8)
    labels = _label_arrays(stop - start)
    for k in range(stop - start):
        scene, rng = _sample_scene(image_seed(seed, start + k), overrides)
        images[k] = _render_scene(scene, rng, size)
        for name in ROOM_LABELS:
            labels[name][k] = scene.labels[name]
    return start, images, labels


def _default_workers(num: int, size: int) -> int:
    # Below ~1000 64x64 images a pool costs more to start than it saves.
    if num * size * size < 1000 * 64 * 64:
        return 1
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _chunks(
    num: int, chunk: int, seed: int, size: int, overrides: dict[str, int | float]
) -> Iterator[tuple[int, int, int, int, dict[str, int | float]]]:
    for start in range(0, num, chunk):
        yield start, min(start + chunk, num), seed, size, overrides


def _check_count(num: Any) -> int:
    if isinstance(num, bool) or not isinstance(num, int | np.integer) or num < 1:
        raise ValueError(f"num must be a positive integer, got {num!r}")
    return int(num)


def _check_workers(workers: Any) -> int | None:
    if workers is not None and (
        isinstance(workers, bool)
        or not isinstance(workers, int | np.integer)
        or workers < 1
    ):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    return workers


def _render_all(
    num: int,
    size: int,
    seed: int,
    workers: int | None,
    progress: bool,
    fixed: dict[str, int | float],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render the whole set, in chunks, in this process or a pool."""
    n_workers = _default_workers(num, size) if workers is None else int(workers)
    chunk = max(1, min(256, math.ceil(num / (4 * n_workers))))
    n_workers = min(n_workers, math.ceil(num / chunk))
    images = np.empty((num, size, size, 3), dtype=np.uint8)
    labels = _label_arrays(num)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num, desc=f"rendering rooms {size}x{size}", unit="img")
    tasks = _chunks(num, chunk, seed, size, fixed)
    try:
        if n_workers == 1:
            results: Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]] = map(
                _render_chunk, tasks
            )
            _collect(results, images, labels, bar)
        else:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            with multiprocessing.get_context(method).Pool(n_workers) as pool:
                _collect(pool.imap(_render_chunk, tasks), images, labels, bar)
    finally:
        if bar is not None:
            bar.close()
    return images, labels


def _try_save_cache(
    path: Path, images: np.ndarray, labels: Mapping[str, np.ndarray]
) -> None:
    try:
        _save_cache(path, images, labels)
    except OSError as err:
        # A read-only or full disk must not cost the caller the images.
        warnings.warn(
            f"could not write room cache {path}: {err}",
            RuntimeWarning,
            stacklevel=3,
        )


def render_rooms(
    num: int,
    size: int = 64,
    seed: int = 0,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    **overrides: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render a deterministic data set of rooms.

    Image ``i`` is ``render_room(image_seed(seed, i), size, **overrides)``, with
    ``image_seed(seed, i) = seed * 1_000_003 + i``, so the result does not
    depend on ``workers`` and a longer set starts with the images of a shorter
    one.

    Args:
        num: Number of images, at least 1.
        size: Side in pixels, in [32, 256].
        seed: Non-negative data-set seed.
        workers: Processes to render with. ``None`` picks 1 for small sets
            (under ~1000 images of 64x64) and one per available CPU otherwise.
            Workers are forked on Linux, so they never re-import the caller's
            modules (TensorFlow included); elsewhere they are spawned.
        cache_dir: Directory for an ``.npz`` cache named by ``num``, ``size``,
            ``seed``, the overrides and :data:`RENDERER_VERSION`. An existing,
            valid file is loaded instead of rendering; an unreadable one is
            rendered again (with a ``RuntimeWarning``) and overwritten.
            ``None`` (the default) disables caching.
        progress: Show a ``tqdm`` progress bar.
        **overrides: Factors forced on every image, as in :func:`render_room`.

    Returns:
        ``(images, labels)``: ``uint8`` images of shape ``(num, size, size, 3)``
        and a dict with one 1-D array of length ``num`` per name in
        :data:`ROOM_LABELS` (``int32`` for flags, counts and
        ``floor_texture``; ``float32`` for the continuous factors).

    Raises:
        ValueError: For ``num < 1``, a size outside [32, 256], a negative seed,
            ``workers < 1`` or an invalid override.

    Example:
        >>> images, labels = render_rooms(16, size=32, seed=3, has_bed=True)
        >>> images.shape, bool(labels["has_bed"].all())
        ((16, 32, 32, 3), True)
    """
    num = _check_count(num)
    size = _check_size(size)
    seed = _check_seed(seed)
    fixed = _normalize_overrides(overrides)
    workers = _check_workers(workers)
    path = None
    if cache_dir is not None:
        path = _cache_path(cache_dir, num, size, seed, fixed)
        cached = _load_cache(path, num, size)
        if cached is not None:
            return cached
    images, labels = _render_all(num, size, seed, workers, progress, fixed)
    if path is not None:
        _try_save_cache(path, images, labels)
    return images, labels


def _collect(
    results: Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]],
    images: np.ndarray,
    labels: dict[str, np.ndarray],
    bar: Any,
) -> None:
    for start, chunk_images, chunk_labels in results:
        stop = start + len(chunk_images)
        images[start:stop] = chunk_images
        for name in ROOM_LABELS:
            labels[name][start:stop] = chunk_labels[name]
        if bar is not None:
            bar.update(stop - start)


def _benchmark(sizes: Sequence[int] = (32, 64, 128, 256), num: int = 200) -> None:
    """Print the single-core rendering time per image for each size."""
    import time

    for size in sizes:
        render_room(0, size)  # warm caches
        start = time.perf_counter()
        for i in range(num):
            render_room(i, size)
        ms = (time.perf_counter() - start) / num * 1e3
        print(f"size {size:3d}: {ms:6.2f} ms/image")
