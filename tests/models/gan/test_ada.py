"""Adaptive augmentation: p follows D's overfitting, is saved, resumed, and applied."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.models import GAN
from keras_gen.models.gan.ada import AdaptiveAugmentProbability
from keras_gen.models.gan.augment import diff_augment
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from tests.helpers import run_model_saving_test


def ada_gan(**kwargs):
    kwargs.setdefault("augment", "translation,cutout")
    gan = GAN(
        build_dcgan_generator(32, latent_dim=8, width=8, seed=1),
        build_dcgan_discriminator(32, width=8, seed=2),
        loss="hinge",
        seed=3,
        **kwargs,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
    )
    return gan


def tiny_set(n=8):
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, 32, 32, 3)).astype("float32")


def test_observe_moves_p_by_the_images_seen_every_interval():
    ada = AdaptiveAugmentProbability(target=0.6, interval=2, speed_kimg=0.1)
    real = keras.ops.ones((10, 1))  # r_t = 1 > 0.6
    assert float(ada.observe(real)) == 0.0  # first of two steps: no change
    assert float(ada.observe(real)) == pytest.approx(20 / 100)  # 20 images
    assert float(ada.seen) == 0.0 and float(ada.steps) == 0.0  # reset
    fake_like = -keras.ops.ones((10, 1))  # r_t = -1 < 0.6: p falls
    ada.observe(fake_like)
    assert float(ada.observe(fake_like)) == pytest.approx(0.0, abs=1e-7)
    ada.observe(fake_like)
    assert float(ada.observe(fake_like)) == 0.0  # clipped at 0


def test_observe_uses_the_loss_boundary():
    ada = AdaptiveAugmentProbability(interval=1, speed_kimg=0.01)
    # Logits 0.3: real for a boundary of 0, fake for LSGAN's 0.5.
    assert float(ada.observe(keras.ops.full((4, 1), 0.3), boundary=0.0)) > 0
    assert float(ada.observe(keras.ops.full((4, 1), 0.3), boundary=0.5)) == 0.0


def test_p_rises_when_the_discriminator_overfits_a_tiny_set():
    gan = ada_gan(ada_interval=1, ada_speed_kimg=1.0)
    history = gan.fit(tiny_set(8), batch_size=8, epochs=60, verbose=0)
    p = history.history["augment_p"]
    assert p[0] < p[-1], p
    assert p[-1] > 0.1
    # Logged p is the model's p.
    assert p[-1] == pytest.approx(float(gan.ada.p.value))


def test_fixed_p_has_no_adaptive_state_and_logs_p():
    gan = ada_gan(augment_p=0.3)
    assert gan.ada is None
    history = gan.fit(tiny_set(8), batch_size=8, epochs=1, verbose=0)
    assert history.history["augment_p"] == [pytest.approx(0.3)]


@pytest.mark.parametrize("bad", [1.5, -0.1, "sometimes"])
def test_bad_p_is_rejected(bad):
    with pytest.raises(ValueError, match="augment_p"):
        ada_gan(augment_p=bad)


def test_p_zero_is_identity_and_p_one_augments_every_example():
    images = tf.constant(tiny_set(64))
    seeds = keras.random.SeedGenerator(0)
    out = diff_augment(images, ("cutout",), seeds, p=tf.constant(0.0))
    np.testing.assert_array_equal(out.numpy(), images.numpy())
    out = diff_augment(images, ("cutout",), seeds, p=1.0)
    changed = np.any(out.numpy() != images.numpy(), axis=(1, 2, 3))
    assert changed.all()


def test_p_half_augments_about_half_the_examples():
    images = tf.constant(np.ones((2000, 8, 8, 3), np.float32))
    seeds = keras.random.SeedGenerator(0)
    out = diff_augment(images, ("cutout",), seeds, p=tf.constant(0.5))
    changed = np.any(out.numpy() != 1.0, axis=(1, 2, 3)).mean()
    assert 0.45 < changed < 0.55


def test_p_is_saved_and_resumed(tmp_path):
    gan = ada_gan(ada_interval=3, ada_speed_kimg=1.0)
    gan.fit(tiny_set(8), batch_size=8, epochs=10, verbose=0)
    state = [float(v.value) for v in gan.ada.weights]
    assert state[0] > 0  # p moved
    loaded = run_model_saving_test(gan, tmp_path, name="gan.keras")
    assert [float(v.value) for v in loaded.ada.weights] == state
    gan.save_weights(tmp_path / "gan.weights.h5")
    twin = ada_gan(ada_interval=3, ada_speed_kimg=1.0)
    twin.load_weights(tmp_path / "gan.weights.h5")
    assert [float(v.value) for v in twin.ada.weights] == state
    # A resumed run goes on from p, and from the partial interval's sums.
    more = loaded.fit(tiny_set(8), batch_size=8, epochs=1, verbose=0)
    assert abs(more.history["augment_p"][0] - state[0]) <= 3 * 8 / 1000 + 1e-6
    assert loaded.get_config()["augment_p"] == "adaptive"


def test_models_saved_before_ada_keep_always_on_augmentation():
    gan = ada_gan()
    config = gan.get_config()
    for key in ("augment_p", "ada_target", "ada_interval", "ada_speed_kimg"):
        config.pop(key)
    old = GAN.from_config(config)
    assert old.augment_p == 1.0 and old.ada is None


def test_config_keys_reach_the_model():
    from keras_gen.config import config_from_dict
    from keras_gen.trainer import build_model

    model = {"image_size": 32, "width": 8, "latent_dim": 8, "augment": "cutout"}
    fixed = build_model(config_from_dict({"model": {**model, "augment_p": 0.25}}))
    assert fixed.augment_p == 0.25 and fixed.ada is None
    adaptive = build_model(
        config_from_dict({"model": {**model, "ada_interval": 2, "ada_target": 0.7}})
    )
    assert adaptive.ada.interval == 2 and adaptive.ada.target == 0.7
    assert adaptive.ada.p.dtype == "float32"  # whatever the precision policy
