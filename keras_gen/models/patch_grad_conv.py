"""Strided convolutions whose kernel gradient is one matrix product.

On a CPU with bfloat16 (AVX512-BF16/AMX), oneDNN's backward-weights kernel is
slow when the strided side of a convolution has few positions: for the
DCGAN-64's 256->512-channel layer (8x8 -> 4x4, batch 64) it took 56 ms
where the same gradient written as `patches(x)^T @ dy` (one bf16 matrix
product over `extract_patches`) took 23 ms, and that layer's gradient runs
three times per GAN step (twice in the discriminator update, once as the
generator's first upsampling). In float32, and on larger maps, oneDNN is as
fast or faster, so the layers below take the matrix product only where it
was measured to win: TensorFlow backend, bfloat16 compute, equal strides
of 2, "same" padding, no dilation, channels-last, and at most
`MAX_POSITIONS` positions on the small side. Everywhere else they are
exactly `keras.layers.Conv2D` / `Conv2DTranspose`. The forward pass and the
input gradient are unchanged (oneDNN). The DCGAN and VAE networks use them;
`python benchmarks/train_throughput.py --parts ablation` measures the steps
with and without them.
"""

from __future__ import annotations

import keras
import tensorflow as tf

MAX_POSITIONS = 16


def _same_pads(size: int, out: int, k: int, s: int) -> list[int]:
    total = max((out - 1) * s + k - size, 0)
    return [total // 2, total - total // 2]


def _patch_matrix(x, k: int, s: int, out_hw) -> tf.Tensor:
    """`[batch * oh * ow, k * k * channels]`: the SAME-padded input patches."""
    pads = [[0, 0], _same_pads(x.shape[1], out_hw[0], k, s)]
    pads += [_same_pads(x.shape[2], out_hw[1], k, s), [0, 0]]
    patches = tf.image.extract_patches(
        tf.pad(x, pads), [1, k, k, 1], [1, s, s, 1], [1, 1, 1, 1], "VALID"
    )
    return tf.reshape(patches, (-1, k * k * x.shape[-1]))


def _kernel_grad(big, small, kernel_shape, s: int):
    """Gradient of a conv kernel from its large-map and small-map tensors."""
    patches = _patch_matrix(big, kernel_shape[0], s, small.shape[1:3])
    flat = tf.reshape(small, (-1, small.shape[-1]))
    return tf.reshape(tf.linalg.matmul(patches, flat, transpose_a=True), kernel_shape)


def conv2d(x, kernel, stride: int):
    """`tf.nn.conv2d(x, kernel, stride, "SAME")`, kernel gradient by matmul."""

    @tf.custom_gradient
    def run(x, kernel):
        y = tf.nn.conv2d(x, kernel, stride, "SAME")

        def grad(dy):
            dx = tf.nn.conv2d_transpose(dy, kernel, tf.shape(x), stride, "SAME")
            return dx, _kernel_grad(x, dy, kernel.shape, stride)

        return y, grad

    # A tensor, not the layer's variable: custom_gradient would otherwise
    # want the variable's gradient through a `variables` argument.
    return run(x, tf.cast(kernel, x.dtype))


def conv2d_transpose(x, kernel, stride: int):
    """SAME transposed convolution (output `stride` x larger), same gradient rule."""
    out_shape = tf.stack(
        [tf.shape(x)[0], x.shape[1] * stride, x.shape[2] * stride, kernel.shape[2]]
    )

    @tf.custom_gradient
    def run(x, kernel):
        y = tf.nn.conv2d_transpose(x, kernel, out_shape, stride, "SAME")

        def grad(dy):
            dx = tf.nn.conv2d(dy, kernel, stride, "SAME")
            return dx, _kernel_grad(dy, x, kernel.shape, stride)

        return y, grad

    return run(x, tf.cast(kernel, x.dtype))


def _applies(layer, small_hw, dtype) -> bool:
    return (
        keras.backend.backend() == "tensorflow"
        and dtype == tf.bfloat16
        and layer.padding == "same"
        and layer.data_format == "channels_last"
        and tuple(layer.strides) == (2, 2)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.kernel_size[0] == layer.kernel_size[1]
        and None not in small_hw
        and small_hw[0] * small_hw[1] <= MAX_POSITIONS
    )


@keras.saving.register_keras_serializable(package="keras_gen")
class PatchGradConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with the bfloat16 kernel-gradient fast path.

    Example:
    >>> layer = PatchGradConv2D(8, 4, 2, "same")
    >>> layer(keras.random.normal((2, 8, 8, 3))).shape
    (2, 4, 4, 8)
    """

    def convolution_op(self, inputs, kernel):
        # SAME padding, stride 2: the output side is ceil(input side / 2).
        small = tuple(None if d is None else (d + 1) // 2 for d in inputs.shape[1:3])
        if getattr(self, "groups", 1) == 1 and _applies(self, small, inputs.dtype):
            return conv2d(inputs, kernel, 2)
        return super().convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="keras_gen")
class PatchGradConv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` with the bfloat16 kernel-gradient fast path.

    Example:
    >>> layer = PatchGradConv2DTranspose(8, 4, 2, "same")
    >>> layer(keras.random.normal((2, 4, 4, 3))).shape
    (2, 8, 8, 8)
    """

    def call(self, inputs):
        if self.output_padding is not None or not _applies(
            self, inputs.shape[1:3], inputs.dtype
        ):
            return super().call(inputs)
        outputs = conv2d_transpose(inputs, self.kernel, 2)
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            return self.activation(outputs)
        return outputs
