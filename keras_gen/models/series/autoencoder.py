"""Autoencoders over windows of a series, scoring anomalies by reconstruction.

Both models take raw windows `[B, window, channels]` and standardise them
with statistics stored in the model (`set_normalization`, fitted on the
training part of the series), so a saved or exported model scores raw
values exactly as it did after training. The anomaly score of a window is
the mean of its per-step scores over its last `score_steps` steps: the score
at time t reads the window that ends at t, and only values up to t.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_gen.models.base import (
    SeedStateMixin,
    TrackedLogsMixin,
    deserialize_networks,
)
from keras_gen.models.distributed import average_over_global_batch
from keras_gen.models.vae.vae import Sampling, kl_per_dimension


class SeriesModel(TrackedLogsMixin, SeedStateMixin, keras.Model):
    """What both series autoencoders share: normalisation, threshold, scoring.

    Subclasses implement `step_terms(windows, training)` -> (per-step
    anomaly terms `[B, window]`, per-example loss `[B]`, logs).
    """

    LOGS: tuple[str, ...] = ("loss", "reconstruction_loss")

    def __init__(
        self,
        encoder,
        decoder,
        score_steps: int = 1,
        dilation: int = 1,
        scoring=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation}")
        # Rows between a window's points; the series is first averaged over
        # `dilation` rows (`keras_gen.series.detector.prepare_values`).
        self.dilation = int(dilation)
        # Settings of the streaming scores (`keras_gen.series.scores.
        # anomaly_scores`), kept so that a saved model scores as trained.
        self.scoring = dict(scoring or {})
        self.encoder = encoder
        self.decoder = decoder
        self.window = int(encoder.inputs[0].shape[1])
        self.channels = int(encoder.inputs[0].shape[2])
        if not 1 <= score_steps <= self.window:
            raise ValueError(
                f"score_steps must be in [1, window={self.window}], got {score_steps}"
            )
        self.score_steps = score_steps
        self.seed = seed
        self.norm_mean = self.add_weight(
            shape=(self.channels,),
            initializer="zeros",
            trainable=False,
            name="norm_mean",
            dtype="float32",
        )
        self.norm_std = self.add_weight(
            shape=(self.channels,),
            initializer="ones",
            trainable=False,
            name="norm_std",
            dtype="float32",
        )
        # On the window-score scale; NaN until calibrated on normal data
        # (`keras_gen.series.detector.calibrate_threshold`).
        self.threshold = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(float("nan")),
            trainable=False,
            name="threshold",
            dtype="float32",
        )
        self._trackers = {name: keras.metrics.Mean(name=name) for name in self.LOGS}
        self.built = True

    # ------------------------------------------------------------- interface
    def set_normalization(self, mean, std) -> None:
        """Store the per-channel mean and standard deviation of the training part."""
        self.norm_mean.assign(np.asarray(mean, np.float32).reshape(self.channels))
        self.norm_std.assign(np.asarray(std, np.float32).reshape(self.channels))

    def normalize(self, windows):
        windows = ops.cast(windows, "float32")
        return (windows - self.norm_mean) / self.norm_std

    def call(self, windows, training=False):
        """Reconstructed windows in the input's (raw) units."""
        x = self.normalize(windows)
        return self.reconstruct_normalized(x, training) * self.norm_std + self.norm_mean

    def window_scores(self, windows):
        """Anomaly score of each window: mean per-step term of its last steps."""
        terms, _, _ = self.step_terms(self.normalize(windows), training=False)
        return ops.mean(terms[:, -self.score_steps :], axis=1)

    # ----------------------------------------------------------------- steps
    def compile(self, optimizer="adam", **kwargs):
        """Configure training; `optimizer` defaults to Adam(1e-3)."""
        super().compile(optimizer=optimizer, **kwargs)
        # Built in the caller's strategy scope (see the traps note).
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips compiling models whose compile() is overridden.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def train_step(self, data):
        windows = self.normalize(data[0] if isinstance(data, tuple) else data)
        with tf.GradientTape() as tape:
            _, per_example, logs = self.step_terms(windows, training=True)
            loss = self.optimizer.scale_loss(average_over_global_batch(per_example))
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self._record(logs)
        return self._logs()

    def test_step(self, data):
        windows = self.normalize(data[0] if isinstance(data, tuple) else data)
        _, _, logs = self.step_terms(windows, training=False)
        self._record(logs)
        return self._logs()

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.layers.serialize(self.encoder),
            decoder=keras.layers.serialize(self.decoder),
            score_steps=self.score_steps,
            dilation=self.dilation,
            scoring=self.scoring,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_networks(config, "encoder", "decoder"))


