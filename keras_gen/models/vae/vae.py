"""The `VAE` model (Kingma & Welling 2014) with a custom `train_step`."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from keras_gen.models.base import (
    GenerativeModel,
    SeedStateMixin,
    deserialize_networks,
    images_from_data,
    labels_from_data,
)
from keras_gen.models.distributed import average_over_global_batch, replica_normal
from keras_gen.models.vae.corruption import corrupt, normalize_spec

LIKELIHOODS = ("bernoulli", "gaussian")
LEARNED_SIGMA = ("global", "channel")


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


def kl_per_dimension(z_mean, z_log_var):
    """KL(q(z_j|x) || N(0, 1)) for every example and latent dimension j."""
    return -0.5 * (1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))


def kl_divergence(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) per example, summed over latent dimensions."""
    return ops.sum(kl_per_dimension(z_mean, z_log_var), axis=-1)


def free_bits_kl(z_mean, z_log_var, free_bits: float):
    """KL per example with every dimension's term floored at `free_bits` nats.

    Kingma et al. (2016): a dimension whose KL is below the floor costs the
    constant `free_bits`, so its gradient is zero and the optimiser has no
    reason to push it further towards the prior (posterior collapse). The
    floor is applied per example and dimension (not to the batch mean), which
    keeps the loss a sum of per-example terms, as the global-batch averaging
    under `tf.distribute` needs.
    """
    kl = kl_per_dimension(z_mean, z_log_var)
    if free_bits > 0:
        kl = ops.maximum(kl, free_bits)
    return ops.sum(kl, axis=-1)


