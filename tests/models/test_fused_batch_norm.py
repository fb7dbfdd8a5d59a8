"""FusedBatchNormalization computes what keras.layers.BatchNormalization does."""

import keras
import numpy as np
import tensorflow as tf

from keras_gen.models.fused_batch_norm import FusedBatchNormalization


def _pair(**kwargs):
    init = {
        "gamma_initializer": keras.initializers.RandomNormal(1.0, 0.2, seed=1),
        "beta_initializer": keras.initializers.RandomNormal(0.0, 0.2, seed=2),
    }
    ref = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, **init, **kwargs)
    fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-5, **init, **kwargs)
    return ref, fused


def test_training_output_statistics_and_gradients_match():
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, (4, 5, 5, 6)), "float32")
    upstream = tf.constant(np.random.default_rng(1).normal(size=x.shape), "float32")
    ref, fused = _pair()
    results = []
    for layer in (ref, fused):
        layer.build(x.shape)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * upstream)
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append((y, grads, [w.numpy() for w in layer.non_trainable_weights]))
    (y0, g0, s0), (y1, g1, s1) = results
    np.testing.assert_allclose(y1, y0, atol=1e-5)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    for a, b in zip(s1, s0):  # moving mean and (biased) moving variance
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        fused(x, training=False), ref(x, training=False), atol=1e-5
    )


def test_falls_back_where_the_kernel_does_not_apply_and_round_trips():
    ref, fused = _pair(synchronized=True)
    x = keras.random.normal((2, 3, 3, 4), seed=0)
    np.testing.assert_allclose(
        fused(x, training=True), ref(x, training=True), atol=1e-5
    )
    dense_input = keras.random.normal((5, 4), seed=0)  # not NHWC: Keras path
    assert FusedBatchNormalization()(dense_input, training=True).shape == (5, 4)
    clone = keras.layers.deserialize(keras.layers.serialize(fused))
    assert isinstance(clone, FusedBatchNormalization)
    assert clone.get_config() == fused.get_config()
