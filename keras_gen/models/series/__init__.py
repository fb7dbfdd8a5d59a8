"""Autoencoders over windows of a time series (anomaly detection)."""

from keras_gen.models.series.autoencoder import (
    SeriesAutoencoder,
    SeriesModel,
    SeriesVAE,
)
from keras_gen.models.series.networks import build_series_decoder, build_series_encoder

__all__ = [
    "SeriesAutoencoder",
    "SeriesModel",
    "SeriesVAE",
    "build_series_decoder",
    "build_series_encoder",
]
