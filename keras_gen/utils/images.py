"""Image grids and metric plots written with matplotlib."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def tile_images(
    images: np.ndarray, columns: int | None = None, pad: int = 2
) -> np.ndarray:
    """uint8 `[N, H, W, C]` -> one uint8 image with the N images on a grid.

    Args:
        images: the images, uint8.
        columns: images per row (default: about sqrt(N)).
        pad: white pixels between images.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape [N, H, W, C], got {images.shape}")
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full(
        (rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8
    )
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = image
    return grid


def save_image_grid(
    images: np.ndarray, path: str | Path, columns: int | None = None, scale: int = 1
) -> Path:
    """Tile uint8 images and write a PNG (pixel exact; `scale` repeats pixels)."""
    grid = tile_images(images, columns)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Pillow writes RGB (or grey) PNGs; plt.imsave wrote RGBA.
    Image.fromarray(grid.squeeze(-1) if grid.shape[-1] == 1 else grid).save(path)
    return path


def read_metrics_csv(path: str | Path) -> dict[str, list[float]]:
    """Columns of a Keras `CSVLogger` file as float lists."""
    with Path(path).open() as f:
        rows = list(csv.DictReader(f))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                columns.setdefault(key, []).append(float("nan"))
    # CSVLogger adds empty val_* columns when there is no validation data.
    return {k: v for k, v in columns.items() if not all(np.isnan(v))}


def plot_metrics(
    history: dict[str, list[float]], path: str | Path, title: str = ""
) -> Path:
    """One subplot per metric against the epoch, written as a PNG."""
    names = [k for k in history if k != "epoch" and not k.startswith("val_")]
    if not names:
        raise ValueError("no metrics to plot")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = history[name]
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
            ax.legend()
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
