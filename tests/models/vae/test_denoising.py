"""Corruptions, the denoising autoencoder and tiled denoising of any size."""

import keras
import numpy as np
import pytest

from keras_gen.denoise import denoise_array
from keras_gen.models import VAE, DenoisingAutoencoder
from keras_gen.models.vae.corruption import corrupt, normalize_spec
from keras_gen.models.vae.dae import build_dae_network
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder
from tests.helpers import run_model_saving_test
from tests.models.vae.test_vae import images


def test_gaussian_noise_has_the_requested_sigma():
    x = np.full((4, 32, 32, 3), 0.5, "float32")
    y = np.asarray(
        corrupt(x, normalize_spec({"sigma": 0.1}), keras.random.SeedGenerator(0))
    )
    assert np.std(y - x) == pytest.approx(0.1, rel=0.05)
    ranged = normalize_spec({"sigma": [0.0, 0.2]})
    y = np.asarray(corrupt(x, ranged, keras.random.SeedGenerator(0)))
    per_image = np.std(y - x, axis=(1, 2, 3))
    assert per_image.max() < 0.21 and per_image.std() > 0.01  # differs per image


def test_salt_pepper_and_mask():
    x = np.full((8, 32, 32, 3), 0.5, "float32")
    sp = np.asarray(
        corrupt(
            x,
            normalize_spec({"noise": "salt_pepper", "amount": 0.2}),
            keras.random.SeedGenerator(0),
        )
    )
    changed = sp != 0.5
    assert changed.mean() == pytest.approx(0.2, abs=0.02)
    assert set(np.unique(sp[changed])) <= {0.0, 1.0}
    # All channels of a pixel change together.
    assert np.all(changed.all(axis=-1) == changed.any(axis=-1))
    masked = np.asarray(
        corrupt(
            x,
            normalize_spec({"noise": "mask", "mask_size": 0.25}),
            keras.random.SeedGenerator(0),
        )
    )
    zeros = (masked == 0).all(axis=-1)
    assert np.all(zeros.sum(axis=(1, 2)) == 8 * 8)  # one 8x8 square each
    with pytest.raises(ValueError, match="mask_size"):
        normalize_spec({"noise": "mask", "mask_size": 2})


def test_dae_learns_to_denoise_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    dae = DenoisingAutoencoder(build_dae_network(8, 1), {"sigma": 0.2}, seed=0)
    dae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = images(32)
    noisy = np.asarray(
        corrupt(x, normalize_spec({"sigma": 0.2}), keras.random.SeedGenerator(9))
    )
    before = np.mean((np.asarray(dae.denoise(noisy)) - x) ** 2)
    dae.fit(x, batch_size=8, epochs=30, verbose=0)
    after = np.mean((np.asarray(dae.denoise(noisy)) - x) ** 2)
    noisy_error = np.mean((noisy - x) ** 2)
    assert after < 0.75 * noisy_error and after < before
    loaded = run_model_saving_test(
        dae, tmp_path, noisy, call=lambda m, x: m.denoise(x), atol=1e-6
    )
    assert loaded.denoising == dae.denoising and loaded.residual


class _Identity:
    """Stands in for a fixed-size model: checks tiles and returns them."""

    def __init__(self, side):
        images = keras.Input((side, side, 3))
        self.encoder = keras.Model(images, keras.layers.Identity()(images))
        self.calls = 0

    def reconstruct(self, batch):
        assert batch.shape[1:3] == self.encoder.inputs[0].shape[1:3]
        self.calls += 1
        return batch


@pytest.mark.parametrize("shape", [(32, 32), (50, 77), (20, 45), (64, 32)])
def test_tiling_covers_any_size_exactly(shape):
    image = np.random.default_rng(0).uniform(size=(*shape, 3)).astype("float32")
    out = denoise_array(_Identity(32), image)
    assert out.shape == image.shape
    np.testing.assert_allclose(out, image, atol=1e-6)


def test_fully_convolutional_model_denoises_odd_sizes_in_one_pass():
    dae = DenoisingAutoencoder(build_dae_network(4, 1), {"sigma": 0.1}, seed=0)
    image = np.random.default_rng(0).uniform(size=(33, 47, 3)).astype("float32")
    out = denoise_array(dae, image)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1


def test_vae_exports_denoise_signature_when_trained_for_it():
    from keras_gen.export import signature_names

    vae = VAE(
        build_vae_encoder(32, 4, 4),
        build_vae_decoder(32, 4, 4),
        denoising={"noise": "gaussian", "sigma": [0.05, 0.2]},
    )
    assert "denoise" in signature_names(vae)
    plain = VAE(build_vae_encoder(32, 4, 4), build_vae_decoder(32, 4, 4))
    assert "denoise" not in signature_names(plain)
