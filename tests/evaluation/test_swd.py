"""Sliced Wasserstein distance: pyramid, patches, distance, streaming."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.stats import wasserstein_distance

from keras_gen.evaluation.swd import (
    SWDAccumulator,
    _Reservoir,
    laplacian_pyramid,
    pyr_down,
    pyr_up,
    pyramid_resolutions,
    sample_patches,
    sliced_wasserstein,
    sliced_wasserstein_distance,
)
from tests.evaluation.helpers import add_noise, blur

# The ProGAN reference code's filter, applied with a 2-D convolution over
# NCHW images: an independent implementation of pyrDown/pyrUp.
GAUSS = (
    np.float32(
        [
            [1, 4, 6, 4, 1],
            [4, 16, 24, 16, 4],
            [6, 24, 36, 24, 6],
            [4, 16, 24, 16, 4],
            [1, 4, 6, 4, 1],
        ]
    )
    / 256.0
)


def reference_pyr_down(nchw):
    return ndimage.convolve(nchw, GAUSS[None, None], mode="mirror")[:, :, ::2, ::2]


def reference_pyr_up(nchw):
    n, c, h, w = nchw.shape
    res = np.zeros((n, c, 2 * h, 2 * w), nchw.dtype)
    res[:, :, ::2, ::2] = nchw
    return ndimage.convolve(res, GAUSS[None, None] * 4.0, mode="mirror")


def test_pyramid_ops_match_the_progan_reference():
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    nchw = x.transpose(0, 3, 1, 2)
    down = pyr_down(x)
    np.testing.assert_allclose(
        down.transpose(0, 3, 1, 2), reference_pyr_down(nchw), atol=1e-3
    )
    np.testing.assert_allclose(
        pyr_up(down).transpose(0, 3, 1, 2),
        reference_pyr_up(down.transpose(0, 3, 1, 2)),
        atol=1e-3,
    )


def test_laplacian_pyramid_reconstructs_the_images(rooms32):
    levels = laplacian_pyramid(rooms32[:4], 2)
    assert [lv.shape[1] for lv in levels] == [32, 16]
    np.testing.assert_allclose(levels[0] + pyr_up(levels[1]), rooms32[:4], atol=1e-3)
    assert pyramid_resolutions(64) == [64, 32, 16]
    assert pyramid_resolutions(32) == [32, 16]


def test_patches_are_the_pixels_at_the_drawn_positions():
    level = np.random.default_rng(1).normal(size=(3, 20, 20, 3)).astype(np.float32)
    patches = sample_patches(level, 7, 5, np.random.default_rng(2))
    rng = np.random.default_rng(2)
    ys, xs = rng.integers(3, 17, (3, 5)), rng.integers(3, 17, (3, 5))
    assert patches.shape == (15, 7, 7, 3)
    for i in range(3):
        for p in range(5):
            y, x = ys[i, p], xs[i, p]
            np.testing.assert_array_equal(
                patches[i * 5 + p], level[i, y - 3 : y + 4, x - 3 : x + 4]
            )


def test_sliced_wasserstein_in_one_dimension_is_scipys_wasserstein():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(500, 1)), rng.exponential(size=(500, 1))
    expected = wasserstein_distance(a[:, 0], b[:, 0])
    assert sliced_wasserstein(a, b) == pytest.approx(expected, rel=1e-5)


def test_sliced_wasserstein_of_a_translation():
    # Translating by t in 2-D: W1 of each projection is |t . u|, whose mean
    # over unit directions u is 2|t|/pi.
    a = np.random.default_rng(4).normal(size=(2000, 2)).astype(np.float32)
    t = np.array([3.0, 4.0], np.float32)
    value = sliced_wasserstein(a, a + t, dir_repeats=8, dirs_per_repeat=512)
    assert value == pytest.approx(2 * 5.0 / np.pi, rel=0.02)
    assert sliced_wasserstein(a, a) == 0.0


def test_reservoir_keeps_a_uniform_sample():
    means, first_half = [], []
    for seed in range(20):
        res = _Reservoir(200, np.random.default_rng(seed), dtype=np.float32)
        stream = np.arange(4000, dtype=np.float32)[:, None]
        for start in range(0, 4000, 130):
            res.add(stream[start : start + 130])
        kept = res.sample()[:, 0].astype(np.float64)
        assert len(kept) == 200 and len(np.unique(kept)) == 200
        means.append(kept.mean())
        first_half.append(np.mean(kept < 2000))
    # Uniform over 0..3999: mean 2000 (sd of a mean of 200 ~ 80, of 20 ~ 18).
    assert np.mean(means) == pytest.approx(2000, abs=100)
    assert np.mean(first_half) == pytest.approx(0.5, abs=0.05)


def test_swd_identical_sets_and_growth_with_noise_and_blur(rooms32):
    real = rooms32[:48]
    # Same images and same patch positions: exactly 0.
    a, b = SWDAccumulator(32, seed=5), SWDAccumulator(32, seed=5)
    a.update(real)
    b.update(real)
    assert a.distance(b)["swd_mean"] == 0.0
    # Same images, other patch positions: the sampling noise (~20 here).
    same = sliced_wasserstein_distance(real, real, seed=0)
    assert set(same) == {"swd_32", "swd_16", "swd_mean"}
    noise = [
        sliced_wasserstein_distance(real, add_noise(real, s), seed=0)["swd_mean"]
        for s in (8, 16, 48)
    ]
    blurred = [
        sliced_wasserstein_distance(real, blur(real, s), seed=0)["swd_mean"]
        for s in (1.0, 2.0, 3.0)
    ]
    assert same["swd_mean"] < 0.6 * min(noise[0], blurred[0])
    assert noise == sorted(noise) and blurred == sorted(blurred)


def test_accumulator_bounds_memory_and_checks_sizes(rooms32):
    acc = SWDAccumulator(32, max_descriptors=1000, seed=0)
    for start in range(0, 96, 32):
        acc.update(rooms32[start : start + 32])
    assert acc.num_images == 96
    assert [d.shape for d in acc.descriptors()] == [(1000, 147)] * 2
    with pytest.raises(ValueError, match="expected images"):
        acc.update(rooms32[:, :16, :16])
