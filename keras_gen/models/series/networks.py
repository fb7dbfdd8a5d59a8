"""Builders of the 1-D convolutional encoder and decoder over series windows.

After the keras.io "Timeseries anomaly detection using an Autoencoder"
example: two strided convolutions down, two transposed convolutions up, with
a dense bottleneck between them so that the model cannot copy its input
(a purely convolutional one reproduces a spike as well as the normal shape).
"""

from __future__ import annotations

import keras
from keras import layers

from keras_gen.series.data import check_window

KERNEL = 7


def build_series_encoder(
    window: int,
    channels: int,
    latent_dim: int,
    filters: int = 32,
    variational: bool = False,
) -> keras.Model:
    """Windows `[B, window, channels]` (normalised) -> code `[B, latent_dim]`.

    With `variational=True` the outputs are `(z_mean, z_log_var)`.

    Example:
    >>> build_series_encoder(32, 1, 8).output.shape
    (None, 8)
    """
    check_window(window)
    inputs = keras.Input((window, channels), name="windows")
    x = layers.Conv1D(filters, KERNEL, strides=2, padding="same", activation="relu")(
        inputs
    )
    x = layers.Conv1D(
        2 * filters, KERNEL, strides=2, padding="same", activation="relu"
    )(x)
    x = layers.Flatten()(x)
    if variational:
        z_mean = layers.Dense(latent_dim, name="z_mean", dtype="float32")(x)
        z_log_var = layers.Dense(latent_dim, name="z_log_var", dtype="float32")(x)
        return keras.Model(inputs, [z_mean, z_log_var], name="series_encoder")
    code = layers.Dense(latent_dim, name="code")(x)
    return keras.Model(inputs, code, name="series_encoder")


def build_series_decoder(
    window: int, channels: int, latent_dim: int, filters: int = 32
) -> keras.Model:
    """Code `[B, latent_dim]` -> reconstructed windows `[B, window, channels]`.

    Example:
    >>> build_series_decoder(32, 2, 8).output.shape
    (None, 32, 2)
    """
    check_window(window)
    inputs = keras.Input((latent_dim,), name="code")
    x = layers.Dense((window // 4) * 2 * filters, activation="relu")(inputs)
    x = layers.Reshape((window // 4, 2 * filters))(x)
    x = layers.Conv1DTranspose(
        2 * filters, KERNEL, strides=2, padding="same", activation="relu"
    )(x)
    x = layers.Conv1DTranspose(
        filters, KERNEL, strides=2, padding="same", activation="relu"
    )(x)
    outputs = layers.Conv1D(
        channels, KERNEL, padding="same", name="reconstruction", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name="series_decoder")
