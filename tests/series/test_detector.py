"""The streaming detector: training split, causal errors, refits, thresholds."""

import numpy as np
import pytest

from keras_gen.series.config import series_config_from_dict
from keras_gen.series.data import read_series_csv
from keras_gen.series.detector import (
    build_series_model,
    calibrate_threshold,
    causal_errors,
    detect_series,
    fit_series_model,
    streaming_errors,
)
from tests.series.helpers import sine_values, write_series

TINY = {
    "model": {"window": 16, "latent_dim": 4, "filters": 8},
    "train": {"epochs": 4, "batch_size": 32},
    "score": {"min_history": 20},
}


def config(**sections):
    data = {k: dict(v) for k, v in TINY.items()}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return series_config_from_dict(data)


@pytest.fixture(scope="module")
def trained():
    cfg = config()
    model = build_series_model(cfg.model, 1, cfg.score)
    fit_series_model(model, sine_values(400)[:, None], cfg.train)
    return model, cfg


def test_spike_after_training_part_gets_the_top_score(tmp_path):
    path = write_series(tmp_path / "s.csv", sine_values(1600, spike_at=1200))
    result, (model,) = detect_series(read_series_csv(path), config())
    assert result.num_train == 240  # 15% of 1,600 rows
    assert int(np.argmax(result.scores)) == 1200
    assert (
        np.all(np.isnan(result.errors[:15])) and np.isfinite(result.errors[15:]).all()
    )
    # Both thresholds calibrated on the training part; the spike crosses it.
    assert np.isfinite(float(model.threshold.numpy()))
    assert result.detections[1200]


def test_errors_are_causal(trained):
    model, _ = trained
    values = sine_values(300)[:, None]
    changed = values.copy()
    changed[200] += 30.0
    a, b = causal_errors(model, values), causal_errors(model, changed)
    np.testing.assert_array_equal(a[:200], b[:200])
    assert b[200] > 10 * a[200]


def test_error_of_a_row_range_equals_the_full_run(trained):
    model, _ = trained
    values = sine_values(300)[:, None]
    full = causal_errors(model, values)
    part = causal_errors(model, values, 100, 150)
    np.testing.assert_allclose(part[100:150], full[100:150], rtol=1e-5)
    assert np.isnan(part[:100]).all() and np.isnan(part[150:]).all()


def test_dilated_windows_span_more_rows(tmp_path):
    # 5-minute rows, 2 hours of context over 16 points: 24 rows / 16 -> 2.
    path = write_series(tmp_path / "s.csv", sine_values(1600))
    result, (model,) = detect_series(
        read_series_csv(path), config(model={"context_hours": 2.7})
    )
    assert model.dilation == 2
    first = int(np.flatnonzero(np.isfinite(result.errors))[0])
    assert first == (16 - 1) * 2


def test_refits_follow_a_level_shift_and_stay_causal():
    cfg = config(train={"refit_every": 100, "refit_rows": 200, "refit_epochs": 3})
    values = sine_values(900)[:, None]
    values[500:] += 4.0  # a lasting change
    model = build_series_model(cfg.model, 1, cfg.score)
    fit_series_model(model, values[:240], cfg.train)
    weights = [w.copy() for w in model.get_weights()]
    with_refit = streaming_errors(model, values, 240, cfg.train)
    # Rows before the first refit are scored by the initial model.
    model.set_weights(weights)
    static = causal_errors(model, values)
    np.testing.assert_allclose(with_refit[:340], static[:340], rtol=1e-5)
    # After a few refits on the new level the errors come down again.
    assert np.median(with_refit[800:]) < 0.5 * np.median(static[800:])


def test_calibrated_threshold_matches_the_false_positive_rate():
    normal = np.random.default_rng(0).normal(size=10_000)
    threshold = calibrate_threshold(normal, 0.01)
    assert np.mean(normal >= threshold) == pytest.approx(0.01, abs=0.002)


def test_too_short_training_part_is_explained(tmp_path):
    path = write_series(tmp_path / "s.csv", sine_values(100))
    with pytest.raises(ValueError, match="too few for 16 windows"):
        detect_series(read_series_csv(path), config())


def test_ensemble_averages_members_trained_from_other_seeds(tmp_path):
    series = read_series_csv(write_series(tmp_path / "s.csv", sine_values(800)))
    result, models = detect_series(series, config(model={"ensemble": 2}))
    assert [m.seed for m in models] == [0, 1]
    kernels = [m.encoder.get_weights()[0] for m in models]
    assert not np.allclose(*kernels)
    singles = [
        detect_series(series, config(model={"seed": s}))[0].scores for s in (0, 1)
    ]
    np.testing.assert_allclose(result.scores, np.mean(singles, axis=0), atol=1e-4)


def test_ensemble_suppresses_repeats_of_its_mean_score(tmp_path):
    from keras_gen.series.scores import _previous_max, suppress_repeats

    path = write_series(tmp_path / "s.csv", sine_values(800, spike_at=600))
    series = read_series_csv(path)
    plain, _ = detect_series(series, config(model={"ensemble": 2}))
    kept, _ = detect_series(
        series, config(model={"ensemble": 2}, score={"suppress_rows": 30})
    )
    expected = suppress_repeats(plain.scores, 30)
    # Rows whose mean score is not within float noise of its recent maximum.
    clear = np.abs(plain.scores - _previous_max(plain.scores, 30)) > 1e-3
    assert clear.mean() > 0.9
    np.testing.assert_allclose(kept.scores[clear], expected[clear], atol=1e-4)
    assert kept.scores[600] == pytest.approx(plain.scores[600], abs=1e-4)
    assert np.sum(kept.scores == 0) > np.sum(plain.scores == 0) + 100
