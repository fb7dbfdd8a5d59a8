"""The ``.npz`` cache of rendered room sets (``render_rooms(cache_dir=...)``).

A file is named by everything its content depends on (count, size, seed,
overrides, :data:`RENDERER_VERSION`), written to a temporary file and renamed,
and read back only if its arrays have the expected shapes and types.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keras_gen.data.rooms.labels import _INT_LABELS, RENDERER_VERSION, ROOM_LABELS


def _label_arrays(num: int) -> dict[str, np.ndarray]:
    return {
        name: np.zeros(num, dtype=np.int32 if name in _INT_LABELS else np.float32)
        for name in ROOM_LABELS
    }


def _cache_path(
    cache_dir: str | os.PathLike[str],
    num: int,
    size: int,
    seed: int,
    overrides: Mapping[str, int | float],
) -> Path:
    tag = ""
    if overrides:
        key = json.dumps(sorted(overrides.items())).encode()
        tag = "_" + hashlib.sha1(key).hexdigest()[:12]
    name = f"rooms_v{RENDERER_VERSION}_n{num}_size{size}_seed{seed}{tag}.npz"
    return Path(cache_dir) / name


def _load_cache(
    path: Path, num: int, size: int
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            labels = {name: data[f"label_{name}"] for name in ROOM_LABELS}
        expected = _label_arrays(1)
        ok = images.shape == (num, size, size, 3) and images.dtype == np.uint8
        ok = ok and all(
            v.shape == (num,) and v.dtype == expected[k].dtype
            for k, v in labels.items()
        )
        if ok:
            return images, labels
        reason = "unexpected shapes or dtypes"
    except Exception as err:  # whatever is wrong with the file, render again
        reason = f"{type(err).__name__}: {err}"
    warnings.warn(
        f"room cache {path} is unreadable ({reason}); rendering again",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def _save_cache(
    path: Path, images: np.ndarray, labels: Mapping[str, np.ndarray]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a crash or a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, images=images, **{f"label_{k}": v for k, v in labels.items()})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
