"""Layers of the conditional and residual GAN networks."""

from __future__ import annotations

import keras
from keras import ops

from keras_gen.models.distributed import replica_uniform


@keras.saving.register_keras_serializable(package="keras_gen")
class SpectralNormalization(keras.layers.SpectralNormalization):
    """`keras.layers.SpectralNormalization` with float32 kernels under mixed precision.

    Keras' wrapper writes the normalised kernel back into the wrapped layer's
    variable on every training call. Under a mixed policy it reads that
    variable autocast to the compute dtype, so with `mixed_bfloat16` every
    training call rounded the float32 kernel to bfloat16 (8 significant
    bits): the optimizer's float32 weights were thrown away, and updates
    below 2**-9 of a weight were erased. Here the wrapper itself always
    computes in float32 without autocasting (its policy is float32,
    `autocast=False`), inside a mixed-precision model or on its own, so the
    power iteration and the rescaling read and write the kernel in float32;
    the wrapped layer keeps its own policy and computes in bfloat16. Inputs
    reach the wrapped layer uncast, and its output is returned in the
    inputs' dtype (bfloat16 between layers; float32 after a first layer fed
    float32 images).

    Args:
        layer: the layer to normalise (a `Conv2D`, `Dense`, ... with a
            `kernel`, or an `Embedding`).
        power_iterations: power iterations per training call (default 1).
        **kwargs: base `keras.layers.Wrapper` arguments; `dtype` is always
            float32 and `autocast` False.

    Example:
    >>> sn = SpectralNormalization(keras.layers.Dense(4))
    >>> sn(keras.random.normal((2, 3)), training=True).shape
    (2, 4)
    """

    def __init__(self, layer, power_iterations: int = 1, **kwargs):
        kwargs["dtype"] = "float32"
        kwargs["autocast"] = False
        super().__init__(layer, power_iterations=power_iterations, **kwargs)


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalBatchNormalization(keras.layers.Layer):
    """Batch norm whose scale and shift are looked up per class (de Vries et al. 2017).

    The activations are normalised without a learned affine part, then each
    image gets `gamma[label] * x + beta[label]`: the class steers every layer of
    the generator, which conditions far more strongly than a label
    concatenated to the latent vector (BigGAN, SNGAN's conditional models).

    Args:
        num_classes: number of classes (labels are ids in [0, num_classes)).
        momentum: momentum of the moving statistics.
        epsilon: added to the variance.
        synchronized: all-reduce batch statistics across replicas.
        gamma_initializer: initializer of the per-class scales (default ones).

    Example:
    >>> cbn = ConditionalBatchNormalization(num_classes=3)
    >>> x = keras.random.normal((4, 8, 8, 16))
    >>> cbn([x, ops.array([0, 1, 2, 0])], training=True).shape
    (4, 8, 8, 16)
    """

    def __init__(
        self,
        num_classes: int,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        synchronized: bool = False,
        gamma_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.momentum = momentum
        self.epsilon = epsilon
        self.synchronized = synchronized
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=momentum,
            epsilon=epsilon,
            center=False,
            scale=False,
            synchronized=synchronized,
            dtype=self.dtype_policy,
            name="batch_norm",
        )

    def build(self, input_shape):
        x_shape, _ = input_shape
        channels = int(x_shape[-1])
        self.batch_norm.build(x_shape)
        self.gamma = self.add_weight(
            shape=(self.num_classes, channels),
            initializer=self.gamma_initializer,
            name="gamma",
        )
        self.beta = self.add_weight(
            shape=(self.num_classes, channels), initializer="zeros", name="beta"
        )

    def call(self, inputs, training=None):
        x, labels = inputs
        x = self.batch_norm(x, training=training)
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        gamma = ops.take(ops.cast(self.gamma, x.dtype), labels, axis=0)
        beta = ops.take(ops.cast(self.beta, x.dtype), labels, axis=0)
        gamma = ops.reshape(gamma, (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],))
        beta = ops.reshape(beta, ops.shape(gamma))
        return x * gamma + beta

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "synchronized": self.synchronized,
                "gamma_initializer": keras.initializers.serialize(
                    self.gamma_initializer
                ),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_gen")
