"""Image perturbations whose strength the metrics must follow."""

import numpy as np
from scipy import ndimage


def add_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """uint8 images plus Gaussian noise of std `sigma` (grey levels), clipped."""
    rng = np.random.default_rng(seed)
    noisy = images.astype(np.float32) + rng.normal(0.0, sigma, images.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 images blurred by a Gaussian of std `sigma` pixels."""
    if sigma == 0:
        return images.copy()
    out = ndimage.gaussian_filter(
        images.astype(np.float32), sigma=(0, sigma, sigma, 0), mode="reflect"
    )
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
