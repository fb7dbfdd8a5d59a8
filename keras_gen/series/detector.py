"""Anomaly detection in a series: train on its first part, score each row causally.

The pipeline of one series (`detect_series`):

1. the training part: the first rows (NAB's probationary 15%, or up to a
   date); the normalisation is fitted on it and stored in the model;
2. a series autoencoder is trained on all windows inside that part;
3. the raw error at t is the model's score of the window ending at t
   (`causal_errors`), so no value after t is read;
4. `keras_gen.series.scores.anomaly_scores` turns errors into scores in
   [0, 1]: how the last errors compare with the errors before them.

Example:
>>> cfg = load_series_config("training/configs/series_smoke.yaml")  # doctest: +SKIP
>>> result = detect_series(read_series_csv("nyc_taxi.csv"), cfg)
>>> result.scores.shape == (len(result.timestamps),)
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
import numpy as np

from keras_gen.models.series import (
    SeriesAutoencoder,
    SeriesModel,
    SeriesVAE,
    build_series_decoder,
    build_series_encoder,
)
from keras_gen.series.config import (
    SeriesConfig,
    SeriesModelConfig,
    SeriesScoreConfig,
    SeriesTrainConfig,
)
from keras_gen.series.data import (
    Normalizer,
    Series,
    moving_average,
    resolve_dilation,
    sliding_windows,
    training_length,
    window_dataset,
    window_span,
)
from keras_gen.series.scores import anomaly_scores, suppress_repeats

#: Fewest training windows a model is fitted on.
MIN_TRAINING_WINDOWS = 16
#: Windows scored per forward pass (bounds memory for any series length).
SCORE_BATCH = 2048


@dataclass
class SeriesResult:
    """Per-timestamp output of a detector on one series."""

    series: Series
    num_train: int
    errors: np.ndarray
    scores: np.ndarray
    threshold: float

    @property
    def timestamps(self) -> np.ndarray:
        return self.series.timestamps

    @property
    def detections(self) -> np.ndarray:
        return self.scores >= self.threshold


def build_series_model(
    cfg: SeriesModelConfig,
    channels: int,
    scoring: SeriesScoreConfig | None = None,
    dilation: int = 1,
) -> SeriesModel:
    """A series autoencoder or VAE for windows of `channels` values."""
    scoring = dataclasses.asdict(scoring) if scoring is not None else None
    keras.utils.set_random_seed(cfg.seed)
    variational = cfg.type == "vae"
    encoder = build_series_encoder(
        cfg.window, channels, cfg.latent_dim, cfg.filters, variational=variational
    )
    decoder = build_series_decoder(cfg.window, channels, cfg.latent_dim, cfg.filters)
    cls, extra = (
        (SeriesVAE, {"beta": cfg.beta, "free_bits": cfg.free_bits})
        if variational
        else (SeriesAutoencoder, {})
    )
    return cls(
        encoder,
        decoder,
        score_steps=cfg.score_steps,
        dilation=dilation,
        scoring=scoring,
        seed=cfg.seed,
        **extra,
    )


def prepare_values(model: SeriesModel, values: np.ndarray) -> np.ndarray:
    """The series a model's windows are cut from: averaged over `dilation` rows."""
    return moving_average(values, model.dilation)


def fit_series_model(
    model: SeriesModel,
    train_values: np.ndarray | list[np.ndarray],
    cfg: SeriesTrainConfig,
    seed: int = 0,
) -> dict:
    """Normalise on the training values, compile and fit on all their windows.

    Args:
        train_values: one series part `[T, C]`, or a list of parts (windows
            never cross from one part into the next).
    """
    parts = train_values if isinstance(train_values, list) else [train_values]
    parts = [prepare_values(model, p) for p in parts]
    span = window_span(model.window, model.dilation)
    windows = sum(max(len(p) - span + 1, 0) for p in parts)
    if windows < MIN_TRAINING_WINDOWS:
        rows = sum(len(p) for p in parts)
        raise ValueError(
            f"the training part has {rows} rows: too few for "
            f"{MIN_TRAINING_WINDOWS} windows of {span} rows "
            "(use a shorter model.window or context, or a longer data.train)"
        )
    norm = Normalizer.fit(np.concatenate(parts))
    model.set_normalization(norm.mean, norm.std)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    data = window_dataset(
        parts, model.window, cfg.batch_size, seed=seed, dilation=model.dilation
    )
    return model.fit(data, epochs=cfg.epochs, verbose=0, shuffle=False).history