class ClassProjection(keras.layers.Layer):
    """The projection discriminator's class term `<embed(label), features>`.

    Miyato & Koyama 2018, "cGANs with projection discriminator".

    Added to the unconditional logit, it makes the discriminator judge
    whether an image fits its label with one inner product, which trains
    better than concatenating a one-hot label to the input.

    Args:
        num_classes: number of classes.
        spectral_norm: normalise the embedding matrix by its largest singular
            value (as the discriminator's other layers), so the class term
            keeps the discriminator's Lipschitz bound.

    Example:
    >>> proj = ClassProjection(num_classes=3)
    >>> proj([keras.random.normal((4, 16)), ops.array([0, 1, 2, 0])]).shape
    (4, 1)
    """

    def __init__(self, num_classes: int, spectral_norm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.spectral_norm = spectral_norm

    def build(self, input_shape):
        features_shape, _ = input_shape
        dim = int(features_shape[-1])
        self.embeddings = self.add_weight(
            shape=(self.num_classes, dim),
            initializer=keras.initializers.RandomNormal(0.0, 0.02),
            name="embeddings",
        )
        if self.spectral_norm:
            self.u = self.add_weight(
                shape=(1, dim),
                initializer=keras.initializers.RandomNormal(0.0, 1.0),
                trainable=False,
                name="u",
            )

    def _normalized_embeddings(self, training):
        w = self.embeddings
        if not self.spectral_norm:
            return w
        # One power iteration per training step, as keras.layers.SpectralNormalization.
        u = self.u
        v = ops.normalize(ops.matmul(u, ops.transpose(w)), axis=-1, epsilon=1e-12)
        u = ops.normalize(ops.matmul(v, w), axis=-1, epsilon=1e-12)
        u = ops.stop_gradient(u)
        v = ops.stop_gradient(v)
        sigma = ops.matmul(ops.matmul(v, w), ops.transpose(u))
        if training:
            self.u.assign(ops.cast(u, self.u.dtype))
        return w / sigma

    def call(self, inputs, training=None):
        features, labels = inputs
        w = ops.cast(self._normalized_embeddings(training), features.dtype)
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        embedded = ops.take(w, labels, axis=0)
        return ops.sum(embedded * features, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_classes": self.num_classes, "spectral_norm": self.spectral_norm}
        )
        return config


@keras.saving.register_keras_serializable(package="keras_gen")
class GlobalSumPooling2D(keras.layers.Layer):
    """Sum over height and width, `[b, h, w, c]` -> `[b, c]`, in float32.

    SNGAN's discriminator pools by summing: with spectral normalisation the
    logit then scales with the amount of evidence in the image, which a
    mean would divide away.

    Example:
    >>> GlobalSumPooling2D()(ops.ones((2, 4, 4, 3))).shape
    (2, 3)
    """

    def call(self, inputs):
        return ops.sum(ops.cast(inputs, "float32"), axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="keras_gen")
class GLU(keras.layers.Layer):
    """Gated linear unit over channels: `a * sigmoid(b)` for `[a, b] = split(x)`.

    FastGAN's activation (Liu et al. 2021): the convolution before it makes
    twice the channels, half of which gate the other half.

    Example:
    >>> GLU()(keras.random.normal((2, 4, 4, 6))).shape
    (2, 4, 4, 3)
    """

    def call(self, inputs):
        a, b = ops.split(inputs, 2, axis=-1)
        return a * ops.sigmoid(b)

    def compute_output_shape(self, input_shape):
        if input_shape[-1] % 2:
            raise ValueError(f"GLU needs an even channel count, got {input_shape}")
        return (*input_shape[:-1], input_shape[-1] // 2)


@keras.saving.register_keras_serializable(package="keras_gen")
class RandomQuadrantCrop(keras.layers.Layer):
    """The same random quadrant of a feature map and of its image, per example.

    The part decoder of FastGAN's self-supervised discriminator rebuilds one
    quadrant of the image from the matching quadrant of a feature map; the
    quadrant is drawn per example while training (the first one otherwise).

    Args:
        seed: seed of the quadrant draws.

    Example:
    >>> crop = RandomQuadrantCrop(seed=0)
    >>> f, x = crop([keras.random.normal((2, 8, 8, 4)),
    ...              keras.random.normal((2, 32, 32, 3))], training=True)
    >>> tuple(f.shape), tuple(x.shape)
    ((2, 4, 4, 4), (2, 16, 16, 3))
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @staticmethod
    def _quadrants(x):
        h, w = x.shape[1] // 2, x.shape[2] // 2
        parts = [x[:, :h, :w], x[:, :h, w:], x[:, h:, :w], x[:, h:, w:]]
        return ops.stack(parts, axis=1)

    def call(self, inputs, training=None):
        batch = ops.shape(inputs[0])[0]
        if training:
            # Drawn for the global batch and sliced per replica, so that N
            # replicas crop what one device would.
            u = replica_uniform((batch,), self.seed_generator)
            index = ops.minimum(ops.cast(ops.floor(4.0 * u), "int32"), 3)
        else:
            index = ops.zeros((batch,), "int32")
        one_hot = ops.one_hot(index, 4)
        outputs = []
        for x in inputs:
            weights = ops.reshape(ops.cast(one_hot, x.dtype), (batch, 4, 1, 1, 1))
            outputs.append(ops.sum(self._quadrants(x) * weights, axis=1))
        return outputs

    def compute_output_shape(self, input_shape):
        return [(s[0], s[1] // 2, s[2] // 2, s[3]) for s in input_shape]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_gen")
class ReconstructionError(keras.layers.Layer):
    """Per-example mean squared error `[batch]` of `[decoded, target]` (float32).

    Example:
    >>> ReconstructionError()([ops.ones((2, 4, 4, 3)), ops.zeros((2, 4, 4, 3))])
    ... # doctest: +ELLIPSIS
    <tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 1.]...)>
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs):
        decoded, target = (ops.cast(x, "float32") for x in inputs)
        return ops.mean(ops.square(decoded - target), axis=(1, 2, 3))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)
