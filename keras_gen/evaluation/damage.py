"""Known damage to real images: the test cases a quality metric must order.

A metric is trusted only after it ranks these as a person would: a little
blur below more blur, any damage above the real-vs-real floor, a handful of
images repeated (mode collapse) far from real. `benchmarks/feature_validation.py`
runs them on real bedrooms; the tests run the cheap ones on rendered rooms.
Every function takes and returns uint8 `[N, H, W, 3]` and is seeded.

Example:
    >>> images = np.full((2, 64, 64, 3), 200, np.uint8)
    >>> int(paste_cutout(images, seed=0)[0].min())
    128
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

__all__ = [
    "DAMAGES",
    "add_checkerboard",
    "add_noise",
    "blur",
    "collapse",
    "jpeg",
    "paste_cutout",
    "upsample_from",
]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation `sigma` pixels (reflected borders)."""
    from scipy.ndimage import gaussian_filter

    x = images.astype(np.float32)
    return _to_uint8(gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="reflect"))


def add_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Independent Gaussian pixel noise, `sigma` in [0, 1] units of the range."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, sigma * 255.0, images.shape)
    return _to_uint8(images.astype(np.float32) + noise)


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    """JPEG compression at `quality` (block artefacts at 10)."""
    from PIL import Image

    out = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    return np.stack(out)


def upsample_from(images: np.ndarray, side: int) -> np.ndarray:
    """Down to `side` px (box filter) and back up (bilinear): lost detail."""
    from PIL import Image

    size = images.shape[2], images.shape[1]
    return np.stack(
        [
            np.asarray(
                Image.fromarray(im)
                .resize((side, side), Image.Resampling.BOX)
                .resize(size, Image.Resampling.BILINEAR)
            )
            for im in images
        ]
    )


def paste_cutout(images: np.ndarray, ratio: float = 0.5, seed: int = 0) -> np.ndarray:
    """A flat mid-grey square of `ratio` x side, as DiffAugment's cutout paints it."""
    rng = np.random.default_rng(seed)
    out = images.copy()
    n, height, width = images.shape[:3]
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    for k in range(n):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        top, left = max(0, cy - cut_h // 2), max(0, cx - cut_w // 2)
        out[k, top : cy + cut_h - cut_h // 2, left : cx + cut_w - cut_w // 2] = 128
    return out


def add_checkerboard(images: np.ndarray, amplitude: float = 12.0, period: int = 2):
    """A +-`amplitude` checkerboard of `period` px: transposed-convolution artefacts."""
    height, width = images.shape[1:3]
    rows = (np.arange(height) // (period // 2 or 1))[:, None]
    cols = (np.arange(width) // (period // 2 or 1))[None, :]
    pattern = np.where((rows + cols) % 2 == 0, amplitude, -amplitude)
    return _to_uint8(images.astype(np.float32) + pattern[None, :, :, None])


def collapse(images: np.ndarray, distinct: int = 20, seed: int = 0) -> np.ndarray:
    """As many images as given, drawn from only `distinct` of them: mode collapse."""
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(images), size=min(distinct, len(images)), replace=False)
    return images[keep[np.arange(len(images)) % len(keep)]]


#: name -> damage, in the order of the validation table.
DAMAGES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "blur sigma 0.5": lambda x: blur(x, 0.5),
    "blur sigma 1": lambda x: blur(x, 1.0),
    "blur sigma 1.5": lambda x: blur(x, 1.5),
    "noise sigma 0.02": lambda x: add_noise(x, 0.02),
    "noise sigma 0.05": lambda x: add_noise(x, 0.05),
    "noise sigma 0.1": lambda x: add_noise(x, 0.1),
    "JPEG quality 10": lambda x: jpeg(x, 10),
    "32 -> 64 upsampling": lambda x: upsample_from(x, 32),
    "cutout squares pasted": paste_cutout,
    "checkerboard +-12": add_checkerboard,
    "collapse (20 images)": collapse,
    "collapse (5 images)": lambda x: collapse(x, distinct=5),
}
