"""Errors -> causal anomaly scores (both methods)."""

import numpy as np
import pytest

from keras_gen.series.config import SeriesScoreConfig
from keras_gen.series.scores import anomaly_scores

METHODS = ["record", "likelihood"]


def noisy_errors(rows=800, seed=0):
    errors = np.random.default_rng(seed).gamma(2.0, 0.5, rows)
    errors[:63] = np.nan  # no full window yet
    return errors


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("smoothing", [1, 4])
def test_a_spike_in_the_errors_is_the_top_score(method, smoothing):
    errors = noisy_errors()
    errors[500] = 40.0
    cfg = SeriesScoreConfig(method=method, smoothing=smoothing)
    scores = anomaly_scores(errors, cfg)
    assert 500 <= int(np.argmax(scores)) < 500 + smoothing
    assert scores.min() >= 0 and scores.max() <= 1
    # Well above what the same noise scores elsewhere.
    assert scores[500] > np.quantile(np.r_[scores[200:500], scores[520:]], 0.99)


@pytest.mark.parametrize("method", METHODS)
def test_scores_are_causal(method):
    cfg = SeriesScoreConfig(method=method, smoothing=4)
    errors = noisy_errors()
    changed = errors.copy()
    changed[600:] *= 5.0
    changed[650] = 99.0
    before, after = anomaly_scores(errors, cfg), anomaly_scores(changed, cfg)
    np.testing.assert_array_equal(before[:600], after[:600])
    assert not np.array_equal(before[600:], after[600:])


@pytest.mark.parametrize("method", METHODS)
def test_no_score_before_min_history(method):
    cfg = SeriesScoreConfig(method=method, min_history=50)
    errors = noisy_errors()
    errors[80] = 50.0  # only 17 errors precede it
    scores = anomaly_scores(errors, cfg)
    assert np.all(scores[: 63 + 50] == 0)
    assert scores[63 + 60 :].max() > 0


def test_record_flags_the_start_of_a_lasting_change_not_all_of_it():
    errors = np.r_[np.full(100, np.nan), np.ones(400), np.full(400, 10.0)]
    scores = anomaly_scores(errors, SeriesScoreConfig(method="record", history=1000))
    assert scores[500] > 0.9
    # Once seen, the new level is no longer a record.
    assert np.all(scores[501:] <= 0.5 + 1e-9)


def test_all_nan_errors_score_zero():
    scores = anomaly_scores(np.full(10, np.nan), SeriesScoreConfig())
    np.testing.assert_array_equal(scores, np.zeros(10))


def test_a_new_extreme_value_scores_one_and_only_after_warm_up():
    values = np.r_[np.sin(np.arange(400) / 5.0), [1.2, 0.0, -1.04, 0.5]][:, None]
    errors = np.ones(len(values))
    cfg = SeriesScoreConfig(spatial_tolerance=0.05, min_history=100)
    scores = anomaly_scores(errors, cfg, values)
    # 1.2 leaves [-1, 1] by 10% of the range: flagged; -1.04 by 2%: not.
    assert scores[400] == 1.0 and scores[402] < 1.0
    early = values.copy()
    early[50] = 5.0  # before the warm-up: not scored
    assert anomaly_scores(errors, cfg, early)[50] == 0.0
    off = SeriesScoreConfig(spatial_tolerance=None)
    assert anomaly_scores(errors, off, values)[400] < 1.0
