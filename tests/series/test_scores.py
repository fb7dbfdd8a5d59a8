"""Errors -> causal anomaly scores (both methods)."""

import numpy as np
import pytest

from keras_gen.config import ConfigError
from keras_gen.series.config import SeriesScoreConfig, series_config_from_dict
from keras_gen.series.scores import anomaly_scores, suppress_repeats

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


def test_suppress_repeats_keeps_only_scores_above_their_recent_past():
    scores = np.array([0.2, 0.6, 0.5, 0.7, 0.1, 0.6, 0.3])
    # Each score against the raw (unsuppressed) scores of the 2 rows before:
    # 0.5 < 0.6, 0.1 < 0.7, 0.6 < 0.7, 0.3 < 0.6 (itself suppressed) -> 0.
    np.testing.assert_array_equal(
        suppress_repeats(scores, 2), [0.2, 0.6, 0.0, 0.7, 0.0, 0.0, 0.0]
    )
    # One row back: 0.6 > 0.1 stands again.
    np.testing.assert_array_equal(
        suppress_repeats(scores, 1), [0.2, 0.6, 0.0, 0.7, 0.0, 0.6, 0.0]
    )
    # A tie is a repeat; None changes nothing.
    np.testing.assert_array_equal(suppress_repeats([1.0, 1.0], 5), [1.0, 0.0])
    np.testing.assert_array_equal(suppress_repeats(scores, None), scores)


def test_suppress_repeats_drops_a_detection_only_after_an_earlier_one():
    scores = np.random.default_rng(0).random(500)
    kept = suppress_repeats(scores, 20)
    for threshold in (0.5, 0.9, 0.99):
        before, after = scores >= threshold, kept >= threshold
        assert np.all(after <= before)
        for t in np.flatnonzero(before & ~after):
            assert before[max(t - 20, 0) : t].any()


def test_suppressed_repeated_new_extremes_and_causality():
    # New extremes (spatially novel: score 1.0) at rows 400, 420 and 480.
    values = np.sin(np.arange(600) / 5.0)
    values[[400, 420, 480]] = [1.5, 2.0, 2.6]
    values = values[:, None]
    errors = np.ones(len(values))
    plain = anomaly_scores(errors, SeriesScoreConfig(), values)
    np.testing.assert_array_equal(np.flatnonzero(plain == 1.0), [400, 420, 480])
    cfg = SeriesScoreConfig(suppress_rows=50)
    kept = anomaly_scores(errors, cfg, values)
    # 420 follows the alarm at 400 within 50 rows; 480 does not.
    np.testing.assert_array_equal(np.flatnonzero(kept == 1.0), [400, 480])
    np.testing.assert_array_equal(kept[421:480], 0.0)  # 0.5s: not above 1.0
    unsuppressed = anomaly_scores(errors, cfg, values, suppress=False)
    np.testing.assert_array_equal(unsuppressed, plain)
    changed = values.copy()
    changed[450:] += 5.0
    np.testing.assert_array_equal(
        anomaly_scores(errors, cfg, changed)[:450], kept[:450]
    )


@pytest.mark.parametrize("bad", [0, -5])
def test_suppress_rows_must_be_positive_or_null(bad):
    with pytest.raises(ConfigError, match="score.suppress_rows"):
        series_config_from_dict({"score": {"suppress_rows": bad}})
    cfg = series_config_from_dict({"score": {"suppress_rows": None}})
    assert cfg.score.suppress_rows is None
