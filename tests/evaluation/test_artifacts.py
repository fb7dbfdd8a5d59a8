"""The flat-square check finds pasted cutout squares and nothing else."""

import numpy as np
import pytest

from keras_gen.evaluation.artifacts import flat_rectangle_fraction, flat_square_sides
from keras_gen.evaluation.damage import add_noise, paste_cutout


def test_sides_match_a_brute_force_search():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 4, (6, 12, 12, 3)).astype(np.uint8) * 60
    images[:, 2:9, 3:8] = 7  # a 7x5 flat block: largest square 5
    images[1, 0:12, 0:12] = 9  # a whole flat image
    sides = flat_square_sides(images, tolerance=0)

    def brute(image):
        best = 1
        for s in range(2, 13):
            for i in range(13 - s):
                for j in range(13 - s):
                    if np.all(image[i : i + s, j : j + s] == image[i, j]):
                        best = s
        return best

    assert sides.tolist() == [brute(im) for im in images]
    assert sides[1] == 12 and sides[0] >= 5


def test_pasted_cutout_is_flagged_and_noisy_photos_are_not(rooms32):
    textured = add_noise(rooms32, 0.03, seed=0)
    assert flat_rectangle_fraction(textured) == 0.0
    assert flat_rectangle_fraction(paste_cutout(textured, seed=1)) > 0.9


def test_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        flat_square_sides(np.zeros((1, 8, 8, 3), np.float32))
