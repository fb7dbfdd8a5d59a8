"""Defining properties of the GAN regularisers: EMA, DiffAugment, R1, GP, SN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.models import GAN
from keras_gen.models.gan import augment as augment_module
from keras_gen.models.gan.augment import diff_augment, parse_policy
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from tests.helpers import run_model_saving_test


def gan(**kwargs):
    keras.utils.set_random_seed(0)
    return GAN(
        build_dcgan_generator(32, 16, 8, seed=1),
        build_dcgan_discriminator(32, 8, seed=2, spectral_norm=kwargs.pop("sn", False)),
        seed=3,
        **kwargs,
    )


def images(n=16):
    return np.random.default_rng(0).uniform(-1, 1, (n, 32, 32, 3)).astype("float32")


def linear_critic(w):
    """D(x) = <w, x>, whose input gradient is w for every x."""
    x = keras.Input((32, 32, 3))
    flat = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(1, use_bias=False)
    out = dense(flat)
    model = keras.Model(x, out)
    dense.kernel.assign(w.reshape(-1, 1))
    return model


def test_ema_with_decay_zero_equals_the_weights():
    model = gan(ema_decay=0.0)
    model.compile()
    model.fit(images(), batch_size=8, epochs=1, verbose=0)
    for a, b in zip(model.ema_generator.get_weights(), model.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_ema_is_the_moving_average():
    model = gan(ema_decay=0.9)
    model.compile()
    start = [w.copy() for w in model.generator.get_weights()]
    model.fit(images(8), batch_size=8, epochs=1, verbose=0)  # one step
    trainable = {id(v) for v in model.generator.trainable_weights}
    for ema, w, w0 in zip(model.ema_generator.weights, model.generator.weights, start):
        expected = 0.9 * w0 + 0.1 * w.numpy() if id(w) in trainable else w.numpy()
        np.testing.assert_allclose(ema.numpy(), expected, rtol=1e-5, atol=1e-6)
    # Samples come from the averaged generator.
    z = np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    np.testing.assert_allclose(model(z), model.ema_generator(z), atol=1e-6)


def test_ema_survives_keras_round_trip(tmp_path):
    model = gan(ema_decay=0.99, augment="color,translation", r1_gamma=0.5)
    model.compile()
    model.fit(images(), batch_size=8, epochs=1, verbose=0)
    z = np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    loaded = run_model_saving_test(model, tmp_path, z, name="g.keras")
    assert (loaded.ema_decay, loaded.augment, loaded.r1_gamma) == (
        0.99,
        "color,translation",
        0.5,
    )
    for a, b in zip(
        model.ema_generator.get_weights(), loaded.ema_generator.get_weights()
    ):
        np.testing.assert_array_equal(a, b)


def test_diffaugment_is_differentiable_and_random_per_example():
    sg = keras.random.SeedGenerator(0)
    x = tf.Variable(images(4))
    with tf.GradientTape() as tape:
        y = diff_augment(x, parse_policy("color,translation,cutout"), sg)
        total = tf.reduce_sum(y * y)
    grad = tape.gradient(total, x)
    assert grad is not None and float(tf.reduce_mean(tf.abs(grad))) > 0
    # Cutout zeroes a square; translation pads with zeros: both leave exact zeros.
    assert float(tf.reduce_mean(tf.cast(y == 0, tf.float32))) > 0.05
    same = tf.stack([x[0]] * 8)
    out = diff_augment(same, parse_policy("translation"), sg).numpy()
    # Per-example parameters: 8 copies of one image come out in several shifts.
    assert len({o.tobytes() for o in out}) >= 4
    with pytest.raises(ValueError, match="color, translation, cutout"):
        parse_policy("color,rotate")


def test_same_policy_is_applied_to_real_and_fake(monkeypatch):
    calls = []
    original = augment_module.diff_augment

    def spy(images, policy, seed_generator, p=1.0):
        calls.append((policy, p))
        return original(images, policy, seed_generator, p=p)

    monkeypatch.setattr("keras_gen.models.gan.gan.diff_augment", spy)
    model = gan(augment="color,cutout", augment_p=0.7)
    model.compile()
    model.fit(images(8), batch_size=8, epochs=1, verbose=0)
    # Traced once: real and fake for D, fake for G, all with the same policy
    # and the same probability.
    assert calls == [(("color", "cutout"), 0.7)] * 3


def test_r1_penalty_of_a_linear_critic_is_its_squared_norm():
    model = gan(r1_gamma=1.0)
    w = np.random.default_rng(1).normal(size=32 * 32 * 3).astype("float32")
    model.discriminator = linear_critic(w)
    penalty = model._r1_penalty(images(3)).numpy()
    np.testing.assert_allclose(penalty, [np.sum(w**2)] * 3, rtol=1e-4)


def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic():
    model = gan(loss="wgan-gp")
    w = np.random.default_rng(2).normal(size=32 * 32 * 3).astype("float32")
    model.discriminator = linear_critic(w / np.linalg.norm(w))
    real, fake = images(4), images(4)[::-1]
    assert float(np.max(model._gradient_penalty(real, fake))) < 1e-6
    model.discriminator = linear_critic(3 * w / np.linalg.norm(w))
    np.testing.assert_allclose(
        model._gradient_penalty(real, fake), [4.0] * 4, rtol=1e-4
    )


def test_spectral_norm_discriminator_trains_without_batch_norm():
    model = gan(sn=True, loss="hinge")
    layers = model.discriminator.layers
    assert any(
        isinstance(layer, keras.layers.SpectralNormalization) for layer in layers
    )
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in layers
    )
    model.compile()
    history = model.fit(images(), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])


def _bf16_exact(x):
    """True where x is a float32 array whose every value is a bfloat16."""
    x = keras.ops.convert_to_numpy(x)
    return np.array_equal(
        keras.ops.convert_to_numpy(
            keras.ops.cast(keras.ops.cast(x, "bfloat16"), "float32")
        ),
        x,
    )


def _sn_discriminator(policy):
    from keras_gen.precision import dtype_policy

    with dtype_policy(policy):
        return build_dcgan_discriminator(32, 8, seed=2, spectral_norm=True)


def test_spectral_norm_keeps_float32_kernels_under_bfloat16(tmp_path):
    """Keras' wrapper rounded the kernel to bfloat16 on every training call."""
    x = images(4)
    ref, mixed = _sn_discriminator("float32"), _sn_discriminator("mixed_bfloat16")
    mixed.set_weights(ref.get_weights())
    ref(x, training=True)
    logits = mixed(x, training=True)
    wrapped = [
        (a, b)
        for a, b in zip(ref.layers, mixed.layers)
        if isinstance(b, keras.layers.SpectralNormalization)
    ]
    assert len(wrapped) == 4
    for a, b in wrapped:
        # The convolution computes in bfloat16; its normalised kernel is the
        # float32 one to float32 precision, not to bfloat16's 2**-9.
        assert b.layer.compute_dtype == "bfloat16"
        assert not _bf16_exact(b.layer.kernel.value)
        np.testing.assert_allclose(
            b.layer.kernel.numpy(), a.layer.kernel.numpy(), rtol=1e-5, atol=1e-7
        )
    # The bfloat16 forward pass is still close to float32's.
    np.testing.assert_allclose(logits, ref(x, training=False), rtol=0.05, atol=0.05)
    # A reloaded model (no outer mixed-precision scope on load) keeps them too.
    loaded = run_model_saving_test(mixed, tmp_path, name="d.keras")
    loaded(x, training=True)
    for layer in loaded.layers:
        if isinstance(layer, keras.layers.SpectralNormalization):
            assert layer.layer.compute_dtype == "bfloat16"
            assert not _bf16_exact(layer.layer.kernel.value)


