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


@pytest.fixture(scope="module")
def saved_vae(tmp_path_factory):
    """A barely trained 32px VAE saved as a run's `model.keras` (scores only)."""
    vae = VAE(
        build_vae_encoder(32, latent_dim=4, width=4),
        build_vae_decoder(32, latent_dim=4, width=4),
        likelihood="gaussian",
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    images = np.random.default_rng(0).uniform(size=(8, 32, 32, 3))
    vae.fit(images.astype("float32"), batch_size=8, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("run") / "model.keras"
    vae.save(path)
    return path


def _pngs(folder, count, seed):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = rng.integers(0, 255, (20, 24, 3), np.uint8)  # cropped, resized
        Image.fromarray(image).save(folder / f"{i}.png")


def test_folder_groups(tmp_path):
    files = [tmp_path / "a" / "1.png", tmp_path / "top.png", tmp_path / "b/c/2.png"]
    assert anomaly.folder_groups(files, tmp_path) == ["a", "", "b"]
    (tmp_path / "one.png").write_bytes(b"")
    assert anomaly.folder_groups([tmp_path / "one.png"], tmp_path / "one.png") == [""]


def test_fit_folder_then_score_folder(tmp_path, saved_vae):
    import csv

    _pngs(tmp_path / "normal", 10, seed=0)
    fit = anomaly.fit_folder(saved_vae.parent, tmp_path / "normal", "pixel", 0.2)
    assert fit.sidecar == saved_vae.with_name("model.anomaly.json")
    assert (fit.images, fit.score, fit.achieved_fpr) == (10, "pixel", 0.2)
    assert anomaly.read_sidecar(saved_vae)["threshold"] == fit.threshold

    _pngs(tmp_path / "mixed" / "rooms", 4, seed=1)
    _pngs(tmp_path / "mixed" / "noise", 3, seed=2)
    _pngs(tmp_path / "mixed", 1, seed=3)  # one image at the top
    out = tmp_path / "scores" / "scores.csv"
    result = anomaly.score_folder(
        saved_vae, tmp_path / "mixed", ["nelbo", "pixel"], out, normal="rooms"
    )
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["path", "group", "nelbo", "pixel", "is_anomaly"]
    assert sorted(r["group"] for r in rows) == [""] + ["noise"] * 3 + ["rooms"] * 4
    # The histogram and flags are of the calibrated score, not kinds[0].
    assert (result.count, result.score, result.threshold) == (8, "pixel", fit.threshold)
    assert {g: len(v) for g, v in result.groups.items()} == {
        "(top)": 1,
        "noise": 3,
        "rooms": 4,
    }
    for group, scores in result.groups.items():
        flags = [int(r["is_anomaly"]) for r in rows if (r["group"] or "(top)") == group]
        assert result.flagged[group] == pytest.approx(np.mean(flags))
        assert result.flagged[group] == pytest.approx(np.mean(scores > fit.threshold))
    assert set(result.roc) == {"(top)", "noise"}
    auc, tpr = result.roc["noise"]
    assert auc == pytest.approx(
        anomaly.roc_auc(result.groups["rooms"], result.groups["noise"])
    )
    assert 0.0 <= tpr <= 1.0
    for path in (result.histogram, result.roc_plot):
        assert path.parent == out.parent and path.stat().st_size > 1000


def test_score_folder_without_threshold_or_with_a_bad_normal(tmp_path, saved_vae):
    import csv

    _pngs(tmp_path / "data" / "a", 2, seed=0)
    model = tmp_path / "copy.keras"  # no sidecar beside this one
    model.write_bytes(saved_vae.read_bytes())
    out = tmp_path / "s.csv"
    result = anomaly.score_folder(model, tmp_path / "data", ["pixel"], out)
    assert list(next(csv.DictReader(out.open()))) == ["path", "group", "pixel"]
    assert result.threshold is None and result.flagged == {} and result.roc == {}
    assert result.roc_plot is None
    with pytest.raises(ValueError, match="'b' is not a sub-folder .* found: a"):
        anomaly.score_folder(model, tmp_path / "data", ["pixel"], out, normal="b")
    with pytest.raises(ValueError, match="no sub-folder besides 'a'"):
        anomaly.score_folder(model, tmp_path / "data", ["pixel"], out, normal="a")
