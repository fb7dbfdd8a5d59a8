"""Conditional GAN: class-conditional batch norm, projection discriminator,
labels through the data pipeline, and generation of the requested class.

The `data.labels` config and folder classes: tests/data/test_labels.py."""

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from keras_gen.config import load_config
from keras_gen.data.rooms import render_rooms
from keras_gen.models import GAN
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.gan.layers import ClassProjection, ConditionalBatchNormalization
from keras_gen.trainer import train
from tests.helpers import run_model_saving_test

CONFIGS = Path(__file__).resolve().parents[3] / "training" / "configs"


def test_conditional_batch_norm_applies_the_scale_and_shift_of_each_class():
    layer = ConditionalBatchNormalization(num_classes=3)
    x = np.random.default_rng(0).normal(2.0, 3.0, (6, 4, 4, 5)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2])
    layer([x, labels], training=True)  # builds
    layer.gamma.assign(np.array([[1.0] * 5, [2.0] * 5, [0.5] * 5], "float32"))
    layer.beta.assign(np.array([[0.0] * 5, [1.0] * 5, [-3.0] * 5], "float32"))
    out = ops.convert_to_numpy(layer([x, labels], training=True))
    normalized = (x - x.mean(axis=(0, 1, 2))) / np.sqrt(x.var(axis=(0, 1, 2)) + 1e-5)
    gamma = np.array([1.0, 2.0, 0.5])[labels][:, None, None, None]
    beta = np.array([0.0, 1.0, -3.0])[labels][:, None, None, None]
    np.testing.assert_allclose(out, normalized * gamma + beta, atol=1e-4)


def test_projection_is_the_inner_product_with_the_class_embedding():
    layer = ClassProjection(num_classes=3)
    features = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    labels = np.array([2, 0, 1, 2])
    out = ops.convert_to_numpy(layer([features, labels]))
    w = layer.embeddings.numpy()
    np.testing.assert_allclose(
        out[:, 0], np.sum(w[labels] * features, axis=1), rtol=1e-5
    )


def test_spectral_norm_projection_has_unit_largest_singular_value():
    layer = ClassProjection(num_classes=4, spectral_norm=True)
    features = np.ones((2, 8), "float32")
    layer([features, np.array([0, 1])])
    layer.embeddings.assign(
        np.random.default_rng(2).normal(0, 3, (4, 8)).astype("float32")
    )
    for _ in range(30):  # power iterations converge over training steps
        w = layer._normalized_embeddings(training=True)
    assert np.linalg.svd(ops.convert_to_numpy(w), compute_uv=False)[0] == (
        pytest.approx(1.0, rel=1e-3)
    )


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_dcgan_class_term_uses_sum_pooled_features(spectral_norm):
    # The 4x4 logit convolution sums over positions; a mean-pooled class term
    # was 16x weaker than it and the label barely acted (issue 14).
    disc = build_dcgan_discriminator(
        32, 8, spectral_norm=spectral_norm, num_classes=3, seed=2
    )
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("f4")
    labels = np.array([0, 1, 2, 1])
    projection = disc.get_layer("projection")
    features_model = keras.Model(disc.inputs, projection.input[0])
    pre_pool = keras.Model(disc.inputs, disc.get_layer("class_pool").input)
    pooled = ops.convert_to_numpy(features_model([images, labels]))
    maps = ops.convert_to_numpy(pre_pool([images, labels]))
    np.testing.assert_allclose(pooled, maps.sum(axis=(1, 2)), rtol=1e-4, atol=1e-5)


def conditional_gan(num_classes=2, **kwargs):
    keras.utils.set_random_seed(0)
    return GAN(
        build_dcgan_generator(32, 16, 8, num_classes=num_classes, seed=1),
        build_dcgan_discriminator(32, 8, num_classes=num_classes, seed=2),
        class_names=["no_bed", "bed"][:num_classes] if num_classes == 2 else None,
        num_classes=num_classes,
        seed=3,
        **kwargs,
    )


