"""Tiny GAN and VAE (32x32, width 8), exported once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_gen.export import export_generator
from keras_gen.models import GAN, VAE
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder

GAN_LATENT = 16
VAE_LATENT = 8
SIZE = 32
BIN = Path(sys.executable).parent


def tiny_gan(seed: int = 0) -> GAN:
    return GAN(
        build_dcgan_generator(SIZE, latent_dim=GAN_LATENT, width=8, seed=seed),
        build_dcgan_discriminator(SIZE, width=8, seed=seed + 1),
        seed=seed,
    )


def tiny_vae(**kwargs) -> VAE:
    keras.utils.set_random_seed(0)
    return VAE(
        build_vae_encoder(SIZE, latent_dim=VAE_LATENT, width=8),
        build_vae_decoder(SIZE, latent_dim=VAE_LATENT, width=8),
        seed=0,
        **kwargs,
    )


def test_images(n: int = 6, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """uint8 colour gradients plus noise, `[n, size, size, 3]`."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    base = rng.uniform(0, 1, (n, 1, 1, 3)) * ramp[None, :, None, None]
    noise = rng.uniform(0, 0.3, (n, size, size, 3))
    return np.clip((base + noise) * 255, 0, 255).astype(np.uint8)


test_images.__test__ = False  # a helper, not a test


def run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command in a fresh process (no GPU, quiet TF); fail with its output."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="session")
def gan() -> GAN:
    return tiny_gan()


@pytest.fixture(scope="session")
def vae() -> VAE:
    return tiny_vae(likelihood="gaussian")


@pytest.fixture(scope="session")
def threshold(vae) -> float:
    """The VAE's anomaly threshold: the median score of `test_images(6)`."""
    from keras_gen.models.vae.vae import kl_divergence, reconstruction_nll

    x = test_images(6).astype("float32") / 255.0
    z_mean, z_log_var = vae.encode(x)
    nll = reconstruction_nll(x, vae.decoder(z_mean), vae.likelihood, vae.gaussian_sigma)
    return float(np.median(np.asarray(nll + kl_divergence(z_mean, z_log_var))))


@pytest.fixture(scope="session")
def repo(tmp_path_factory, gan, vae, threshold) -> Path:
    """A model repository with `gan/1` and `vae/1` (with a threshold)."""
    root = tmp_path_factory.mktemp("saved_models")
    export_generator(gan, root, "gan")
    export_generator(vae, root, "vae", anomaly_threshold=threshold)
    return root


@pytest.fixture(scope="session")
def loaded(repo):
    import tensorflow as tf

    return {
        "gan": tf.saved_model.load(str(repo / "gan" / "1")),
        "vae": tf.saved_model.load(str(repo / "vae" / "1")),
    }
