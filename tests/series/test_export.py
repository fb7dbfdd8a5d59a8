"""SavedModel export of a series detector: signatures, checks, metadata, versions."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.models.series import (
    SeriesAutoencoder,
    build_series_decoder,
    build_series_encoder,
)
from keras_gen.series.export import METADATA_FILE, export_series_model

WINDOW = 16
MEAN, STD = 2.0, 3.0


def tiny_autoencoder():
    return SeriesAutoencoder(
        build_series_encoder(WINDOW, 1, 4, filters=4),
        build_series_decoder(WINDOW, 1, 4, filters=4),
        score_steps=2,
        scoring={"smoothing": 4, "history": 100},
        seed=0,
    )


def raw_windows(n=12, seed=0):
    """Raw (unnormalised) windows of a noisy sine around MEAN, scale STD."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + WINDOW - 1, dtype=np.float32)
    series = MEAN + STD * (np.sin(t / 3.0) + 0.3 * rng.normal(size=t.shape))
    return np.stack([series[i : i + WINDOW] for i in range(n)])[..., None].astype(
        np.float32
    )


def scores_of(model, windows):
    return keras.ops.convert_to_numpy(model.window_scores(windows))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny trained, calibrated autoencoder, exported once and loaded."""
    keras.utils.set_random_seed(0)
    model = tiny_autoencoder()
    model.compile()
    model.fit(raw_windows(64, seed=1), batch_size=32, epochs=1, verbose=0)
    model.set_normalization([MEAN], [STD])
    windows = raw_windows()
    # A threshold inside the scores' range: some windows flagged, some not.
    model.threshold.assign(float(np.median(scores_of(model, windows))))
    export_dir = tmp_path_factory.mktemp("saved_models")
    path = export_series_model(model, export_dir, "tiny")
    return model, windows, export_dir, path, tf.saved_model.load(str(path))


def test_export_writes_version_1(exported):
    _, _, export_dir, path, _ = exported
    assert path == export_dir / "tiny" / "1"
    assert (export_dir / "tiny" / "1" / "saved_model.pb").is_file()
    # The temporary folder was renamed into place, not left behind.
    assert [p.name for p in (export_dir / "tiny").iterdir()] == ["1"]


def test_anomaly_score_signature_matches_the_model(exported):
    model, windows, _, _, loaded = exported
    out = loaded.signatures["anomaly_score"](windows=tf.constant(windows))
    score = out["score"].numpy()
    assert score.shape == (len(windows),)
    np.testing.assert_allclose(score, scores_of(model, windows), rtol=1e-5)
    threshold = float(model.threshold.numpy())
    np.testing.assert_array_equal(out["threshold"].numpy(), np.float32(threshold))
    is_anomaly = out["is_anomaly"].numpy()
    assert is_anomaly.dtype == bool
    np.testing.assert_array_equal(is_anomaly, score > threshold)
    assert 0 < is_anomaly.sum() < len(windows)


def test_serving_default_is_the_anomaly_score(exported):
    model, windows, _, _, loaded = exported
    assert {"serving_default", "anomaly_score", "reconstruct"} <= set(loaded.signatures)
    out = loaded.signatures["serving_default"](windows=tf.constant(windows[:3]))
    assert set(out) == {"score", "threshold", "is_anomaly"}
    np.testing.assert_allclose(
        out["score"].numpy(), scores_of(model, windows[:3]), rtol=1e-5
    )


def test_reconstruct_signature_is_in_raw_units(exported):
    model, windows, _, _, loaded = exported
    out = loaded.signatures["reconstruct"](windows=tf.constant(windows))
    reconstruction = out["reconstruction"].numpy()
    assert reconstruction.shape == windows.shape
    np.testing.assert_allclose(
        reconstruction, keras.ops.convert_to_numpy(model(windows)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("signature", ["anomaly_score", "reconstruct"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_batch_is_refused(exported, signature, bad):
    _, windows, _, _, loaded = exported
    batch = windows[:4].copy()
    batch[2, 5, 0] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match="finite"):
        loaded.signatures[signature](windows=tf.constant(batch))


def test_metadata_file(exported):
    model, _, _, path, _ = exported
    metadata = json.loads((path / "assets.extra" / METADATA_FILE).read_text())
    assert metadata["window"] == WINDOW
    assert metadata["channels"] == 1
    assert metadata["norm_mean"] == [MEAN]
    assert metadata["norm_std"] == [STD]
    assert metadata["window_threshold"] == pytest.approx(float(model.threshold.numpy()))
    assert metadata["score_steps"] == 2
    assert metadata["scoring"] == {"smoothing": 4, "history": 100}


def test_models_config_lists_the_model(exported):
    _, _, export_dir, _, _ = exported
    text = (export_dir / "models.config").read_text()
    assert 'name: "tiny"' in text
    assert f'base_path: "{export_dir.resolve()}/tiny"' in text


def test_batch_over_max_batch_is_refused(tmp_path):
    model = tiny_autoencoder()
    path = export_series_model(model, tmp_path, "small", max_batch=4)
    loaded = tf.saved_model.load(str(path))
    windows = raw_windows(5)
    ok = loaded.signatures["anomaly_score"](windows=tf.constant(windows[:4]))
    assert ok["score"].shape == (4,)
    for name in ("anomaly_score", "reconstruct"):
        with pytest.raises(tf.errors.InvalidArgumentError, match="at most 4"):
            loaded.signatures[name](windows=tf.constant(windows))


def test_second_export_is_version_2_and_uncalibrated_flags_nothing(tmp_path):
    keras.utils.set_random_seed(1)
    model = tiny_autoencoder()
    model.set_normalization([MEAN], [STD])
    model.threshold.assign(0.0)  # every positive score is over it
    first = export_series_model(model, tmp_path, "tiny")
    model.threshold.assign(float("nan"))
    second = export_series_model(model, tmp_path, "tiny")
    assert first == tmp_path / "tiny" / "1"
    assert second == tmp_path / "tiny" / "2"
    assert (second / "saved_model.pb").is_file()
    windows = raw_windows()

    calibrated = tf.saved_model.load(str(first)).signatures["anomaly_score"]
    assert calibrated(windows=tf.constant(windows))["is_anomaly"].numpy().all()

    out = tf.saved_model.load(str(second)).signatures["anomaly_score"](
        windows=tf.constant(windows)
    )
    assert np.all(np.isnan(out["threshold"].numpy()))
    assert np.all(np.isfinite(out["score"].numpy()))
    assert not out["is_anomaly"].numpy().any()
    metadata = json.loads((second / "assets.extra" / METADATA_FILE).read_text())
    assert math.isnan(metadata["window_threshold"])
    with pytest.raises(FileExistsError):
        export_series_model(model, tmp_path, "tiny", version=2)
