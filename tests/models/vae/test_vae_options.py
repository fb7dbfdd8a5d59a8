"""The VAE options of issue 8: each changes what it should, and survives saving."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.callbacks import (
    CyclicalKL,
    LatentDiagnostics,
    active_units,
    cyclical_kl_weight,
)
from keras_gen.models import VAE
from keras_gen.models.vae.networks import (
    build_residual_decoder,
    build_residual_encoder,
    build_vae_decoder,
    build_vae_encoder,
)
from keras_gen.models.vae.vae import free_bits_kl, kl_divergence, reconstruction_nll
from tests.helpers import run_model_saving_test
from tests.models.vae.test_vae import images


def tiny_vae(**kwargs):
    return VAE(
        build_vae_encoder(32, latent_dim=8, width=8),
        build_vae_decoder(32, latent_dim=8, width=8),
        seed=0,
        **kwargs,
    )


def test_beta_zero_is_the_reconstruction_loss_only():
    vae = tiny_vae(beta=0.0)
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = vae.evaluate(images(8), batch_size=8, verbose=0, return_dict=True)
    assert logs["kl_loss"] > 0  # there is a KL term, and it is left out
    assert logs["loss"] == pytest.approx(logs["reconstruction_loss"], rel=1e-6)


def test_free_bits_floor_the_kl_and_zero_its_gradient():
    mean = tf.Variable([[0.01, 2.0]])
    log_var = tf.Variable([[0.0, 0.0]])
    floor = 0.5
    with tf.GradientTape() as tape:
        kl = free_bits_kl(mean, log_var, floor)
    grad = tape.gradient(kl, mean).numpy()
    # Dim 0: KL = 0.5 * 0.01^2 < floor -> counts as the floor, no gradient.
    # Dim 1: KL = 2 > floor -> the true KL and its gradient (= mean).
    np.testing.assert_allclose(kl.numpy(), [floor + 2.0], rtol=1e-6)
    assert grad[0, 0] == 0.0
    assert grad[0, 1] == pytest.approx(2.0)
    no_floor = kl_divergence(mean, log_var).numpy()
    np.testing.assert_allclose(free_bits_kl(mean, log_var, 0.0).numpy(), no_floor)


def test_free_bits_enter_the_loss_but_not_the_logged_kl():
    x = images(8)
    plain = tiny_vae()
    floored = tiny_vae(free_bits=1.0)
    floored.set_weights(plain.get_weights())
    for vae in (plain, floored):
        vae.compile(optimizer=keras.optimizers.SGD(0.0))
    a = plain.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    b = floored.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    # Untrained posteriors are near the prior: every dimension is under the
    # floor of 1 nat, so the loss's KL part is latent_dim * 1.
    assert a["kl_loss"] == pytest.approx(b["kl_loss"], rel=1e-5)
    assert a["kl_loss"] < 8.0
    assert b["loss"] == pytest.approx(b["reconstruction_loss"] + 8.0, rel=1e-5)


def test_cyclical_schedule_values():
    assert cyclical_kl_weight(0, 100, 0.5) == 0.0
    assert cyclical_kl_weight(25, 100, 0.5) == 0.5
    assert cyclical_kl_weight(10, 100, 0.2) == 0.5
    assert cyclical_kl_weight(50, 100, 0.5) == 1.0
    assert cyclical_kl_weight(99, 100, 0.5) == 1.0
    assert cyclical_kl_weight(100, 100, 0.5) == 0.0  # the next cycle restarts
    assert cyclical_kl_weight(130, 100, 0.5) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="cycle_steps"):
        CyclicalKL(0)


def test_cyclical_callback_drives_kl_weight():
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(self.model.kl_weight.numpy()))

    vae.fit(
        images(8),
        batch_size=1,
        epochs=1,
        verbose=0,
        callbacks=[CyclicalKL(4, ratio=0.5), Record()],
    )
    assert seen == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]


def test_learned_sigma_is_a_trained_weight_that_moves():
    vae = tiny_vae(likelihood="gaussian", gaussian_sigma=0.5, learned_sigma="channel")
    assert vae.log_sigma.shape == (3,)
    assert any(v is vae.log_sigma for v in vae.trainable_variables)
    np.testing.assert_allclose(vae.sigma().numpy(), [0.5] * 3, rtol=1e-6)
    vae.compile(optimizer=keras.optimizers.Adam(5e-2))
    vae.fit(images(16), batch_size=8, epochs=3, verbose=0)
    # Residuals are far below 0.5, so the likelihood is maximised by a
    # smaller sigma: the learned value must go down (Adam: ~0.05 per step
    # in log-sigma, 6 steps).
    assert np.all(vae.sigma().numpy() < 0.42)
    with pytest.raises(ValueError, match="likelihood='gaussian'"):
        tiny_vae(learned_sigma="global")


def test_learned_sigma_nll_matches_the_fixed_formula():
    x = np.random.default_rng(0).uniform(size=(2, 4, 4, 3)).astype("float32")
    logits = np.zeros_like(x)
    fixed = reconstruction_nll(x, logits, "gaussian", 0.3).numpy()
    as_tensor = reconstruction_nll(x, logits, "gaussian", tf.constant([0.3] * 3))
    np.testing.assert_allclose(as_tensor.numpy(), fixed, rtol=1e-5)


@pytest.mark.parametrize("size", [64, 128])
def test_residual_networks(size):
    enc = build_residual_encoder(size, latent_dim=4, width=4)
    dec = build_residual_decoder(size, latent_dim=4, width=4)
    mean, log_var = enc(np.zeros((1, size, size, 3), "float32"))
    assert mean.shape == log_var.shape == (1, 4)
    assert dec(mean).shape == (1, size, size, 3)
    assert any(isinstance(layer, keras.layers.Add) for layer in dec.layers)


def test_active_units_counts_a_collapsed_setup():
    rng = np.random.default_rng(0)
    means = np.zeros((200, 6))
    means[:, :2] = rng.normal(size=(200, 2))  # two informative dimensions
    means[:, 2] = 0.05 * rng.normal(size=200)  # variance 0.0025: inactive
    means[:, 3:] = 3.0  # constant: collapsed to a point
    assert active_units(means) == 2
    assert active_units(means, threshold=0.001) == 3


def test_latent_diagnostics_logs_active_units_of_a_collapsed_encoder():
    vae = tiny_vae()
    # A zero mean head collapses every dimension: no active unit.
    head = vae.encoder.get_layer("z_mean")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    callback = LatentDiagnostics(images(16))
    callback.set_model(vae)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["active_units"] == 0.0
    kernel, bias = head.get_weights()
    rng = np.random.default_rng(0)
    # Three dims carry x. Scaled to the features' spread: their size depends
    # on the random initialisation (the test order picks it), and unscaled
    # weights left some dims under the 0.01 variance threshold on one order.
    features = vae.encoder(images(16))[0]  # z_mean with the zeroed head: 0
    assert float(np.abs(features).max()) == 0.0
    probe = keras.Model(vae.encoder.inputs, head.input)
    spread = float(np.std(np.asarray(probe(images(16))), axis=0).max()) + 1e-6
    kernel[:, :3] = rng.normal(size=(kernel.shape[0], 3)) / spread
    head.set_weights([kernel, bias])
    callback.on_epoch_end(1, logs)
    assert logs["active_units"] == 3.0


def test_validation_reports_bits_per_dim():
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(
        images(16), batch_size=8, epochs=1, verbose=0, validation_data=images(8)
    )
    logs = vae.evaluate(images(8), batch_size=8, verbose=0, return_dict=True)
    expected = (logs["reconstruction_loss"] + logs["kl_loss"]) / (
        32 * 32 * 3 * math.log(2.0)
    )
    assert logs["nelbo_bits_per_dim"] == pytest.approx(expected, rel=1e-5)
    assert "val_nelbo_bits_per_dim" in history.history


def test_denoising_vae_encodes_corrupted_inputs_in_training_only():
    vae = tiny_vae(denoising={"noise": "gaussian", "sigma": 0.3})
    seen = []
    encode = vae.encode

    def spy(images, training=False, labels=None):
        seen.append(np.asarray(images))
        return encode(images, training=training, labels=labels)

    vae.encode = spy
    # Eager steps, so the spy sees the values the encoder gets.
    vae.compile(optimizer=keras.optimizers.SGD(0.0), run_eagerly=True)
    x = images(8)
    vae.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)
    noisy = seen[-1]
    assert noisy.shape == x.shape and noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert 0.15 < np.std(noisy - x) < 0.3  # sigma 0.3, less after clipping
    seen.clear()
    vae.evaluate(x, batch_size=8, verbose=0)
    np.testing.assert_array_equal(seen[-1], x)  # validation sees clean images


def test_round_trip_keeps_the_new_options(tmp_path):
    vae = VAE(
        build_residual_encoder(32, latent_dim=4, width=4),
        build_residual_decoder(32, latent_dim=4, width=4),
        beta=0.5,
        likelihood="gaussian",
        learned_sigma="global",
        free_bits=0.25,
        denoising={"noise": "salt_pepper", "amount": 0.1},
        seed=1,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(images(8), batch_size=4, epochs=1, verbose=0)
    loaded = run_model_saving_test(
        vae, tmp_path, images(2), call=lambda m, x: m.reconstruct(x), atol=1e-6
    )
    assert loaded.learned_sigma == "global" and loaded.free_bits == 0.25
    assert loaded.denoising["noise"] == "salt_pepper"
    assert loaded.denoising["amount"] == 0.1
    assert float(loaded.sigma()) == pytest.approx(float(vae.sigma()))
    assert float(loaded.sigma()) != pytest.approx(0.1)  # it was trained


def conditional_vae(**kwargs):
    return VAE(
        build_vae_encoder(32, latent_dim=4, width=4, num_classes=2),
        build_vae_decoder(32, latent_dim=4, width=4, num_classes=2),
        class_names=["dark", "light"],
        seed=0,
        **kwargs,
    )


def test_conditional_vae_learns_the_class_and_round_trips(tmp_path):
    # Class 0: dark images, class 1: light ones; the label alone tells them
    # apart, so the decoder must use it.
    rng = np.random.default_rng(0)
    labels = np.tile(np.array([0, 1], "int32"), 16)
    x = np.where(labels[:, None, None, None] == 1, 0.85, 0.15) + rng.normal(
        0, 0.02, (32, 32, 32, 3)
    )
    x = np.clip(x, 0, 1).astype("float32")
    keras.utils.set_random_seed(0)
    # A KL weight of 4 makes the latents costly: the free label is the
    # cheaper way to carry the brightness.
    vae = conditional_vae(beta=4.0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(x, labels, batch_size=8, epochs=12, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # Same latents, different label: only the label can brighten them.
    dark = vae.generate(8, seed=0, labels="dark").mean()
    light = vae.generate(8, seed=0, labels=1).mean()
    assert light > dark + 0.1
    recon = np.asarray(vae.reconstruct(x[:4], labels=labels[:4]))
    assert np.abs(recon - x[:4]).mean() < 0.2
    with pytest.raises(ValueError, match="needs labels"):
        vae.encode(x[:2])
    with pytest.raises(ValueError, match="unknown class"):
        vae.generate(2, seed=0, labels="grey")
    loaded = run_model_saving_test(vae, tmp_path, name="cvae.keras")
    assert loaded.class_names == ["dark", "light"] and loaded.num_classes == 2
    np.testing.assert_allclose(
        loaded.generate(2, seed=3, labels=1),
        vae.generate(2, seed=3, labels=1),
        atol=1e-6,
    )


def test_conditional_vae_needs_matching_networks():
    with pytest.raises(ValueError, match="class_names"):
        VAE(
            build_vae_encoder(32, 4, 4),
            build_vae_decoder(32, 4, 4, num_classes=2),
            class_names=["a", "b"],
        )
    with pytest.raises(ValueError, match="class_names"):
        VAE(
            build_vae_encoder(32, 4, 4, num_classes=2),
            build_vae_decoder(32, 4, 4, num_classes=2),
        )
