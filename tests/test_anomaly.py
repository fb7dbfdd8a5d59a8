"""Anomaly scores, threshold calibration and ROC helpers."""

import json

import keras
import numpy as np
import pytest

from keras_gen import anomaly
from keras_gen.models import VAE
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder


@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.2])
def test_threshold_gives_the_requested_fpr_on_the_calibration_data(fpr):
    scores = np.random.default_rng(0).gamma(2.0, size=1000)
    threshold = anomaly.fit_threshold(scores, fpr)
    achieved = np.mean(scores > threshold)
    assert abs(achieved - fpr) <= 1.0 / len(scores)
    assert achieved <= fpr  # never more false positives than asked


def test_threshold_rejects_bad_input():
    with pytest.raises(ValueError, match="--fpr"):
        anomaly.fit_threshold(np.arange(10.0), 1.5)
    with pytest.raises(ValueError, match="at least 2"):
        anomaly.fit_threshold(np.array([1.0]), 0.05)
    with pytest.raises(ValueError, match="NaN"):
        anomaly.fit_threshold(np.array([1.0, np.nan]), 0.05)


def test_roc_auc_and_tpr_on_known_cases():
    normal = np.arange(100.0)
    assert anomaly.roc_auc(normal, normal + 1000) == 1.0
    assert anomaly.roc_auc(normal, normal - 1000) == 0.0
    assert anomaly.roc_auc(normal, normal.copy()) == pytest.approx(0.5)
    # One anomaly above 95 of 100 normals and below the others: AUC 0.95.
    assert anomaly.roc_auc(normal, np.array([94.5])) == pytest.approx(0.95)
    assert anomaly.tpr_at_fpr(normal, np.array([10.0, 200.0, 300.0]), 0.05) == (
        pytest.approx(2 / 3)
    )
    fpr, tpr = anomaly.roc_curve(normal, normal + 1000)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    # Area under the stepwise curve equals the rank statistic.
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(0.7, size=60)
    fpr, tpr = anomaly.roc_curve(a, b)
    assert np.trapezoid(tpr, fpr) == pytest.approx(anomaly.roc_auc(a, b), abs=1e-9)


def test_scores_rank_noise_above_the_training_images(tmp_path):
    vae = VAE(
        build_vae_encoder(32, latent_dim=8, width=8),
        build_vae_decoder(32, latent_dim=8, width=8),
        likelihood="gaussian",
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    ramp = np.linspace(0.2, 0.8, 32, dtype="float32")
    rng = np.random.default_rng(0)
    smooth = np.clip(
        rng.uniform(-0.2, 0.2, (64, 1, 1, 3)) + ramp[None, :, None, None], 0, 1
    ) * np.ones((64, 32, 32, 3), "float32")
    smooth = smooth.astype("float32")
    vae.fit(smooth, batch_size=16, epochs=4, verbose=0)
    noise = rng.uniform(size=(16, 32, 32, 3)).astype("float32")
    normal = anomaly.compute_scores(vae, smooth[:16])
    odd = anomaly.compute_scores(vae, noise)
    assert set(normal) == set(anomaly.SCORES)
    # Not `complexity`: uniform noise is also maximally complex for PNG, the
    # case that score is designed to discount.
    for kind in ("nelbo", "pixel", "feature"):
        assert normal[kind].shape == (16,)
        assert anomaly.roc_auc(normal[kind], odd[kind]) > 0.9, kind
    np.testing.assert_allclose(
        normal["nelbo"], np.asarray(vae.negative_elbo(smooth[:16])), rtol=1e-5
    )
    with pytest.raises(ValueError, match=r"\[N, 32, 32, C\]"):
        anomaly.compute_scores(vae, np.zeros((2, 16, 16, 3)))
    with pytest.raises(ValueError, match="nelbo, pixel, feature, complexity"):
        anomaly.compute_scores(vae, smooth[:2], ["elbo"])


def test_png_complexity_orders_flat_below_noisy_images():
    flat = np.full((1, 32, 32, 3), 120, np.uint8)
    noisy = np.random.default_rng(0).integers(0, 255, (1, 32, 32, 3), np.uint8)
    flat_bits, noisy_bits = anomaly.png_bits_per_dim(np.concatenate([flat, noisy]))
    assert flat_bits < 0.5 < 7.0 < noisy_bits


def test_sidecar_round_trip_and_bad_file(tmp_path):
    model = tmp_path / "model.keras"
    path = anomaly.write_sidecar(model, "nelbo", 12.5, 0.05, {"images": 10})
    assert path.name == "model.anomaly.json"
    assert anomaly.read_sidecar(model)["threshold"] == 12.5
    path.write_text(json.dumps({"score": "nelbo"}))
    with pytest.raises(ValueError, match="anomaly fit"):
        anomaly.read_sidecar(model)
    assert anomaly.read_sidecar(tmp_path / "other.keras") is None
