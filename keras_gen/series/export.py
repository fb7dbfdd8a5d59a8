"""SavedModel of a series detector for TF Serving: the `anomaly_score` signature.

Signatures (input `windows`: float32 `[B, window, channels]` of raw values,
oldest first; the model's stored normalisation is applied inside; a model
with `dilation` d > 1 takes every d-th row of the series averaged over d
rows, as `keras_gen.series.detector.prepare_values` cuts them):

- `anomaly_score` (also `serving_default`): `score` [B] (the window score:
  mean per-step error of its last `score_steps` steps), `threshold` [B]
  (the calibrated window-score threshold, NaN if none) and `is_anomaly` [B].
- `reconstruct`: `reconstruction` [B, window, channels] in raw units.

A batch over `max_batch` windows or holding a non-finite value is refused
with INVALID_ARGUMENT. `assets.extra/keras_gen_series.json` records the
window, columns, normalisation, thresholds and the streaming-score settings.

Example:
>>> export_series_model(model, "saved_models", "nab_ae")  # doctest: +SKIP
PosixPath('saved_models/nab_ae/1')
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_gen.export import checked_input, publish_version
from keras_gen.models.series import SeriesModel

METADATA_FILE = "keras_gen_series.json"
MAX_BATCH = 4096


def build_series_archive(
    model: SeriesModel, max_batch: int = MAX_BATCH
) -> keras.export.ExportArchive:
    """An `ExportArchive` with the `anomaly_score` and `reconstruct` endpoints."""
    spec = [tf.TensorSpec([None, model.window, model.channels], tf.float32)]

    def anomaly_score(windows):
        windows = checked_input(windows, max_batch)
        score = tf.cast(model.window_scores(windows), tf.float32)
        threshold = tf.fill(tf.shape(score), tf.cast(model.threshold, tf.float32))
        # NaN (not calibrated) compares False: nothing is flagged.
        return {"score": score, "threshold": threshold, "is_anomaly": score > threshold}

    def reconstruct(windows):
        return {"reconstruction": model(checked_input(windows, max_batch))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", anomaly_score, spec)
    archive.add_endpoint("anomaly_score", anomaly_score, spec)
    archive.add_endpoint("reconstruct", reconstruct, spec)
    return archive


def series_metadata(model: SeriesModel, columns: list[str] | None = None) -> dict:
    return {
        "window": model.window,
        "channels": model.channels,
        "columns": list(columns or []),
        "norm_mean": np.asarray(model.norm_mean.numpy()).tolist(),
        "norm_std": np.asarray(model.norm_std.numpy()).tolist(),
        "window_threshold": float(model.threshold.numpy()),
        "scoring": model.scoring,
        "score_steps": model.score_steps,
        "dilation": model.dilation,
    }


def export_series_model(
    model: SeriesModel,
    export_dir: str | Path,
    name: str,
    version: int | None = None,
    overwrite: bool = False,
    columns: list[str] | None = None,
    max_batch: int = MAX_BATCH,
) -> Path:
    """Publish `model` as `<export_dir>/<name>/<version>` (next free version)."""

    def write(folder: Path) -> None:
        build_series_archive(model, max_batch).write_out(str(folder), verbose=False)
        extra = folder / "assets.extra"
        extra.mkdir(exist_ok=True)
        text = json.dumps(series_metadata(model, columns), indent=1, default=float)
        (extra / METADATA_FILE).write_text(text + "\n")

    return publish_version(write, export_dir, name, version, overwrite)
