"""Series autoencoders: saving, normalisation inside the model, scoring, training."""

import math

import keras
import numpy as np
import pytest

from keras_gen.models.series import (
    SeriesAutoencoder,
    SeriesVAE,
    build_series_decoder,
    build_series_encoder,
)
from tests.helpers import run_model_saving_test

WINDOW = 16
LATENT = 4
FILTERS = 4


def tiny_model(kind="autoencoder", channels=1, **kwargs):
    variational = kind == "vae"
    encoder = build_series_encoder(
        WINDOW, channels, LATENT, FILTERS, variational=variational
    )
    decoder = build_series_decoder(WINDOW, channels, LATENT, FILTERS)
    cls = SeriesVAE if variational else SeriesAutoencoder
    return cls(encoder, decoder, seed=0, **kwargs)


def sine(length=600, period=25.0, channels=1):
    t = np.arange(length, dtype=np.float32)
    waves = [np.sin(2 * np.pi * t / period + c) for c in range(channels)]
    return np.stack(waves, axis=-1).astype(np.float32)


def windows_of(values):
    return np.stack([values[i : i + WINDOW] for i in range(len(values) - WINDOW + 1)])


def assert_saving_round_trip(model, inputs, tmp_path):
    """Save `model` as `.keras`, load it in a fresh object and compare.

    After keras-hub's `run_model_saving_test`: same class, same config, same
    outputs; here also the series state (normalisation, threshold, scoring
    settings). Returns the loaded model.
    """
    restored = run_model_saving_test(model, tmp_path, inputs)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.window_scores(inputs)),
        keras.ops.convert_to_numpy(model.window_scores(inputs)),
    )
    for name in ("norm_mean", "norm_std", "threshold"):
        np.testing.assert_array_equal(
            getattr(restored, name).numpy(), getattr(model, name).numpy(), name
        )
    assert restored.score_steps == model.score_steps
    assert restored.scoring == model.scoring
    assert (restored.window, restored.channels) == (model.window, model.channels)
    if isinstance(model, SeriesVAE):
        assert restored.beta == model.beta
        assert restored.free_bits == model.free_bits
        assert restored.log_sigma.numpy() == model.log_sigma.numpy()
    return restored


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_keras_saving_round_trip(kind, tmp_path):
    keras.utils.set_random_seed(0)
    extra = {"beta": 0.5, "free_bits": 0.1} if kind == "vae" else {}
    scoring = {"smoothing": 4, "history": 200, "min_history": 20}
    model = tiny_model(kind, channels=2, score_steps=3, scoring=scoring, **extra)
    model.set_normalization([5.0, -1.0], [2.0, 0.5])
    model.threshold.assign(0.75)
    model.compile()
    data = sine(120, channels=2) * [2.0, 0.5] + [5.0, -1.0]
    model.fit(windows_of(data), batch_size=32, epochs=1, verbose=0)
    restored = assert_saving_round_trip(model, windows_of(data)[:10], tmp_path)
    np.testing.assert_array_equal(restored.norm_mean.numpy(), [5.0, -1.0])
    np.testing.assert_array_equal(restored.norm_std.numpy(), [2.0, 0.5])
    assert restored.threshold.numpy() == np.float32(0.75)
    assert restored.score_steps == 3
    assert restored.scoring == scoring
    if kind == "vae":
        assert (restored.beta, restored.free_bits) == (0.5, 0.1)


def test_uncalibrated_threshold_survives_saving(tmp_path):
    model = tiny_model()
    assert math.isnan(model.threshold.numpy())
    restored = assert_saving_round_trip(model, windows_of(sine(40)), tmp_path)
    assert math.isnan(restored.threshold.numpy())


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_normalisation_lives_in_the_model(kind):
    keras.utils.set_random_seed(1)
    mean = np.array([3.0, -20.0], np.float32)
    std = np.array([0.5, 4.0], np.float32)
    raw = windows_of(sine(60, channels=2) * std + mean)[:20]
    scaled = (raw - mean) / std

    model = tiny_model(kind, channels=2)
    model.set_normalization(mean, std)
    unit = tiny_model(kind, channels=2)
    unit.set_weights(model.get_weights())
    unit.set_normalization(np.zeros(2), np.ones(2))
    np.testing.assert_array_equal(unit.norm_mean.numpy(), [0.0, 0.0])

    scores = keras.ops.convert_to_numpy(model.window_scores(raw))
    np.testing.assert_allclose(
        scores, keras.ops.convert_to_numpy(unit.window_scores(scaled)), rtol=1e-5
    )
    # The reconstruction comes back in raw units.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(raw)),
        keras.ops.convert_to_numpy(unit(scaled)) * std + mean,
        rtol=1e-5,
        atol=1e-4,
    )
    # Not trivially equal: the unnormalised model scores raw windows otherwise.
    unscaled = keras.ops.convert_to_numpy(unit.window_scores(raw))
    assert not np.allclose(scores, unscaled, rtol=1e-2)