def test_the_label_changes_the_image_and_survives_a_keras_round_trip(tmp_path):
    model = conditional_gan()
    model.compile()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 2, 16).astype("int32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    a = model.generate(4, seed=0, labels="no_bed")
    b = model.generate(4, seed=0, labels="bed")
    # Same latents, other class: a different image (relative to the output
    # scale, which is small for an untrained network in inference mode).
    assert np.abs(a - b).max() > 1e-2 * np.abs(b).max()
    np.testing.assert_array_equal(model.generate(4, seed=0, labels=1), b)
    loaded = run_model_saving_test(model, tmp_path, name="c.keras")
    assert loaded.class_names == ("no_bed", "bed")
    np.testing.assert_allclose(loaded.generate(4, seed=0, labels="bed"), b, atol=1e-6)
    with pytest.raises(
        ValueError, match="unknown class 'kitchen'; classes: no_bed, bed"
    ):
        loaded.generate(2, labels="kitchen")
    with pytest.raises(ValueError, match="out of range"):
        loaded.generate(2, labels=2)

    # The export takes a label per seed and names the classes; `keras-gen
    # sample --label` gives the same images from .keras and SavedModel.
    from keras_gen.cli import sample_images
    from keras_gen.export import export_generator, read_class_names

    path = export_generator(loaded, tmp_path / "sm", "cgan")
    assert read_class_names(path) == ["no_bed", "bed"]
    from_keras = sample_images(tmp_path / "c.keras", 4, seed=0, label="bed")
    from_export = sample_images(path, 4, seed=0, label="bed")
    assert np.abs(from_keras.astype(int) - from_export.astype(int)).max() <= 1
    other = sample_images(path, 4, seed=0, label="no_bed")
    assert np.abs(other.astype(int) - from_export.astype(int)).max() > 0
    with pytest.raises(ValueError, match="unknown class 'kitchen'"):
        sample_images(path, 4, label="kitchen")

    # Interpolation paths of a conditional model stay in the asked class.
    from keras_gen.interpolate import interpolation_latents, load_decoder

    z = interpolation_latents(loaded.latent_dim, [0, 1], steps=3)[0]
    for source in (tmp_path / "c.keras", path):
        decode, _ = load_decoder(source, label="bed")
        start = decode(z)[0].astype(int)
        assert np.abs(start - from_keras[0].astype(int)).max() <= 1


def test_a_conditional_gan_needs_labelled_batches_and_matching_networks():
    model = conditional_gan()
    model.compile()
    x = np.zeros((8, 32, 32, 3), "float32")
    with pytest.raises(ValueError, match=r"needs \(images, labels\) batches"):
        model.fit(x, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="needs a conditional generator"):
        GAN(
            build_dcgan_generator(32, 16, 8),
            build_dcgan_discriminator(32, 8),
            num_classes=3,
        )
    with pytest.raises(ValueError, match="give num_classes"):
        GAN(
            build_dcgan_generator(32, 16, 8, num_classes=2),
            build_dcgan_discriminator(32, 8, num_classes=2),
        )


# --------------------------------------------------------------------------- #
# The conditional model draws the class it is asked for
# --------------------------------------------------------------------------- #
# Two room classes the renderer tells apart by one factor: the wall hue.
HUES = {"blue_walls": 0.62, "red_walls": 0.0}


def render_classes(num_per_class: int, size: int, seed: int):
    """Procedural rooms of each class of HUES, as (images, class ids)."""
    images, labels = [], []
    for i, hue in enumerate(HUES.values()):
        rooms, _ = render_rooms(
            num_per_class,
            size=size,
            seed=seed + i,
            cache_dir=None,
            wall_hue=hue,
            wall_saturation=0.6,
        )
        images.append(rooms)
        labels.append(np.full(num_per_class, i))
    return np.concatenate(images), np.concatenate(labels)


def wall_classifier(size: int) -> keras.Model:
    """A small CNN trained on rendered rooms of each class (other seeds)."""
    images, labels = render_classes(300, size, seed=500)
    x = images.astype("float32") / 127.5 - 1.0
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], labels[order].astype("float32")
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, 2, "same", activation="relu"),
            keras.layers.Conv2D(32, 3, 2, "same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    model.fit(x[:500], y[:500], batch_size=50, epochs=8, verbose=0)
    accuracy = model.evaluate(x[500:], y[500:], verbose=0)[1]
    assert accuracy > 0.95, f"the classifier itself is not reliable ({accuracy:.2f})"
    return model


def test_conditional_gan_generates_the_requested_room_class(tmp_path):
    """Trains on a folder with one sub-folder per class (as rooms64/), then
    asks for each class and checks it with an independent classifier."""
    from PIL import Image

    size = 32
    images, labels = render_classes(512, size, seed=0)
    names = list(HUES)
    for name in names:
        (tmp_path / "data" / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(tmp_path / "data" / names[label] / f"{i}.png")
    config = load_config(
        CONFIGS / "smoke_gan.yaml",
        [
            "data.source=folder",
            f"data.path={tmp_path / 'data'}",
            "data.labels=inferred",
            "data.num_images=1024",
            "model.width=16",
            "model.latent_dim=32",
            "train.batch_size=32",
            "train.epochs=12",
            "train.optimizer.learning_rate=5.0e-4",
            "output.export_dir=null",
            "output.tensorboard=false",
            "output.verbose=0",
        ],
    )
    result = train(config, work_dir=tmp_path / "run")
    model = result.model
    assert list(model.class_names) == sorted(names)
    classifier = wall_classifier(size)
    for name in names:
        fake = model.generate(64, seed=1000, labels=name)
        said = classifier.predict(fake, verbose=0)[:, 0] > 0
        hit = np.mean(said == (names.index(name) == 1))
        print(f"{name}: {hit:.2f} of generated images classified as asked")
        assert hit >= 0.9, (name, hit)
