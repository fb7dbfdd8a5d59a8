"""Feature extractors: built-in random network, InceptionV3 from a file, user models."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.evaluation.features import (
    INCEPTION_WEIGHTS_ENV,
    INCEPTION_WEIGHTS_FILE,
    INCEPTION_WEIGHTS_URL,
    InceptionFeatures,
    KerasModelFeatures,
    RandomConvFeatures,
    get_feature_extractor,
)
from tests.models.gan.test_gan import tiny_gan


def test_random_conv_is_deterministic_and_batch_independent(rooms32):
    f1, f2 = RandomConvFeatures(), RandomConvFeatures()
    a = f1(rooms32[:10], batch_size=3)
    b = f2(rooms32[:10], batch_size=10)
    assert a.shape == (10, 992) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Another seed is another network.
    c = RandomConvFeatures(seed=1)(rooms32[:10])
    assert not np.allclose(a, c, atol=1e-3)
    # Any input size is resized to the network's 64x64.
    big = np.repeat(np.repeat(rooms32[:2], 2, axis=1), 2, axis=2)
    assert f1(big).shape == (2, 992)
    info = f1.describe()
    assert info["comparable_with_published"] is False
    assert "NOT with published" in info["note"]


def test_random_conv_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        RandomConvFeatures()(np.zeros((1, 32, 32, 3), np.float32))


def test_inception_from_a_weights_file_resizes_to_299(tmp_path, rooms32):
    # No network here: random weights saved to a file stand in for the real
    # ones (same architecture, same compute).
    model = keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=None, input_shape=(299, 299, 3)
    )
    path = tmp_path / "inception.weights.h5"
    model.save_weights(path)
    extractor = InceptionFeatures(path)
    features = extractor(rooms32[:2])
    assert features.shape == (2, 2048)
    resized = tf.image.resize(tf.cast(rooms32[:2], tf.float32), (299, 299))
    expected = model(resized / 127.5 - 1.0, training=False).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    # Not the official file: the results must say so.
    info = extractor.describe()
    assert info["official_weights"] is False
    assert info["comparable_with_published"] is False
    assert "not comparable" in info["note"]


def test_missing_inception_weights_say_what_to_download(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    with pytest.raises(FileNotFoundError) as err:
        get_feature_extractor("inception")
    message = str(err.value)
    for fragment in (
        INCEPTION_WEIGHTS_FILE,
        INCEPTION_WEIGHTS_URL,
        "--inception-weights",
    ):
        assert fragment in message
    assert INCEPTION_WEIGHTS_ENV in message and "--features rooms" in message
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(tmp_path / "nope.h5"))
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        InceptionFeatures()


def test_user_model_layer_is_pooled_and_found_in_nested_models(tmp_path, rooms32):
    gan = tiny_gan()
    disc = gan.discriminator
    layer = next(lay.name for lay in disc.layers[1:] if len(lay.output.shape) == 4)
    extractor = KerasModelFeatures(gan, layer=layer, input_range=(-1.0, 1.0))
    features = extractor(rooms32[:3])
    inner = keras.Model(disc.inputs[0], disc.get_layer(layer).output)
    maps = inner(rooms32[:3].astype(np.float32) / 127.5 - 1.0).numpy()
    np.testing.assert_allclose(features, maps.mean(axis=(1, 2)), rtol=1e-4, atol=1e-5)
    assert extractor.dim == maps.shape[-1]
    # From a .keras file, by path.
    path = tmp_path / "gan.keras"
    gan.compile()  # an uncompiled GAN cannot be saved (get_compile_config)
    gan.save(path)
    loaded = get_feature_extractor(str(path), layer=layer, input_range=(-1.0, 1.0))
    np.testing.assert_allclose(loaded(rooms32[:3]), features, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no layer named"):
        KerasModelFeatures(gan, layer="missing")


def test_unknown_features_are_rejected():
    with pytest.raises(ValueError, match="'rooms', 'inception', 'random'"):
        get_feature_extractor("vgg")
