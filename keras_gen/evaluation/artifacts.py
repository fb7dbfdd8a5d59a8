"""Flat axis-aligned rectangles: the fingerprint of leaked cutout augmentation.

DiffAugment's cutout paints a square of half the image side in one flat
colour (0 in [-1, 1]: mid-grey). A GAN whose discriminator only ever saw
cut-out images learns to paint such squares itself; feature distances
computed on global averages barely see them. This check counts them
directly: a sample is flagged when it holds a square of at least
`min_side` pixels whose neighbouring pixels differ by at most `tolerance`
(uint8 levels) in every channel. Real photos rarely hold one (sensor noise
and JPEG keep even white walls from being exactly flat); compare a model's
fraction with the real photos' fraction of the same size.

Example:
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3))
    >>> images[0, 10:40, 5:35] = 128
    >>> flat_square_sides(images.astype(np.uint8)).tolist()
    [30, 1, 1, 1]
"""

from __future__ import annotations

import numpy as np

__all__ = ["flat_rectangle_fraction", "flat_square_sides"]


def _flat_mask(images: np.ndarray, tolerance: int) -> np.ndarray:
    """[N, H, W]: True where a pixel equals its right and lower neighbours."""
    x = images.astype(np.int16)
    right = np.abs(x[:, :, 1:] - x[:, :, :-1]).max(axis=-1) <= tolerance
    down = np.abs(x[:, 1:] - x[:, :-1]).max(axis=-1) <= tolerance
    flat = np.zeros(images.shape[:3], bool)
    flat[:, :-1, :-1] = right[:, :-1, :] & down[:, :, :-1]
    return flat


def flat_square_sides(images: np.ndarray, tolerance: int = 2) -> np.ndarray:
    """Side (pixels) of the largest flat square in each uint8 image `[N, H, W, 3]`."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 images [N, H, W, C], got {images.shape}")
    flat = _flat_mask(images, tolerance)
    n, height, width = flat.shape
    # Classic largest-square dynamic programme, vectorised over the images.
    side = np.zeros((n, height + 1, width + 1), np.int16)
    for i in range(height):
        for j in range(width):
            grown = np.minimum(
                np.minimum(side[:, i, j + 1], side[:, i + 1, j]), side[:, i, j]
            )
            side[:, i + 1, j + 1] = np.where(flat[:, i, j], grown + 1, 0)
    # A run of k flat pixels spans k + 1 pixels of equal value.
    return side.reshape(n, -1).max(axis=1) + 1


def flat_rectangle_fraction(
    images: np.ndarray, min_side: int | None = None, tolerance: int = 2
) -> float:
    """Fraction of images holding a flat square of at least `min_side` px.

    Args:
        images: uint8 `[N, H, W, 3]`.
        min_side: smallest side flagged; default a quarter of the image
            side (16 px at 64x64; cutout squares are 32 px, partly outside
            the image at worst).
        tolerance: largest difference between neighbours counted as flat.
    """
    sides = flat_square_sides(images, tolerance)
    if len(sides) == 0:
        return float("nan")
    min_side = min_side or max(2, images.shape[1] // 4)
    return float(np.mean(sides >= min_side))