@keras.saving.register_keras_serializable(package="keras_gen")
class SeriesAutoencoder(SeriesModel):
    """1-D convolutional autoencoder; anomaly term: squared error per step.

    Args:
        encoder: windows `[B, window, C]` -> code (see `build_series_encoder`).
        decoder: code -> windows (see `build_series_decoder`).
        score_steps: the score of a window averages its last this many steps.
        dilation: rows between a window's points (of the series averaged
            over `dilation` rows), so that a window spans a longer context.
        seed: unused by the deterministic autoencoder (kept for symmetry).

    Example:
    >>> from keras_gen.models.series.networks import (
    ...     build_series_decoder, build_series_encoder)
    >>> model = SeriesAutoencoder(build_series_encoder(16, 1, 4),
    ...                           build_series_decoder(16, 1, 4))
    >>> model.compile()
    >>> windows = np.random.default_rng(0).normal(size=(8, 16, 1))
    >>> _ = model.fit(windows, batch_size=4, epochs=1, verbose=0)
    >>> model.window_scores(windows).shape
    TensorShape([8])
    """

    def reconstruct_normalized(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def step_terms(self, windows, training):
        error = ops.square(self.reconstruct_normalized(windows, training) - windows)
        per_step = ops.mean(error, axis=-1)
        per_example = ops.mean(per_step, axis=-1)
        logs = {
            "loss": ops.mean(per_example),
            "reconstruction_loss": ops.mean(per_example),
        }
        return per_step, per_example, logs


@keras.saving.register_keras_serializable(package="keras_gen")
class SeriesVAE(SeriesModel):
    """1-D convolutional VAE with a Gaussian likelihood of learned scale.

    The per-step anomaly term is the step's share of the negative ELBO up to
    a constant: its Gaussian negative log-likelihood without the
    `log sigma + log(2 pi) / 2` term (decoder fed the posterior mean when
    scoring), plus the window's KL spread evenly over its steps; so it is
    never negative.

    Args:
        encoder: windows -> `(z_mean, z_log_var)` (`variational=True`).
        decoder: latents -> windows (means of the Gaussian likelihood).
        beta: weight of the KL term in the training loss.
        free_bits: KL floor per latent dimension, in nats (0: off).
        score_steps: the score of a window averages its last this many steps.
        dilation: rows between a window's points (see `SeriesAutoencoder`).
        seed: seed of the reparameterisation noise.
    """

    LOGS = ("loss", "reconstruction_loss", "kl_loss")

    def __init__(
        self,
        encoder,
        decoder,
        beta: float = 1.0,
        free_bits: float = 0.0,
        score_steps: int = 1,
        dilation: int = 1,
        scoring=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            encoder,
            decoder,
            score_steps=score_steps,
            dilation=dilation,
            scoring=scoring,
            seed=seed,
            **kwargs,
        )
        if beta < 0 or free_bits < 0:
            raise ValueError(
                f"beta and free_bits must be >= 0, got {beta}, {free_bits}"
            )
        self.beta = beta
        self.free_bits = free_bits
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        self.sampling = Sampling(seed=seed, name="sampling", dtype="float32")
        self.log_sigma = self.add_weight(
            shape=(), initializer="zeros", name="log_sigma", dtype="float32"
        )

    def reconstruct_normalized(self, x, training=False):
        z_mean, _ = self.encoder(x, training=training)
        return self.decoder(z_mean, training=training)

    def step_terms(self, windows, training):
        z_mean, z_log_var = self.encoder(windows, training=training)
        z = self.sampling([z_mean, z_log_var]) if training else z_mean
        mean = self.decoder(z, training=training)
        scaled = ops.sum(
            ops.square(windows - mean) / (2.0 * ops.exp(2.0 * self.log_sigma)), axis=-1
        )
        constant = self.channels * (self.log_sigma + 0.5 * math.log(2.0 * math.pi))
        nll_steps = scaled + constant
        kl_dims = kl_per_dimension(z_mean, z_log_var)
        kl = ops.sum(kl_dims, axis=-1)
        kl_loss = ops.sum(ops.maximum(kl_dims, self.free_bits), axis=-1)
        # The score drops the NLL's constant: it would make scores negative
        # for a small learned sigma (ratios of scores need them >= 0) and
        # shift them whenever an update moves sigma.
        per_step = scaled + kl[:, None] / self.window
        per_example = ops.sum(nll_steps, axis=-1) + self.beta * kl_loss
        logs = {
            "loss": ops.mean(per_example),
            "reconstruction_loss": ops.mean(ops.sum(nll_steps, axis=-1)),
            "kl_loss": ops.mean(kl),
        }
        return per_step, per_example, logs

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.beta, free_bits=self.free_bits)
        return config