def reconstruction_nll(images, logits, likelihood: str, sigma):
    """Negative log-likelihood of `images` in [0, 1] per example, summed over pixels.

    "bernoulli" is the binary cross-entropy with logits (the Keras VAE guide's
    choice); "gaussian" is the squared error of sigmoid(logits) scaled by
    1 / (2 sigma^2), plus the constant that makes it a true density, so that
    the ELBO can be compared across settings. `sigma` is a float or a tensor
    that broadcasts against the images (a learned global or per-channel
    standard deviation).
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
        log_sigma = (
            math.log(sigma)
            if isinstance(sigma, (int, float))
            else ops.log(ops.cast(sigma, "float32"))
        )
        per_pixel = ops.square(images - ops.sigmoid(logits)) / (
            2.0 * ops.exp(2.0 * log_sigma)
        ) + (log_sigma + 0.5 * math.log(2.0 * math.pi))
    else:
        raise ValueError(
            f"Unknown likelihood {likelihood!r}. Valid: {', '.join(LIKELIHOODS)}."
        )
    return ops.sum(ops.reshape(per_pixel, (ops.shape(images)[0], -1)), axis=1)


def _check_likelihood(likelihood, learned_sigma, free_bits) -> None:
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"Unknown likelihood {likelihood!r}. Valid: {', '.join(LIKELIHOODS)}."
        )
    if learned_sigma is not None and learned_sigma not in LEARNED_SIGMA:
        raise ValueError(
            f"learned_sigma: {learned_sigma!r} is not one of None, "
            f"{', '.join(LEARNED_SIGMA)}."
        )
    if learned_sigma is not None and likelihood != "gaussian":
        raise ValueError(
            f"learned_sigma needs likelihood='gaussian', got likelihood={likelihood!r}."
        )
    if free_bits < 0:
        raise ValueError(f"free_bits must be >= 0, got {free_bits}.")


def _check_conditional(encoder, decoder, class_names) -> None:
    conditional = len(decoder.inputs) == 2
    if conditional != bool(class_names) or len(encoder.inputs) != len(decoder.inputs):
        raise ValueError(
            "a conditional VAE needs class_names and an encoder and decoder "
            "built with num_classes (inputs [images, label] and [z, label]); "
            f"got class_names={class_names!r}, encoder inputs "
            f"{len(encoder.inputs)}, decoder inputs {len(decoder.inputs)}"
        )


@keras.saving.register_keras_serializable(package="keras_gen")
class VAE(GenerativeModel):
    """Convolutional variational autoencoder.

    Loss per example: reconstruction negative log-likelihood (summed over
    pixels) + beta * KL, averaged over the global batch. `kl_weight` is a
    variable multiplying beta, which KL schedules (`KLWarmup`, `CyclicalKL`
    callbacks) move between 0 and 1. With `free_bits` > 0 each latent
    dimension's KL term is floored at that many nats in the loss (the logged
    `kl_loss` stays the true KL).

    Logged: `loss`, `reconstruction_loss`, `kl_loss` and `nelbo_bits_per_dim`,
    the negative ELBO (beta 1, full KL, no free bits) in bits per dimension;
    `fit(validation_data=...)` reports it on held-out images as
    `val_nelbo_bits_per_dim`. For the Gaussian likelihoods it is a density of
    continuous pixels (comparable between Gaussian runs only).

    Args:
        encoder: model mapping images in [0, 1] to `(z_mean, z_log_var)`.
        decoder: model mapping latents to pixel logits.
        beta: weight of the KL term (1 is the ELBO; >1 is a beta-VAE; 0 is a
            plain autoencoder with a stochastic bottleneck).
        likelihood: "bernoulli" (cross-entropy) or "gaussian" (squared error).
        gaussian_sigma: standard deviation of the Gaussian likelihood (the
            initial value when `learned_sigma` is set).
        learned_sigma: None (fixed sigma), "global" (one learned log-sigma)
            or "channel" (one per image channel); Gaussian likelihood only.
        free_bits: KL floor per latent dimension, in nats (0: off).
        denoising: corruption spec (see `keras_gen.models.vae.corruption`):
            `train_step` encodes the corrupted batch and scores the
            reconstruction against the clean one. None: a plain VAE.
        class_names: conditional VAE (Kingma et al. 2014, M2 without the
            classifier): the encoder takes `[images, label]`, the decoder
            `[z, label]` (build them with `num_classes`), batches are
            `(images, labels)`; sampling takes `labels=` (ids or names).
        seed: seed of the reparameterisation and corruption noise.

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
        learned_sigma: str | None = None,
        free_bits: float = 0.0,
        denoising: dict | None = None,
        class_names: list[str] | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_likelihood(likelihood, learned_sigma, free_bits)
        _check_conditional(encoder, decoder, class_names)
        self.class_names = list(class_names) if class_names else None
        self.num_classes = len(class_names) if class_names else None
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.likelihood = likelihood
        self.gaussian_sigma = gaussian_sigma
        self.learned_sigma = learned_sigma
        self.free_bits = free_bits
        self.denoising = normalize_spec(denoising)
        self.seed = seed
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        self.image_dims = math.prod(int(d) for d in decoder.outputs[0].shape[1:])
        # float32 whatever the policy: the noise and the posterior stay exact.
        self.sampling = Sampling(seed=seed, name="sampling", dtype="float32")
        self.kl_weight = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="kl_weight"
        )
        self.log_sigma = self._learned_log_sigma()
        if self.denoising is not None:
            self.corruption_seed = keras.random.SeedGenerator(
                None if seed is None else seed + 1
            )
        names = ("loss", "reconstruction_loss", "kl_loss", "nelbo_bits_per_dim")
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True

    def _learned_log_sigma(self):
        """The learned log standard deviation of the Gaussian likelihood, if any."""
        if self.learned_sigma is None:
            return None
        channels = int(self.decoder.outputs[0].shape[-1])
        return self.add_weight(
            shape=(channels,) if self.learned_sigma == "channel" else (),
            initializer=keras.initializers.Constant(math.log(self.gaussian_sigma)),
            dtype="float32",
            name="log_sigma",
        )

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
    def sigma(self):
        """Standard deviation of the Gaussian likelihood (learned or fixed)."""
        if self.log_sigma is None:
            return self.gaussian_sigma
        return ops.exp(self.log_sigma)

    def _conditioned(self, x, labels):
        if bool(self.num_classes) != (labels is not None):
            raise ValueError(
                "a conditional VAE needs labels (class ids)"
                if self.num_classes
                else "labels given, but the VAE is not conditional"
            )
        if labels is None:
            return x
        # Keras refuses a list mixing numpy arrays and tensors.
        return [ops.convert_to_tensor(x), ops.cast(labels, "int32")]

    def encode(self, images, training=False, labels=None):
        """Images in [0, 1] (and labels, if conditional) -> (z_mean, z_log_var)."""
        return self.encoder(self._conditioned(images, labels), training=training)

    def decode(self, z, training=False, labels=None):
        """Latents (and labels, if conditional) -> images in [0, 1]."""
        return ops.sigmoid(
            self.decoder(self._conditioned(z, labels), training=training)
        )

    def decode_latents(self, z, training=False):
        # `generate` and the sample grids pass [z, labels] to conditional models.
        if isinstance(z, (list, tuple)):
            return self.decode(z[0], training=training, labels=z[1])
        return self.decode(z, training=training)

    def sample(self, num_images: int, seed: int | None = None):
        """`num_images` images decoded from prior samples (numpy, [0, 1])."""
        return self.generate(num_images, seed=seed)

    def reconstruct(self, images, sample: bool = False, labels=None):
        """Decode the posterior mean (or a posterior sample) of `images`."""
        z_mean, z_log_var = self.encode(images, labels=labels)
        z = self.sampling([z_mean, z_log_var]) if sample else z_mean
        return self.decode(z, labels=labels)

    def denoise(self, images, labels=None):
        """Reconstruction of (noisy) images from the posterior mean."""
        return self.reconstruct(images, labels=labels)

    def negative_elbo(self, images, sample: bool = False, labels=None):
        """Negative ELBO per example in nats (beta 1, no free bits).

        With `sample=False` the decoder sees the posterior mean: a
        deterministic score (used for anomaly detection); with True a
        one-sample Monte Carlo estimate of the bound.
        """
        z_mean, z_log_var = self.encode(images, labels=labels)
        z = self.sampling([z_mean, z_log_var]) if sample else z_mean
        logits = self.decoder(self._conditioned(z, labels), training=False)
        return reconstruction_nll(
            images, logits, self.likelihood, self.sigma()
        ) + kl_divergence(z_mean, z_log_var)

    # ------------------------------------------------------------------- steps
    def _compute_losses(self, images, training, targets=None, labels=None):
        targets = images if targets is None else targets
        z_mean, z_log_var = self.encode(images, training=training, labels=labels)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(self._conditioned(z, labels), training=training)
        reconstruction = reconstruction_nll(
            targets, logits, self.likelihood, self.sigma()
        )
        kl = kl_divergence(z_mean, z_log_var)
        kl_in_loss = (
            free_bits_kl(z_mean, z_log_var, self.free_bits) if self.free_bits else kl
        )
        per_example = reconstruction + self.beta * self.kl_weight * kl_in_loss
        nelbo = reconstruction + kl
        logs = {
            "loss": ops.mean(per_example),
            "reconstruction_loss": ops.mean(reconstruction),
            "kl_loss": ops.mean(kl),
            "nelbo_bits_per_dim": ops.mean(nelbo) / (self.image_dims * math.log(2.0)),
        }
        return per_example, logs

    def train_step(self, data):
        images = images_from_data(data)
        labels = labels_from_data(data) if self.num_classes else None
        inputs = images
        if self.denoising is not None:
            # The clean batch is the target: the model learns to undo noise.
            inputs = corrupt(images, self.denoising, self.corruption_seed)
        with tf.GradientTape() as tape:
            per_example, logs = self._compute_losses(
                inputs, training=True, targets=images, labels=labels
            )
            loss = self.optimizer.scale_loss(average_over_global_batch(per_example))
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        if self.log_sigma is not None:
            variables = [*variables, self.log_sigma]
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        self._record(logs)
        return self._logs()

    def test_step(self, data):
        # Clean inputs, also for denoising models: the validation ELBO is the
        # generative model's, comparable with a plain VAE's.
        labels = labels_from_data(data) if self.num_classes else None
        _, logs = self._compute_losses(
            images_from_data(data), training=False, labels=labels
        )
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
                "learned_sigma": self.learned_sigma,
                "free_bits": self.free_bits,
                "denoising": self.denoising,
                "class_names": self.class_names,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_networks(config, "encoder", "decoder"))
