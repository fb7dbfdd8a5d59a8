"""Baseline detectors: NAB's windowed Gaussian and the causal k-NN windows."""

import math
from pathlib import Path

import numpy as np
import pytest

from keras_gen.series import baselines, nab

NAB_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"


def reference_windowed_gaussian(values, window, step):
    """NAB's detector loop, transcribed record by record."""
    data, buffer, mean, std, out = [], [], 0.0, 1.0, []
    for x in values:
        score = 0.0
        if data:
            z = abs(x - mean) / std
            score = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
        out.append(score)
        if len(data) < window:
            data.append(x)
        else:
            buffer.append(x)
            if len(buffer) < step:
                continue
            data, buffer = data[step:] + buffer, []
        mean, std = np.mean(data), np.std(data)
        std = std if std != 0.0 else 1e-6
    return np.array(out)


def series(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) / 8.0) + 0.1 * rng.standard_normal(n)


def test_windowed_gaussian_follows_nabs_loop():
    x = np.r_[np.full(7, 3.0), series(300)]  # constant start: std 0 -> 1e-6
    ours = baselines.windowed_gaussian_scores(x, window=40, step=7)
    assert ours == pytest.approx(reference_windowed_gaussian(x, 40, 7), abs=1e-12)
    assert ours[0] == 0.0 and ours[1] == 0.5 and ours[7] == 1.0


@pytest.mark.parametrize("detector", ["gaussian", "knn"])
def test_scores_are_causal_and_in_unit_range(detector):
    x = series()
    spiked = x.copy()
    spiked[900] += 6.0
    run = {
        "gaussian": lambda v: baselines.windowed_gaussian_scores(
            v, window=200, step=10
        ),
        "knn": lambda v: baselines.knn_window_scores(v, window=8, k=3),
    }[detector]
    before, after = run(x), run(spiked)
    assert np.array_equal(before[:900], after[:900])
    assert not np.array_equal(before[900:], after[900:])
    for s in (before, after):
        assert s.shape == x.shape and s.min() >= 0.0 and s.max() <= 1.0
    surrounding = np.r_[after[850:898], after[910:960]]
    assert after[900] > surrounding.max()


def test_knn_scores_zero_in_training_part_and_fitted_scale():
    x = series(2000)
    s = baselines.knn_window_scores(x, window=8, k=3)
    n_train = nab.probationary_length(2000)
    assert n_train == 300 and not s[:n_train].any()
    assert 0.2 < np.median(s[n_train:]) < 0.8  # typical windows near the 0.5 centre
    assert np.mean(s[n_train:] > 0.99) < 0.05
    with pytest.raises(ValueError, match="too short"):
        baselines.knn_window_scores(x[:100], window=8, k=3)


@pytest.mark.skipif(not NAB_DIR.is_dir(), reason="needs ../shared/data/nab")
@pytest.mark.parametrize(
    "name",
    [
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "realAdExchange/exchange-2_cpc_results.csv",
        "realKnownCause/nyc_taxi.csv",  # 10320 rows: the 6400-value window slides
    ],
)
def test_windowed_gaussian_matches_published_nab_outputs(name):
    category, file = name.split("/")
    path = NAB_DIR / "published_results" / "windowedGaussian" / category
    _, values, published = nab.read_results_csv(path / f"windowedGaussian_{file}")
    ours = baselines.windowed_gaussian_scores(values)
    assert np.abs(ours - published).max() < 1e-9  # published CSVs carry 12 decimals
