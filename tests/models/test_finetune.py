"""Starting a model from another one's weights (`keras_gen.models.finetune`).

Same-architecture copies and FreezeD run end to end in tests/test_presets.py;
here a conditional GAN starts from an unconditional one.
"""

import keras
import numpy as np
import pytest

from keras_gen.config import ConfigError
from keras_gen.models import GAN
from keras_gen.models.finetune import initialize_from
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.gan.fastgan import (
    build_fastgan_discriminator,
    build_fastgan_generator,
)

BUILDERS = {
    "dcgan": (build_dcgan_generator, build_dcgan_discriminator),
    "fastgan": (build_fastgan_generator, build_fastgan_discriminator),
}


def _gan(architecture, num_classes=None, width=8, seed=0):
    build_g, build_d = BUILDERS[architecture]
    keras.utils.set_random_seed(seed)
    conditional = {"num_classes": num_classes} if num_classes else {}
    return GAN(
        build_g(32, 16, width, seed=seed + 1, **conditional),
        build_d(32, width, seed=seed + 2, class_head=bool(num_classes), **conditional),
        ema_decay=0.99,
        class_loss_weight=1.0 if num_classes else 0.0,
        seed=seed + 3,
        **conditional,
    )


def _saved(model, path):
    model.compile()
    model.save(path)
    return str(path)


@pytest.mark.parametrize("architecture", ["dcgan", "fastgan"])
def test_every_label_starts_as_the_unconditional_gan(architecture, tmp_path):
    source = _gan(architecture)
    # Trained-looking statistics and affine terms, so that the copy shows.
    for layer in source.generator.layers + source.ema_generator.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(len(layer.name))
            for var in layer.weights:
                var.assign(rng.uniform(0.5, 1.5, var.shape).astype("float32"))
    path = _saved(source, tmp_path / "uncond.keras")
    model = _gan(architecture, num_classes=3, seed=10)
    copied = initialize_from(model, path)
    assert [c.split(" ")[0] for c in copied] == [
        "generator",
        "discriminator",
        "ema_generator",
    ]
    assert "new: projection, class_logits" in copied[1]
    expected = source.generate(4, seed=5)
    for label in range(3):
        np.testing.assert_allclose(
            model.generate(4, seed=5, labels=[label] * 4), expected, atol=1e-5
        )
    # D judges as the source did, plus the new class term.
    d = model.discriminator
    images = np.random.default_rng(1).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    labels = np.arange(4) % 3
    before = _logits(source.discriminator(images, training=False))
    after = _logits(d([images, labels], training=False))
    pool = "sum_pool" if architecture == "fastgan" else "class_pool"
    pooled = keras.Model(d.inputs, d.get_layer(pool).output)([images, labels])
    term = d.get_layer("projection")([pooled, labels], training=False)
    np.testing.assert_allclose(after, before + np.asarray(term), rtol=1e-4, atol=1e-5)


def _logits(outputs):
    return np.asarray(outputs["logits"] if isinstance(outputs, dict) else outputs)


def test_a_wider_source_is_refused_with_the_layer_named(tmp_path):
    path = _saved(_gan("dcgan", width=16), tmp_path / "wide.keras")
    with pytest.raises(ConfigError, match="generator layer .* not the same arch"):
        initialize_from(_gan("dcgan", num_classes=3), path)
