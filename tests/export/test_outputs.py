"""What the exported signatures compute, against the Python/Keras model."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_gen.data.pipeline import resize_and_center_crop
from keras_gen.models.vae.vae import kl_divergence, reconstruction_nll
from tests.export.conftest import GAN_LATENT, SIZE, VAE_LATENT, test_images


def seeds(*values):
    return tf.constant(values, tf.int64)


def max_step(a, b) -> int:
    return int(np.abs(np.asarray(a, int) - np.asarray(b, int)).max())


def test_generate_is_a_function_of_the_seed_alone(loaded):
    generate = loaded["gan"].signatures["generate"]
    first = generate(seed=seeds(3, 4, 5))["images"].numpy()
    again = generate(seed=seeds(5, 3))["images"].numpy()
    np.testing.assert_array_equal(again, first[[2, 0]])
    assert not np.array_equal(first[0], first[1])


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_generate_matches_the_python_model(kind, loaded, gan, vae):
    model = {"gan": gan, "vae": vae}[kind]
    expected = model.generate_uint8(4, seed=10)
    got = loaded[kind].signatures["generate"](seed=seeds(10, 11, 12, 13))["images"]
    # Same latents, same weights; graph optimisations may move a pixel by
    # one rounding step at most.
    assert max_step(got, expected) <= 1
    assert np.mean(got.numpy() == expected) > 0.99


@pytest.mark.parametrize("kind", ["gan", "vae"])
@pytest.mark.parametrize("batch", [0, 1, 64])
def test_generating_signatures_take_batches_of_0_1_64(kind, batch, loaded):
    sig = loaded[kind].signatures
    latent = GAN_LATENT if kind == "gan" else VAE_LATENT
    z = tf.random.stateless_normal((batch, latent), seed=(1, 2))
    images = sig["serving_default"](z=z)["images"]
    assert images.dtype == tf.uint8 and images.shape == (batch, SIZE, SIZE, 3)
    s = tf.range(batch, dtype=tf.int64)
    assert sig["generate"](seed=s)["images"].shape == (batch, SIZE, SIZE, 3)
    pngs = sig["generate_png"](seed=s)["png_bytes"]
    assert pngs.dtype == tf.string and pngs.shape == (batch,)
    if kind == "vae":
        x = tf.constant(test_images(batch))
        assert sig["encode"](images=x)["z_mean"].shape == (batch, VAE_LATENT)
        assert sig["reconstruct"](images=x)["images"].shape == (batch, SIZE, SIZE, 3)
        out = sig["anomaly_score"](images=x)
        assert out["score"].shape == (batch,) and out["is_anomaly"].shape == (batch,)


def test_generate_png_holds_the_generate_images(loaded):
    sig = loaded["gan"].signatures
    images = sig["generate"](seed=seeds(0, 1))["images"].numpy()
    for png, image in zip(
        sig["generate_png"](seed=seeds(0, 1))["png_bytes"].numpy(), images
    ):
        assert png.startswith(b"\x89PNG")
        with Image.open(io.BytesIO(png)) as decoded:
            np.testing.assert_array_equal(np.asarray(decoded), image)


def test_keras_file_and_savedmodel_agree(loaded, gan, vae, tmp_path):
    import keras_gen.models  # noqa: F401  (registers the classes)

    gan.compile()  # (an uncompiled GAN cannot be saved: no optimizers)
    vae.compile(optimizer="adam")
    for kind, model in (("gan", gan), ("vae", vae)):
        model.save(tmp_path / f"{kind}.keras")
        reloaded = keras.saving.load_model(tmp_path / f"{kind}.keras")
        expected = reloaded.generate_uint8(8, seed=100)
        got = loaded[kind].signatures["generate"](
            seed=tf.range(100, 108, dtype=tf.int64)
        )
        assert max_step(got["images"], expected) <= 1, kind
    x = test_images(4)
    z_mean, _ = reloaded.encode(x.astype("float32") / 255.0)
    out = loaded["vae"].signatures["encode"](images=tf.constant(x))
    np.testing.assert_allclose(out["z_mean"], z_mean, atol=1e-5)
    recon = reloaded.reconstruct(x.astype("float32") / 255.0)
    got = loaded["vae"].signatures["reconstruct"](images=tf.constant(x))["images"]
    assert max_step(got, np.round(np.asarray(recon) * 255)) <= 1


def test_anomaly_score_is_the_negative_elbo_at_the_posterior_mean(
    loaded, vae, threshold
):
    x = test_images(6)
    xf = x.astype("float32") / 255.0
    z_mean, z_log_var = vae.encode(xf)
    nll = reconstruction_nll(
        xf, vae.decoder(z_mean), vae.likelihood, vae.gaussian_sigma
    )
    expected = np.asarray(nll + kl_divergence(z_mean, z_log_var))
    out = loaded["vae"].signatures["anomaly_score"](images=tf.constant(x))
    np.testing.assert_allclose(out["score"], expected, rtol=1e-4)
    np.testing.assert_array_equal(out["is_anomaly"], expected > threshold)
    # The threshold is the median score of these images: both answers occur.
    assert int(np.sum(out["is_anomaly"])) == len(x) // 2


def test_images_of_any_size_are_resized_like_the_training_pipeline(loaded, vae):
    wide = test_images(2, size=96)[:, :48]  # 48 x 96, not square
    expected = np.stack([resize_and_center_crop(im, SIZE) for im in wide]) / 255.0
    z_mean, _ = vae.encode(expected.astype("float32"))
    got = loaded["vae"].signatures["encode"](images=tf.constant(wide))["z_mean"]
    np.testing.assert_allclose(got, z_mean, atol=1e-4)
    small = test_images(1, size=20)
    assert loaded["vae"].signatures["reconstruct"](images=tf.constant(small))[
        "images"
    ].shape == (1, SIZE, SIZE, 3)


def test_bad_inputs_fail_with_clear_errors(loaded):
    encode = loaded["vae"].signatures["encode"]
    grey = tf.zeros((1, SIZE, SIZE, 1), tf.uint8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="channel count"):
        encode(images=grey)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 1x1"):
        encode(images=tf.zeros((1, 0, 5, 3), tf.uint8))
    # TF Serving does not check requests against the signature, and neither
    # does a loaded signature called from Python: the graph itself refuses
    # wrong dtypes (at its inputs) and wrong shapes (EnsureShape).
    with pytest.raises(tf.errors.InvalidArgumentError, match="uint8 tensor"):
        encode(images=tf.zeros((1, SIZE, SIZE, 3), tf.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[\?,\?,\?,\?\]"):
        encode(images=tf.zeros((SIZE, SIZE, 3), tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="int64 tensor"):
        loaded["gan"].signatures["generate"](seed=tf.constant([1.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="tensor z .* shape"):
        loaded["gan"].signatures["serving_default"](z=tf.zeros((1, GAN_LATENT + 1)))
