"""Batch normalization on TensorFlow's fused kernel.

Keras 3's `BatchNormalization` computes the moments and the normalisation as
separate elementwise ops and reductions (and as many more in the gradient);
TF's `FusedBatchNormV3` does the forward pass in one op and the backward pass
in one `FusedBatchNormGradV3`. Same variables, same maths (the moving
variance is updated with the biased batch variance, as Keras does), so
checkpoints written with either layer load into the other.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_gen")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that uses TF's fused kernel when it can.

    Falls back to the Keras implementation for anything the fused kernel does
    not cover: another backend, masks, renorm, synchronized (cross-replica)
    statistics, missing scale or offset, inputs that are not NHWC images.

    Example:
    >>> bn = FusedBatchNormalization()
    >>> bn(keras.random.normal((2, 4, 4, 3)), training=True).shape
    (2, 4, 4, 3)
    """

    def _fusable(self, inputs, mask) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and self.center
            and self.scale
            and not self.renorm
            and not self.synchronized
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        # float32 statistics whatever the policy, as the Keras layer does.
        # (Feeding bfloat16 straight to the kernel measured +0.4%, within
        # noise, and was not kept: docs/performance.md, issue 20.)
        x = tf.cast(inputs, "float32")
        gamma = tf.cast(self.gamma, "float32")
        beta = tf.cast(self.beta, "float32")
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, epsilon=self.epsilon, is_training=True
            )
            # The kernel returns the Bessel-corrected variance; Keras' moving
            # statistics use the biased one.
            n = tf.cast(tf.size(x) // tf.shape(x)[-1], "float32")
            variance = variance * tf.maximum(n - 1.0, 0.0) / n
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x,
                gamma,
                beta,
                mean=tf.cast(self.moving_mean, "float32"),
                variance=tf.cast(self.moving_variance, "float32"),
                epsilon=self.epsilon,
                is_training=False,
            )
        return tf.cast(y, self.compute_dtype)
