"""Shared helpers of the denoising and anomaly benchmarks (real room photos).

The photos are the shared places365-rooms development set (licence: Places365,
non-commercial research and education; see its README). It is read from
`../shared/data/places365-rooms` (or `$KERAS_GEN_ROOMS`) and never copied.

Split of a room-type folder (files sorted by name, so the split is fixed):
the last 500 files are the test split, the 200 before them the validation
split (choice of baseline parameters, threshold calibration), the rest train.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TEST, VAL = 500, 200


def rooms_root() -> Path:
    root = os.environ.get("KERAS_GEN_ROOMS")
    path = Path(root) if root else DEFAULT_ROOT / "places365-rooms"
    if not (path / "rooms64").is_dir():
        raise SystemExit(
            f"places365-rooms not found at {path} (set KERAS_GEN_ROOMS); "
            "this benchmark needs the shared real photos"
        )
    return path


def load_folder(folder: Path, limit: int | None = None) -> np.ndarray:
    """float32 [N, H, W, 3] in [0, 1] of the sorted image files of `folder`."""
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    if limit:
        files = files[:limit]
    return np.stack(
        [np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0 for p in files]
    )


def split(images: np.ndarray) -> dict[str, np.ndarray]:
    """train / val / test split documented in the module docstring."""
    n = len(images)
    return {
        "train": images[: n - TEST - VAL],
        "val": images[n - TEST - VAL : n - TEST],
        "test": images[n - TEST :],
    }


def machine_load() -> str:
    """`uptime` load averages, recorded next to every figure."""
    out = subprocess.run(["uptime"], capture_output=True, text=True).stdout
    return out.strip().split("load average:")[-1].strip()


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
