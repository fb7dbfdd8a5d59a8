"""AC-GAN class head: outputs, losses, training signal and config.

Its `.keras` round trip is in test_fastgan.py (conditional FastGAN + head).
"""

import keras
import numpy as np
import pytest

from keras_gen.config import ConfigError, load_config
from keras_gen.models import GAN
from keras_gen.models.factory import GAN_ARCHITECTURES, build_model

CLASSES = 3


def coloured(n=24, size=32):
    """Class k: noisy images of colour k, so the class is easy to read."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % CLASSES
    colours = np.eye(3, dtype="float32")[labels] * 1.6 - 0.8
    images = colours[:, None, None, :] + rng.normal(0, 0.1, (n, size, size, 3))
    return np.clip(images, -1, 1).astype("float32"), labels


def acgan(architecture="dcgan", weight=1.0):
    keras.utils.set_random_seed(0)
    build_g, build_d = GAN_ARCHITECTURES[architecture]
    return GAN(
        build_g(32, 16, 8, num_classes=CLASSES, seed=1),
        build_d(32, 8, num_classes=CLASSES, seed=2, class_head=True),
        loss="hinge",
        class_loss_weight=weight,
        num_classes=CLASSES,
        seed=3,
    )


@pytest.mark.parametrize("architecture", sorted(GAN_ARCHITECTURES))
def test_every_discriminator_gets_class_logits(architecture):
    model = acgan(architecture)
    images, labels = coloured(4)
    out = model.discriminate(images, labels)
    assert out["logits"].shape == (4, 1)
    assert out["class_logits"].shape == (4, CLASSES)
    assert model.auxiliary_classifier
    assert model.self_supervised == (architecture == "fastgan")
    # A plain dense head even beside spectral norm: the class logits need a
    # free scale (under spectral norm the class loss stuck near chance).
    head = model.discriminator.get_layer("class_logits")
    assert type(head) is keras.layers.Dense


def test_class_head_needs_classes():
    build_g, build_d = GAN_ARCHITECTURES["dcgan"]
    with pytest.raises(ValueError, match="num_classes"):
        build_d(32, 8, class_head=True)


def test_discriminator_learns_the_classes_and_the_generator_is_told():
    model = acgan()
    model.compile(
        d_optimizer=keras.optimizers.Adam(2e-3, 0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, 0.5),
    )
    images, labels = coloured()
    history = model.fit(images, labels, batch_size=12, epochs=15, verbose=0)
    d_class = history.history["d_class_loss"]
    # Chance is log(3) = 1.10; the colours make the classes easy for D.
    assert d_class[0] > 0.8 and d_class[-1] < 0.3, d_class
    assert "g_class_loss" in history.history
    # The generator's class loss is part of its loss: its gradient reaches G.
    g_class = history.history["g_class_loss"]
    assert g_class[-1] < g_class[0], g_class


def test_class_loss_weight_zero_leaves_the_generator_loss_unchanged():
    images, labels = coloured(12)
    losses = []
    for weight in (0.0, 1.0):
        model = acgan(weight=weight)
        model.compile(
            d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0)
        )
        logs = model.evaluate(
            images, labels, batch_size=12, verbose=0, return_dict=True
        )
        losses.append(logs)
    # test_step reports the adversarial generator loss and the class loss apart.
    assert losses[0]["g_loss"] == pytest.approx(losses[1]["g_loss"], rel=1e-6)
    assert losses[1]["g_class_loss"] > 0


def test_config_turns_the_head_on_and_needs_labels():
    cfg = load_config(
        "training/configs/smoke_gan.yaml", overrides=["model.class_loss_weight=0.5"]
    )
    with pytest.raises(ConfigError, match="data.labels"):
        build_model(cfg)
    model = build_model(cfg, class_names=["a", "b", "c"])
    assert model.auxiliary_classifier and model.class_loss_weight == 0.5
    plain = load_config("training/configs/smoke_gan.yaml")
    assert not build_model(plain, class_names=["a", "b"]).auxiliary_classifier
