"""The patch-gradient convolutions give Keras' convolutions' values and gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.models import patch_grad_conv
from keras_gen.models.patch_grad_conv import PatchGradConv2D, PatchGradConv2DTranspose
from tests.helpers import run_layer_test


def _normal(shape, seed):
    return tf.constant(np.random.default_rng(seed).normal(size=shape), "float32")


def _value_and_grads(fn, x, kernel, upstream):
    with tf.GradientTape() as tape:
        tape.watch([x, kernel])
        y = fn(x, kernel)
        loss = tf.reduce_sum(y * upstream)
    return (y, *tape.gradient(loss, [x, kernel]))


@pytest.mark.parametrize("side", [8, 7, 4])
def test_conv_gradients_equal_tensorflows_in_float32(side):
    """The maths, exactly: SAME padding (odd sides pad unevenly), stride 2."""
    x, kernel = _normal((3, side, side, 5), 0), _normal((4, 4, 5, 6), 1)
    out = (side + 1) // 2
    upstream = _normal((3, out, out, 6), 2)
    ours = _value_and_grads(
        lambda a, k: patch_grad_conv.conv2d(a, k, 2), x, kernel, upstream
    )
    ref = _value_and_grads(
        lambda a, k: tf.nn.conv2d(a, k, 2, "SAME"), x, kernel, upstream
    )
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_transposed_conv_gradients_equal_tensorflows_in_float32():
    x, kernel = _normal((3, 4, 4, 6), 0), _normal((4, 4, 5, 6), 1)
    upstream = _normal((3, 8, 8, 5), 2)
    ours = _value_and_grads(
        lambda a, k: patch_grad_conv.conv2d_transpose(a, k, 2), x, kernel, upstream
    )
    ref = _value_and_grads(
        lambda a, k: tf.nn.conv2d_transpose(a, k, (3, 8, 8, 5), 2, "SAME"),
        x,
        kernel,
        upstream,
    )
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "ours_cls, keras_cls, in_side, use_bias",
    [
        (PatchGradConv2D, keras.layers.Conv2D, 8, False),
        (PatchGradConv2DTranspose, keras.layers.Conv2DTranspose, 4, True),
    ],
)
def test_bfloat16_layers_take_the_fast_path_and_match_keras(
    ours_cls, keras_cls, in_side, use_bias, monkeypatch
):
    """Forward equal to Keras' bfloat16 layer; gradients close to float32's.

    Keras' own bfloat16 bias gradient of the transposed convolution is 5%
    off the float32 one here, so the reference is a float32 layer.
    """
    calls = []
    for name in ("conv2d", "conv2d_transpose"):
        original = getattr(patch_grad_conv, name)
        monkeypatch.setattr(
            patch_grad_conv,
            name,
            lambda *a, _f=original, **k: calls.append(1) or _f(*a, **k),
        )
    x = _normal((4, in_side, in_side, 5), 0)
    results = []
    for cls, policy in (
        (ours_cls, "mixed_bfloat16"),
        (keras_cls, "mixed_bfloat16"),
        (keras_cls, "float32"),
    ):
        layer = cls(6, 4, 2, "same", use_bias=use_bias, dtype=policy)
        layer.build(x.shape)
        layer.set_weights([0.1 * w for w in _weights_like(layer)])
        with tf.GradientTape() as tape:
            y = tf.cast(layer(x), "float32")
            loss = tf.reduce_sum(y * tf.cos(y))
        results.append((y, tape.gradient(loss, layer.trainable_variables)))
    assert calls, "the bfloat16 layer did not take the matmul kernel gradient"
    (y_ours, g_ours), (y_bf16, _), (_, g_f32) = results
    np.testing.assert_allclose(y_ours, y_bf16, rtol=0, atol=0)  # same forward op
    for a, b in zip(g_ours, g_f32, strict=True):
        scale = float(tf.reduce_max(tf.abs(b)))
        np.testing.assert_allclose(a, b, atol=0.03 * scale)


def _weights_like(layer):
    rng = np.random.default_rng(3)
    return [rng.normal(size=w.shape).astype("float32") for w in layer.weights]


def test_float32_and_large_maps_stay_on_the_keras_path(monkeypatch):
    monkeypatch.setattr(
        patch_grad_conv, "conv2d", lambda *a: pytest.fail("fast path taken")
    )
    PatchGradConv2D(4, 4, 2, "same")(_normal((2, 8, 8, 3), 0))  # float32
    big = PatchGradConv2D(4, 4, 2, "same", dtype="mixed_bfloat16")
    big(_normal((2, 16, 16, 3), 0))  # 8x8 = 64 positions > MAX_POSITIONS


@pytest.mark.parametrize(
    "cls, shape, out",
    [(PatchGradConv2D, (2, 8, 8, 3), (2, 4, 4, 6))]
    + [(PatchGradConv2DTranspose, (2, 4, 4, 3), (2, 8, 8, 6))],
)
def test_config_round_trip(cls, shape, out):
    run_layer_test(
        cls,
        {"filters": 6, "kernel_size": (4, 4), "strides": (2, 2), "padding": "same"},
        _normal(shape, 0),
        out,
    )