def test_training_on_a_sine_lowers_the_loss_and_a_spike_scores_high():
    keras.utils.set_random_seed(2)
    model = tiny_model(score_steps=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    windows = windows_of(sine(600))
    history = model.fit(windows, batch_size=32, epochs=8, verbose=0, shuffle=True)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses

    clean = windows[::37]
    spiked = clean.copy()
    spiked[:, -1, 0] += 6.0  # a spike in the last step, 6x the amplitude
    clean_scores = keras.ops.convert_to_numpy(model.window_scores(clean))
    spiked_scores = keras.ops.convert_to_numpy(model.window_scores(spiked))
    assert np.all(np.isfinite(clean_scores))
    assert np.all(spiked_scores > 10 * clean_scores), (clean_scores, spiked_scores)
    assert spiked_scores.min() > 4.0  # most of the (6)^2 error remains
    # A spike before the scored step does not count with score_steps=1...
    early = clean.copy()
    early[:, 0, 0] += 6.0
    early_scores = keras.ops.convert_to_numpy(model.window_scores(early))
    assert np.median(early_scores) < 0.1 * np.median(spiked_scores)


def test_score_steps_average_the_last_steps():
    keras.utils.set_random_seed(3)
    windows = windows_of(sine(40))
    one = tiny_model(score_steps=1)
    four = tiny_model(score_steps=4)
    four.set_weights(one.get_weights())
    terms, _, _ = one.step_terms(one.normalize(windows), training=False)
    terms = keras.ops.convert_to_numpy(terms)
    assert terms.shape == (len(windows), WINDOW)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(one.window_scores(windows)), terms[:, -1], rtol=1e-6
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(four.window_scores(windows)),
        terms[:, -4:].mean(axis=1),
        rtol=1e-5,
    )


@pytest.mark.parametrize("score_steps", [0, -1, WINDOW + 1])
def test_score_steps_out_of_range_raises(score_steps):
    with pytest.raises(ValueError, match="score_steps"):
        tiny_model(score_steps=score_steps)
    with pytest.raises(ValueError, match="score_steps"):
        tiny_model("vae", score_steps=score_steps)
    assert tiny_model(score_steps=WINDOW).score_steps == WINDOW


@pytest.mark.parametrize("window", [30, 4, 18])
def test_window_not_a_multiple_of_4_raises(window):
    with pytest.raises(ValueError, match="multiple of 4"):
        build_series_encoder(window, 1, LATENT, FILTERS)
    with pytest.raises(ValueError, match="multiple of 4"):
        build_series_decoder(window, 1, LATENT, FILTERS)


def test_vae_rejects_negative_beta_or_free_bits():
    with pytest.raises(ValueError, match="beta"):
        tiny_model("vae", beta=-1.0)
    with pytest.raises(ValueError, match="free_bits"):
        tiny_model("vae", free_bits=-0.5)


def test_vae_logs_kl_and_reconstruction_and_scores_finite():
    keras.utils.set_random_seed(4)
    model = tiny_model("vae", beta=1.0, score_steps=2)
    model.compile()
    windows = windows_of(sine(200))
    history = model.fit(windows, batch_size=32, epochs=2, verbose=0)
    logs = history.history
    assert set(logs) == {"loss", "reconstruction_loss", "kl_loss"}
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        assert len(logs[name]) == 2
        assert all(math.isfinite(v) for v in logs[name]), name
    assert all(v >= 0 for v in logs["kl_loss"])
    scores = keras.ops.convert_to_numpy(model.window_scores(windows))
    assert scores.shape == (len(windows),)
    assert np.all(np.isfinite(scores))
    evaluation = model.evaluate(windows, batch_size=64, verbose=0, return_dict=True)
    assert set(evaluation) == {"loss", "reconstruction_loss", "kl_loss"}


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_loaded_model_trains_without_compile(kind, tmp_path):
    keras.utils.set_random_seed(5)
    model = tiny_model(kind)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    windows = windows_of(sine(120))
    model.fit(windows, batch_size=32, epochs=1, verbose=0)
    path = tmp_path / "trained.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.compiled
    assert isinstance(restored.optimizer, keras.optimizers.Adam)
    assert float(restored.optimizer.learning_rate) == pytest.approx(2e-3)
    # The optimizer state came back too (one epoch of 4 batches).
    assert int(restored.optimizer.iterations.numpy()) == 4
    before = [w.copy() for w in restored.get_weights()]
    history = restored.fit(windows, batch_size=32, epochs=1, verbose=0)
    assert math.isfinite(history.history["loss"][0])
    assert int(restored.optimizer.iterations.numpy()) == 8
    after = restored.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


def test_vae_scores_stay_non_negative_when_sigma_is_small():
    import numpy as np

    from keras_gen.models.series import (
        SeriesVAE,
        build_series_decoder,
        build_series_encoder,
    )

    vae = SeriesVAE(
        build_series_encoder(16, 1, 4, filters=4, variational=True),
        build_series_decoder(16, 1, 4, filters=4),
        seed=0,
    )
    vae.log_sigma.assign(-6.0)  # a very confident likelihood: NLL < 0
    windows = np.zeros((5, 16, 1), np.float32)
    scores = np.asarray(vae.window_scores(windows))
    assert np.all(scores >= 0)
    terms, per_example, _ = vae.step_terms(vae.normalize(windows), training=False)
    # The training loss keeps the full NLL: the score plus its constant.
    constant = 16 * (-6.0 + 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(
        np.asarray(per_example), np.asarray(terms).sum(-1) + constant, rtol=1e-4
    )
