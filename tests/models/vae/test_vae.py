import keras
import numpy as np
import pytest

from keras_gen.models import VAE
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder
from keras_gen.models.vae.vae import kl_divergence, reconstruction_nll
from tests.helpers import run_model_saving_test


def tiny_vae(**kwargs):
    return VAE(
        build_vae_encoder(32, latent_dim=8, width=8),
        build_vae_decoder(32, latent_dim=8, width=8),
        seed=0,
        **kwargs,
    )


def images(n=16):
    # Smooth images a small VAE can actually learn: random colour gradients.
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 32, dtype="float32")
    base = rng.uniform(0.1, 0.9, (n, 1, 1, 3)).astype("float32")
    out = base + 0.3 * ramp[None, :, None, None] - 0.15
    return np.clip(np.broadcast_to(out, (n, 32, 32, 3)), 0, 1).astype("float32")


@pytest.mark.parametrize("size", [32, 64, 128])
def test_network_shapes(size):
    enc = build_vae_encoder(size, latent_dim=6, width=4)
    dec = build_vae_decoder(size, latent_dim=6, width=4)
    mean, log_var = enc(np.zeros((2, size, size, 3), "float32"))
    assert mean.shape == log_var.shape == (2, 6)
    assert dec(mean).shape == (2, size, size, 3)


def test_kl_matches_closed_form():
    mean = np.array([[0.5, -1.0]], "float32")
    log_var = np.array([[np.log(2.0), 0.0]], "float32")
    expected = 0.5 * ((2.0 + 0.25 - 1 - np.log(2.0)) + (1.0 + 1.0 - 1 - 0.0))
    np.testing.assert_allclose(
        kl_divergence(mean, log_var).numpy(), [expected], rtol=1e-6
    )
    assert kl_divergence(np.zeros((1, 3)), np.zeros((1, 3))).numpy()[0] == 0.0


def test_reconstruction_nll_matches_numpy():
    x = np.array([[[[0.0, 0.5, 1.0]]]], "float32")
    logits = np.array([[[[-1.0, 0.0, 2.0]]]], "float32")
    p = 1 / (1 + np.exp(-logits))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum()
    np.testing.assert_allclose(
        reconstruction_nll(x, logits, "bernoulli", 0.1).numpy(), [bce], rtol=1e-5
    )
    sigma = 0.2
    gauss = (
        (x - p) ** 2 / (2 * sigma**2) + np.log(sigma) + 0.5 * np.log(2 * np.pi)
    ).sum()
    np.testing.assert_allclose(
        reconstruction_nll(x, logits, "gaussian", sigma).numpy(), [gauss], rtol=1e-5
    )
    with pytest.raises(ValueError, match="bernoulli, gaussian"):
        tiny_vae(likelihood="laplace")


def test_fit_lowers_the_loss_and_logs_terms():
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    x = images(32)
    error_before = float(np.mean((np.asarray(vae.reconstruct(x)) - x) ** 2))
    history = vae.fit(x, batch_size=8, epochs=20, verbose=0)
    assert set(history.history) == {
        "loss",
        "reconstruction_loss",
        "kl_loss",
        "nelbo_bits_per_dim",
    }
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    # Most of the cross-entropy is the targets' own entropy; the pixel error
    # shows the learning.
    error_after = float(np.mean((np.asarray(vae.reconstruct(x)) - x) ** 2))
    assert error_after < 0.85 * error_before
    np.testing.assert_allclose(
        np.array(history.history["reconstruction_loss"]) + history.history["kl_loss"],
        losses,
        rtol=1e-4,
    )


def test_kl_weight_scales_the_kl_term():
    vae = tiny_vae(beta=4.0)
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    x = images(8)
    full = vae.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    vae.kl_weight.assign(0.0)
    none = vae.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    assert none["loss"] == pytest.approx(none["reconstruction_loss"], rel=1e-5)
    assert full["loss"] == pytest.approx(
        full["reconstruction_loss"] + 4.0 * full["kl_loss"], rel=1e-4
    )


def test_methods_and_value_range():
    vae = tiny_vae()
    x = images(4)
    mean, log_var = vae.encode(x)
    assert mean.shape == (4, 8)
    recon = np.asarray(vae.reconstruct(x))
    assert recon.shape == x.shape and recon.min() >= 0 and recon.max() <= 1
    samples = vae.sample(3, seed=1)
    assert samples.shape == (3, 32, 32, 3)
    np.testing.assert_allclose(samples[1], vae.sample(1, seed=2)[0], atol=1e-6)


def test_keras_round_trip(tmp_path):
    vae = tiny_vae(beta=2.0, likelihood="gaussian", gaussian_sigma=0.2)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(images(), batch_size=8, epochs=1, verbose=0)
    loaded = run_model_saving_test(
        vae, tmp_path, images(4), call=lambda m, x: m.reconstruct(x)
    )
    assert (loaded.beta, loaded.likelihood, loaded.gaussian_sigma) == (
        2.0,
        "gaussian",
        0.2,
    )
    assert int(loaded.optimizer.iterations) == 2
    loaded.fit(images(), batch_size=8, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 4
