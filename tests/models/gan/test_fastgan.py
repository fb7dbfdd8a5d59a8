"""FastGAN networks: shapes, skip-layer excitation, self-supervised D."""

import keras
import numpy as np
import pytest

from keras_gen.models import GAN
from keras_gen.models.gan.fastgan import (
    build_fastgan_discriminator,
    build_fastgan_generator,
)
from keras_gen.models.gan.layers import GLU, RandomQuadrantCrop, ReconstructionError
from tests.helpers import run_layer_test, run_model_saving_test


def images(n=16, size=32):
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")


def fastgan(size=32, num_classes=None, class_head=False, **kwargs):
    keras.utils.set_random_seed(0)
    return GAN(
        build_fastgan_generator(size, 16, 8, num_classes=num_classes, seed=1),
        build_fastgan_discriminator(
            size, 8, num_classes=num_classes, seed=2, class_head=class_head
        ),
        loss="hinge",
        num_classes=num_classes,
        seed=3,
        **kwargs,
    )


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes_and_excitation_layers(size):
    g = build_fastgan_generator(size, latent_dim=8, width=4, seed=0)
    d = build_fastgan_discriminator(size, width=4, seed=1)
    out = g(np.random.default_rng(0).normal(size=(2, 8)).astype("float32"))
    assert out.shape == (2, size, size, 3)
    assert float(np.abs(out).max()) <= 1.0
    outputs = d(out)
    logits, error = outputs["logits"], outputs["reconstruction_error"]
    assert logits.shape == (2, 1) and error.shape == (2,)
    assert float(np.min(error)) > 0
    # One excitation per map of 32 px and up, each from the map 8x smaller.
    sle = sorted(
        layer.name for layer in g.layers if isinstance(layer, keras.layers.Multiply)
    )
    sides = [s for s in (32, 64, 128) if s <= size]
    assert sle == sorted(f"sle{s}" for s in sides)


def test_excitation_carries_the_small_map_to_the_output():
    # Zeroing the SLE gate's bias-free path changes the image: the 4x4 map
    # reaches the 32x32 map through the gate, not only through the up-blocks.
    g = build_fastgan_generator(32, latent_dim=8, width=8, seed=0)
    z = np.random.default_rng(1).normal(size=(4, 8)).astype("float32")
    # training=True: batch norm normalises; its initial moving statistics
    # would leave the untrained output at ~1e-8.
    before = keras.ops.convert_to_numpy(g(z, training=True))
    gate = g.get_layer("sle32_gate")
    kernel, bias = gate.get_weights()
    gate.set_weights([np.zeros_like(kernel), bias])
    after = keras.ops.convert_to_numpy(g(z, training=True))
    assert np.abs(after - before).max() > 1e-3


def test_glu_gates_half_the_channels():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    run_layer_test(GLU, {}, x, (2, 3, 3, 2))
    out = keras.ops.convert_to_numpy(GLU()(x))
    np.testing.assert_allclose(
        out, x[..., :2] / (1 + np.exp(-x[..., 2:])), rtol=1e-5, atol=1e-6
    )


def test_quadrant_crop_takes_the_same_quadrant_of_both_inputs():
    x = images(64, 16)
    # The features are the image average-pooled 2x, so the quadrant of the
    # features must be the pooled quadrant of the image.
    pooled = keras.ops.convert_to_numpy(keras.layers.AveragePooling2D(2)(x))
    crop = RandomQuadrantCrop(seed=0)
    f, q = (keras.ops.convert_to_numpy(t) for t in crop([pooled, x], training=True))
    assert f.shape == (64, 4, 4, 3) and q.shape == (64, 8, 8, 3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.layers.AveragePooling2D(2)(q)), f, atol=1e-6
    )
    # Drawn per example: 64 examples land in more than one quadrant, and the
    # quadrant is one of the four corners of the image.
    corners = {(0, 0), (0, 8), (8, 0), (8, 8)}
    found = set()
    for i in range(64):
        hits = [
            c
            for c in corners
            if np.array_equal(x[i, c[0] : c[0] + 8, c[1] : c[1] + 8], q[i])
        ]
        assert len(hits) == 1
        found.add(hits[0])
    assert len(found) > 1
    # Outside training: always the first quadrant.
    _, q0 = crop([pooled, x], training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(q0), x[:, :8, :8])
    revived = keras.layers.deserialize(
        keras.layers.serialize(RandomQuadrantCrop(seed=3))
    )
    assert isinstance(revived, RandomQuadrantCrop) and revived.seed == 3


