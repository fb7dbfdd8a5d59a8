"""The `VAE` model (Kingma & Welling 2014) with a custom `train_step`."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from keras_gen.models.base import GenerativeModel, SeedStateMixin, images_from_data
from keras_gen.models.distributed import average_over_global_batch, replica_normal

LIKELIHOODS = ("bernoulli", "gaussian")


@keras.saving.register_keras_serializable(package="keras_gen")
class Sampling(SeedStateMixin, keras.layers.Layer):
    """Reparameterisation: z = mean + exp(log_var / 2) * eps, eps ~ N(0, I).

    The noise is drawn per replica (see `keras_gen.models.distributed`), so
    replicas of a distributed step do not share it.

    Args:
        seed: seed of the noise (None: random).

    Example:
    >>> z = Sampling(seed=0)([ops.zeros((2, 4)), ops.zeros((2, 4))])
    >>> z.shape
    (2, 4)
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # No weights to create; being built keeps `fit` from building the
        # whole VAE by calling it on an image batch.
        self.built = True

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = replica_normal(ops.shape(z_mean), self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config


def kl_divergence(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) per example, summed over latent dimensions."""
    return -0.5 * ops.sum(
        1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1
    )


def reconstruction_nll(images, logits, likelihood: str, sigma: float):
    """Negative log-likelihood of `images` in [0, 1] per example, summed over pixels.

    "bernoulli" is the binary cross-entropy with logits (the Keras VAE guide's
    choice); "gaussian" is the squared error of sigmoid(logits) scaled by
    1 / (2 sigma^2), plus the constant that makes it a true density, so that
    the ELBO can be compared across settings.
    """
    images = ops.cast(images, "float32")
    logits = ops.cast(logits, "float32")
    if likelihood == "bernoulli":
        per_pixel = (
            ops.maximum(logits, 0.0)
            - logits * images
            + ops.log1p(ops.exp(-ops.abs(logits)))
        )
    elif likelihood == "gaussian":
        per_pixel = ops.square(images - ops.sigmoid(logits)) / (2.0 * sigma**2) + (
            math.log(sigma) + 0.5 * math.log(2.0 * math.pi)
        )
    else:
        raise ValueError(
            f"Unknown likelihood {likelihood!r}. Valid: {', '.join(LIKELIHOODS)}."
        )
    return ops.sum(ops.reshape(per_pixel, (ops.shape(images)[0], -1)), axis=1)


@keras.saving.register_keras_serializable(package="keras_gen")
class VAE(GenerativeModel):
    """Convolutional variational autoencoder.

    Loss per example: reconstruction negative log-likelihood (summed over
    pixels) + beta * KL, averaged over the global batch. `kl_weight` is a
    variable multiplying beta, which KL warm-up schedules (the `KLWarmup`
    callback) move from 0 to 1.

    Args:
        encoder: model mapping images in [0, 1] to `(z_mean, z_log_var)`.
        decoder: model mapping latents to pixel logits.
        beta: weight of the KL term (1 is the ELBO; >1 is a beta-VAE).
        likelihood: "bernoulli" (cross-entropy) or "gaussian" (squared error).
        gaussian_sigma: fixed standard deviation of the Gaussian likelihood.
        seed: seed of the reparameterisation noise (None: random).

    Example:
    >>> from keras_gen.models.vae.networks import build_vae_encoder, build_vae_decoder
    >>> vae = VAE(build_vae_encoder(32, 8, 8), build_vae_decoder(32, 8, 8))
    >>> vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> images = keras.random.uniform((8, 32, 32, 3))
    >>> history = vae.fit(images, batch_size=4, epochs=1, verbose=0)
    >>> vae.reconstruct(images[:2]).shape
    (2, 32, 32, 3)
    """

    value_range = (0.0, 1.0)

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        gaussian_sigma: float = 0.1,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(
                f"Unknown likelihood {likelihood!r}. Valid: {', '.join(LIKELIHOODS)}."
            )
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.likelihood = likelihood
        self.gaussian_sigma = gaussian_sigma
        self.seed = seed
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        # float32 whatever the policy: the noise and the posterior stay exact.
        self.sampling = Sampling(seed=seed, name="sampling", dtype="float32")
        self.kl_weight = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="kl_weight"
        )
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "reconstruction_loss", "kl_loss")
        }
        self.built = True

    def compile(self, optimizer="adam", **kwargs):
        """Configure training; `optimizer` defaults to Adam(1e-3)."""
        super().compile(optimizer=optimizer, **kwargs)
        # Built now, inside the caller's strategy scope, so that restoring a
        # backup finds the optimizer's variables (a lazily built optimizer is
        # skipped by `load_weights`).
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips compiling models whose compile() is overridden.
        self.compile(**keras.saving.deserialize_keras_object(config))

    # --------------------------------------------------------------- inference
    def encode(self, images, training=False):
        """Images in [0, 1] -> (z_mean, z_log_var)."""
        return self.encoder(images, training=training)

    def decode(self, z, training=False):
        """Latents -> images in [0, 1]."""
        return ops.sigmoid(self.decoder(z, training=training))

    def decode_latents(self, z, training=False):
        return self.decode(z, training=training)

    def sample(self, num_images: int, seed: int | None = None):
        """`num_images` images decoded from prior samples (numpy, [0, 1])."""
        return self.generate(num_images, seed=seed)

    def reconstruct(self, images, sample: bool = False):
        """Decode the posterior mean (or a posterior sample) of `images`."""
        z_mean, z_log_var = self.encode(images)
        z = self.sampling([z_mean, z_log_var]) if sample else z_mean
        return self.decode(z)

    # ------------------------------------------------------------------- steps
    def _compute_losses(self, images, training):
        z_mean, z_log_var = self.encoder(images, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        reconstruction = reconstruction_nll(
            images, logits, self.likelihood, self.gaussian_sigma
        )
        kl = kl_divergence(z_mean, z_log_var)
        per_example = reconstruction + self.beta * self.kl_weight * kl
        logs = {
            "loss": ops.mean(per_example),
            "reconstruction_loss": ops.mean(reconstruction),
            "kl_loss": ops.mean(kl),
        }
        return per_example, logs

    def train_step(self, data):
        images = images_from_data(data)
        with tf.GradientTape() as tape:
            per_example, logs = self._compute_losses(images, training=True)
            loss = self.optimizer.scale_loss(average_over_global_batch(per_example))
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        self._record(logs)
        return self._logs()

    def test_step(self, data):
        _, logs = self._compute_losses(images_from_data(data), training=False)
        self._record(logs)
        return self._logs()

    # ------------------------------------------------------------ serialization
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.layers.serialize(self.encoder),
                "decoder": keras.layers.serialize(self.decoder),
                "beta": self.beta,
                "likelihood": self.likelihood,
                "gaussian_sigma": self.gaussian_sigma,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.layers.deserialize(config["encoder"])
        config["decoder"] = keras.layers.deserialize(config["decoder"])
        return cls(**config)