def test_bfloat16_sn_gan_step_leaves_float32_discriminator_weights():
    from keras_gen.precision import dtype_policy

    keras.utils.set_random_seed(0)
    with dtype_policy("mixed_bfloat16"):
        model = GAN(
            build_dcgan_generator(32, 16, 8, seed=1),
            build_dcgan_discriminator(32, 8, seed=2, spectral_norm=True),
            loss="hinge",
            seed=3,
        )
    model.compile()
    model.fit(images(), batch_size=8, epochs=1, verbose=0)
    # A step ends with the generator phase's discriminator call, the last
    # write to the kernels: with bfloat16 rounding they would all be exact.
    kernels = [
        layer.layer.kernel.value
        for layer in model.discriminator.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert kernels and not any(_bf16_exact(k) for k in kernels)


# --------------------------------------------------------------------------- #
# n_critic, diversity signal, residual networks
# --------------------------------------------------------------------------- #
def test_n_critic_updates_the_discriminator_once_per_chunk():
    model = gan(loss="wgan-gp", n_critic=3)
    model.compile()
    before = [w.copy() for w in model.discriminator.get_weights()]
    g_before = [w.copy() for w in model.generator.get_weights()]
    # One batch of 12 = 3 chunks of 4: one step.
    model.fit(images(12), batch_size=12, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == 3
    assert int(model.g_optimizer.iterations) == 1
    assert any(
        np.abs(a - b).max() > 0
        for a, b in zip(before, model.discriminator.get_weights())
    )
    assert any(
        np.abs(a - b).max() > 0 for a, b in zip(g_before, model.generator.get_weights())
    )
    with pytest.raises(ValueError, match="n_critic must be >= 1"):
        gan(n_critic=0)


def test_diversity_is_zero_for_a_collapsed_batch_and_one_for_the_data():
    from keras_gen.models.gan.diversity import batch_diversity

    real = images(32)
    collapsed = np.repeat(real[:1], 32, axis=0)
    # ~0 up to float32 rounding of E[x^2] - E[x]^2 (the moments are summed so
    # that replicas can all-reduce them).
    assert float(batch_diversity(collapsed, real)) == pytest.approx(0.0, abs=1e-3)
    assert float(batch_diversity(real, real)) == pytest.approx(1.0, rel=1e-5)
    half = np.concatenate([np.repeat(real[:1], 16, 0), np.repeat(real[1:2], 16, 0)])
    assert 0.0 < float(batch_diversity(half, real)) < 1.0


@pytest.mark.parametrize("size", [32, 64, 128])
def test_residual_networks_shapes_and_spectral_norm(size):
    from keras_gen.models.gan.resnet import (
        build_resnet_discriminator,
        build_resnet_generator,
    )

    g = build_resnet_generator(size, latent_dim=8, width=4, seed=0)
    d = build_resnet_discriminator(size, width=4, seed=1)
    z = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    out = g(z)
    assert out.shape == (2, size, size, 3)
    assert float(np.abs(out).max()) <= 1.0
    assert d(out).shape == (2, 1)
    blocks = [layer for layer in g.layers if layer.name.startswith("block")]
    assert len([b for b in blocks if isinstance(b, keras.layers.Add)]) == (
        int(np.log2(size // 4))
    )
    wrapped = [
        layer
        for layer in d.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    # Two 3x3 convolutions and a 1x1 shortcut per block, and the dense logit.
    assert len(wrapped) == 3 * int(np.log2(size // 4)) + 1
    plain = build_resnet_discriminator(size, width=4, spectral_norm=False)
    assert not any(
        isinstance(layer, keras.layers.SpectralNormalization) for layer in plain.layers
    )