def causal_errors(
    model: SeriesModel, values: np.ndarray, first: int = 0, stop: int | None = None
) -> np.ndarray:
    """Raw error at rows [first, stop): the score of the window ending there.

    Other rows, and rows before the first full window, are NaN. Only rows
    before `stop` are read.
    """
    stop = len(values) if stop is None else stop
    prepared = prepare_values(model, np.asarray(values)[:stop])
    return _window_errors(model, prepared, len(values), first)


def _window_errors(
    model: SeriesModel, prepared: np.ndarray, length: int, first: int = 0
) -> np.ndarray:
    """Errors `[length]` of the windows of `prepared` ending at rows >= `first`.

    Windows are scored `SCORE_BATCH` at a time, so memory does not grow with
    the series' length.
    """
    errors = np.full(length, np.nan)
    span = window_span(model.window, model.dilation)
    if len(prepared) < span:
        return errors
    windows = sliding_windows(prepared, model.window, dilation=model.dilation)
    for start in range(max(first - span + 1, 0), len(windows), SCORE_BATCH):
        chunk = np.ascontiguousarray(windows[start : start + SCORE_BATCH])
        scores = np.asarray(model.window_scores(chunk), np.float64)
        errors[start + span - 1 : start + span - 1 + len(scores)] = scores
    return errors


def calibrate_threshold(normal_scores: np.ndarray, fpr: float) -> float:
    """The score exceeded by a fraction `fpr` of scores on normal data."""
    normal_scores = np.asarray(normal_scores, np.float64)
    if normal_scores.size == 0:
        raise ValueError("no normal scores to calibrate a threshold on")
    return float(np.quantile(normal_scores, 1.0 - fpr, method="higher")) + 1e-12


def training_threshold(
    scores: np.ndarray, warm_up: int, num_train: int, fpr: float
) -> float | None:
    """The score threshold at `fpr` on the training rows after the warm-up."""
    normal = scores[warm_up:num_train]
    return calibrate_threshold(normal, fpr) if normal.size else None


def scoring_of(model: SeriesModel) -> SeriesScoreConfig:
    """The streaming-score settings stored in a model (defaults for missing keys)."""
    fields = {f.name for f in dataclasses.fields(SeriesScoreConfig)}
    return SeriesScoreConfig(**{k: v for k, v in model.scoring.items() if k in fields})


def score_series(
    model: SeriesModel,
    series: Series,
    cfg: SeriesScoreConfig | None = None,
    num_train: int = 0,
) -> SeriesResult:
    """Score a series with a trained model and its stored score settings.

    The detections use the score threshold stored with the model
    (`model.scoring["threshold"]`, NaN: none).
    """
    if series.values.shape[1] != model.channels:
        raise ValueError(
            f"{series.path}: {series.values.shape[1]} value column(s) "
            f"{series.columns}; the model takes {model.channels}"
        )
    cfg = cfg or scoring_of(model)
    errors = causal_errors(model, series.values)
    scores = anomaly_scores(errors, cfg, series.values)
    threshold = float(model.scoring.get("threshold", float("nan")))
    return SeriesResult(series, num_train, errors, scores, threshold)