def test_reconstruction_error_is_the_per_example_mse():
    a = images(3, 4)
    b = np.zeros_like(a)
    err = keras.ops.convert_to_numpy(ReconstructionError()([a, b]))
    np.testing.assert_allclose(err, (a**2).mean(axis=(1, 2, 3)), rtol=1e-6)


def test_decoders_do_not_train_at_reconstruction_weight_zero():
    # (At weight 1 they do: test_discriminator_learns_to_reconstruct.)
    model = fastgan(reconstruction_weight=0.0)
    model.compile(
        d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3)
    )
    decoder = model.discriminator.get_layer("decode_whole_up0_conv0")
    before = np.array(decoder.kernel)
    history = model.fit(images(), batch_size=8, epochs=1, verbose=0)
    moved = np.abs(np.array(decoder.kernel) - before).max()
    assert "reconstruction" in history.history
    assert moved == 0.0
    # The rest of D did train.
    assert np.abs(history.history["d_loss"][-1]) > 0


def smooth_images(n=16, size=32):
    """Random colour fields upsampled from 4x4: images a decoder can rebuild."""
    coarse = np.random.default_rng(0).uniform(-1, 1, (n, 4, 4, 3)).astype("float32")
    return keras.ops.convert_to_numpy(
        keras.layers.Resizing(size, size, "bilinear")(coarse)
    )


def test_discriminator_learns_to_reconstruct():
    model = fastgan()
    model.compile(
        d_optimizer=keras.optimizers.Adam(2e-3), g_optimizer=keras.optimizers.Adam(1e-4)
    )
    history = model.fit(smooth_images(), batch_size=16, epochs=40, verbose=0)
    errors = history.history["reconstruction"]
    assert errors[-1] < 0.5 * errors[0], errors


def test_conditional_fastgan_with_class_head_trains_and_round_trips(tmp_path):
    # One round trip for the conditional FastGAN and the AC-GAN class head
    # (the head is the same layer for every architecture: test_acgan.py).
    model = fastgan(
        num_classes=3, class_head=True, class_loss_weight=0.5, ema_decay=0.9
    )
    model.compile(
        d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3)
    )
    labels = np.arange(16) % 3
    model.fit(images(), labels, batch_size=8, epochs=1, verbose=0)
    z = np.random.default_rng(0).normal(size=(3, 16)).astype("float32")
    restored = run_model_saving_test(
        model,
        tmp_path,
        inputs=([z, np.arange(3)], (images(3), np.arange(3))),
        call=lambda m, x: (
            m.ema_generator(x[0], training=False),
            m.discriminate(*x[1])["class_logits"],
        ),
    )
    assert restored.self_supervised and restored.reconstruction_weight == 1.0
    assert restored.auxiliary_classifier and restored.class_loss_weight == 0.5


def test_config_selects_fastgan(tmp_path):
    from keras_gen.config import load_config
    from keras_gen.models.factory import build_model

    cfg = load_config(
        "training/configs/smoke_gan.yaml",
        overrides=["model.architecture=fastgan", "model.reconstruction_weight=0.5"],
    )
    model = build_model(cfg)
    assert model.self_supervised and model.reconstruction_weight == 0.5
    assert model.discriminator.get_layer("quadrant") is not None
