import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.models import GAN
from keras_gen.models.gan import losses
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from tests.helpers import run_model_saving_test


def tiny_gan(loss="ns", size=32, seed=0):
    return GAN(
        build_dcgan_generator(size, latent_dim=16, width=8, seed=seed),
        build_dcgan_discriminator(size, width=8, seed=seed + 1),
        loss=loss,
        seed=seed,
    )


def real_images(n=16, size=32):
    return np.random.default_rng(0).uniform(-1, 1, (n, size, size, 3)).astype("float32")


@pytest.mark.parametrize("size", [32, 64, 128])
def test_dcgan_shapes(size):
    g = build_dcgan_generator(size, latent_dim=10, width=4)
    d = build_dcgan_discriminator(size, width=4)
    images = g(np.zeros((2, 10), "float32"))
    assert images.shape == (2, size, size, 3)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    assert d(images).shape == (2, 1)


def test_unsupported_size_is_rejected():
    with pytest.raises(ValueError, match="32, 64, 128"):
        build_dcgan_generator(48)


def test_dcgan_init_follows_the_paper():
    g = build_dcgan_generator(64, latent_dim=100, width=64, seed=0)
    kernel = g.get_layer("up1").kernel.numpy()
    assert abs(kernel.mean()) < 1e-3
    assert kernel.std() == pytest.approx(0.02, rel=0.05)


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="hinge.*lsgan.*ns.*wgan-gp"):
        losses.get_gan_loss("vanilla")


def test_loss_values_on_known_logits():
    real = np.array([[2.0], [-1.0]], "float32")
    fake = np.array([[0.5], [-3.0]], "float32")
    hinge_d = losses.hinge_discriminator_loss(real, fake).numpy()
    np.testing.assert_allclose(hinge_d, [0.0 + 1.5, 2.0 + 0.0])
    np.testing.assert_allclose(losses.hinge_generator_loss(fake).numpy(), [-0.5, 3.0])
    sp = lambda x: np.log1p(np.exp(x))  # noqa: E731
    np.testing.assert_allclose(
        losses.ns_discriminator_loss(real, fake).numpy(),
        [sp(-2.0) + sp(0.5), sp(1.0) + sp(-3.0)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        losses.ns_generator_loss(fake).numpy(), [sp(-0.5), sp(3.0)], rtol=1e-6
    )


def test_fit_trains_both_networks_and_logs_metrics():
    gan = tiny_gan()
    gan.compile()
    g_before = [w.copy() for w in gan.generator.get_weights()]
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(real_images(), batch_size=8, epochs=2, verbose=0)
    assert set(history.history) == {
        "d_loss",
        "g_loss",
        "real_score",
        "fake_score",
        "real_accuracy",
        "fake_accuracy",
        "diversity",
    }
    assert history.history["diversity"][-1] > 0
    assert all(
        0 <= history.history[k][-1] <= 1 for k in ("real_accuracy", "fake_accuracy")
    )
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert 0 < history.history["real_score"][-1] < 1
    assert gan.d_optimizer.iterations.numpy() == 4
    assert gan.g_optimizer.iterations.numpy() == 4
    assert any(
        not np.allclose(a, b) for a, b in zip(g_before, gan.generator.get_weights())
    )
    assert any(
        not np.allclose(a, b) for a, b in zip(d_before, gan.discriminator.get_weights())
    )
    logs = gan.evaluate(real_images(), batch_size=8, verbose=0, return_dict=True)
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])


def test_generator_step_lowers_generator_loss_against_fixed_discriminator():
    # With the discriminator's learning rate at zero, only the generator moves,
    # and it must move so as to fool the (fixed) discriminator.
    gan = tiny_gan(seed=3)
    gan.compile(
        d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.Adam(1e-2)
    )
    z = np.random.default_rng(1).normal(size=(64, 16)).astype("float32")
    before = float(
        np.mean(losses.ns_generator_loss(gan.discriminator(gan.generator(z))))
    )
    gan.fit(real_images(64), batch_size=16, epochs=5, verbose=0)
    after = float(
        np.mean(losses.ns_generator_loss(gan.discriminator(gan.generator(z))))
    )
    assert after < before - 0.05


def test_wgan_gp_logs_penalty_and_trains():
    gan = tiny_gan("wgan-gp")
    gan.compile()
    history = gan.fit(real_images(), batch_size=8, epochs=1, verbose=0)
    assert history.history["gradient_penalty"][0] >= 0
    assert np.isfinite(history.history["d_loss"][0])


def test_accuracy_reads_the_logits():
    gan = tiny_gan()
    logits = np.array([[2.0], [-1.0], [0.5], [-3.0]], "float32")
    assert float(gan._accuracy(logits, real=True)) == 0.5
    assert float(gan._accuracy(logits, real=False)) == 0.5
    assert float(gan._accuracy(logits[:1], real=True)) == 1.0


def test_generate_by_seed_is_reproducible():
    gan = tiny_gan()
    a = gan.generate(3, seed=10)
    b = gan.generate(1, seed=11)
    np.testing.assert_allclose(a[1], b[0], atol=1e-6)
    assert not np.allclose(a[0], a[1])
    images = gan.generate_uint8(2, seed=0)
    assert images.dtype == np.uint8 and images.shape == (2, 32, 32, 3)


def test_keras_round_trip_keeps_outputs_and_optimizers(tmp_path):
    gan = tiny_gan()
    gan.compile(
        d_optimizer=keras.optimizers.Adam(3e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5),
    )
    gan.fit(real_images(), batch_size=8, epochs=1, verbose=0)
    z = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
    loaded = run_model_saving_test(gan, tmp_path, z, name="gan.keras")
    assert isinstance(loaded, GAN)
    np.testing.assert_array_equal(
        gan.discriminator(gan(z)), loaded.discriminator(loaded(z))
    )
    assert float(loaded.d_optimizer.learning_rate) == pytest.approx(3e-4)
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(1e-4)
    assert int(loaded.d_optimizer.iterations) == 2
    for a, b in zip(gan.d_optimizer.variables, loaded.d_optimizer.variables):
        np.testing.assert_array_equal(a, b)
    # Keeps training where it stopped.
    loaded.fit(real_images(), batch_size=8, epochs=1, verbose=0)
    assert int(loaded.g_optimizer.iterations) == 4


def test_uncompiled_gan_saves_and_loads(tmp_path):
    gan = tiny_gan()
    z = np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    loaded = run_model_saving_test(gan, tmp_path, z, name="raw.keras")
    assert not hasattr(loaded, "d_optimizer")