def calibrate_model(model: SeriesModel, result: SeriesResult, fpr: float) -> None:
    """Store both thresholds, at false-positive rate `fpr` on the training part.

    `model.threshold` is on the window-score scale (the exported
    `anomaly_score` signature compares with it); `model.scoring["threshold"]`
    on the streaming-score scale.
    """
    first = window_span(model.window, model.dilation) - 1
    errors = result.errors[first : result.num_train]
    if errors.size:
        model.threshold.assign(calibrate_threshold(errors, fpr))
    warm_up = first + scoring_of(model).min_history
    threshold = training_threshold(result.scores, warm_up, result.num_train, fpr)
    if threshold is not None:
        model.scoring["threshold"] = result.threshold = threshold


def streaming_errors(
    model: SeriesModel, values: np.ndarray, num_train: int, cfg: SeriesTrainConfig
) -> np.ndarray:
    """Errors of every row, the model fine-tuned every `refit_every` rows.

    Each block of rows is scored before the model trains on it, so the
    error at t never depends on a value after t (the averaging over
    `dilation` rows is causal too, so it is done once for the whole series).
    """
    if not cfg.refit_every:
        return causal_errors(model, values)
    prepared = prepare_values(model, values)
    span = window_span(model.window, model.dilation)
    errors = _window_errors(model, prepared[:num_train], len(values))
    for lo in range(num_train, len(values), cfg.refit_every):
        hi = min(lo + cfg.refit_every, len(values))
        errors[lo:hi] = _window_errors(model, prepared[:hi], len(values), lo)[lo:hi]
        recent = prepared[max(hi - cfg.refit_rows, 0) : hi]
        if hi < len(values) and len(recent) >= span:
            data = window_dataset(
                recent, model.window, cfg.batch_size, dilation=model.dilation
            )
            model.fit(data, epochs=cfg.refit_epochs, verbose=0, shuffle=False)
    return errors


def _detect_member(series, cfg: SeriesConfig, seed: int, num_train: int, dilation: int):
    """One ensemble member: its model, streaming errors and scores (before
    `score.suppress_rows`, which applies to the ensemble's mean)."""
    model_cfg = dataclasses.replace(cfg.model, seed=seed)
    model = build_series_model(model_cfg, series.values.shape[1], cfg.score, dilation)
    fit_series_model(model, series.values[:num_train], cfg.train, seed)
    errors = streaming_errors(model, series.values, num_train, cfg.train)
    scores = anomaly_scores(errors, cfg.score, series.values, suppress=False)
    own = suppress_repeats(scores, cfg.score.suppress_rows)
    calibrate_model(
        model, SeriesResult(series, num_train, errors, own, 0.0), cfg.score.fpr
    )
    return model, errors, scores


def detect_series(
    series: Series, cfg: SeriesConfig
) -> tuple[SeriesResult, list[SeriesModel]]:
    """Streaming protocol on one series: train on its first part, score all of it.

    With `model.ensemble` N > 1, N models (seeds `model.seed` + i) score the
    series and the result holds the means of their errors and scores (the
    scores of independently trained models disagree on noise more than on
    anomalies); `score.suppress_rows` then applies to the mean score. The
    detection threshold is calibrated at `score.fpr` on the training part's
    scores.
    """
    num_train = training_length(len(series), cfg.data.train, series.timestamps)
    dilation = resolve_dilation(
        series.timestamps[:num_train], cfg.model.window, cfg.model.context_hours
    )
    members = [
        _detect_member(series, cfg, cfg.model.seed + i, num_train, dilation)
        for i in range(cfg.model.ensemble)
    ]
    errors = np.mean([m[1] for m in members], axis=0)
    scores = suppress_repeats(
        np.mean([m[2] for m in members], axis=0), cfg.score.suppress_rows
    )
    result = SeriesResult(series, num_train, errors, scores, float("nan"))
    warm_up = window_span(cfg.model.window, dilation) - 1 + cfg.score.min_history
    threshold = training_threshold(scores, warm_up, num_train, cfg.score.fpr)
    if threshold is not None:
        result.threshold = threshold
    return result, [m[0] for m in members]
