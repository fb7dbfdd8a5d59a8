"""Image perturbations whose strength the metrics must follow (grey-level units)."""

import numpy as np

from keras_gen.evaluation import damage


def add_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """uint8 images plus Gaussian noise of std `sigma` (grey levels), clipped."""
    return damage.add_noise(images, sigma / 255.0, seed=seed)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 images blurred by a Gaussian of std `sigma` pixels."""
    return images.copy() if sigma == 0 else damage.blur(images, sigma)
