"""Configuration of a series anomaly detector, read from YAML and checked strictly.

Sections: `model` (network), `data` (CSV files and the training split),
`train`, `score` (turning reconstruction errors into anomaly scores) and
`output`. Unknown keys and bad values fail naming the key (the same rules as
`keras_gen.config`). A relative `data.path` is resolved against the config
file's folder.

Example:
>>> cfg = load_series_config("training/configs/series_smoke.yaml")
>>> cfg.model.window
32
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from keras_gen.config import (
    ConfigError,
    NamedConfig,
    _positive,
    check_work_dir,
    config_from_dict,
    load_config,
)
from keras_gen.series.data import check_window


@dataclass
class SeriesModelConfig:
    """`type` autoencoder (squared error) or vae (negative ELBO)."""

    type: Literal["autoencoder", "vae"] = "autoencoder"
    window: int = 64
    latent_dim: int = 8
    filters: int = 32
    beta: float = 1.0
    free_bits: float = 0.0
    # The score of the window ending at t averages its last this many steps.
    score_steps: int = 1
    # Span of a window in hours: its points are then taken that many rows
    # apart (of the series averaged over as many rows) for each file's
    # sampling step; null: consecutive rows.
    context_hours: float | None = None
    # `series detect`: average the scores of this many models (seeds
    # seed, seed + 1, ...).
    ensemble: int = 1
    seed: int = 0

    def validate(self, where: str) -> None:
        _positive(self, where, "latent_dim", "filters", "score_steps", "ensemble")
        if self.context_hours is not None:
            _positive(self, where, "context_hours")
        try:
            check_window(self.window)
        except ValueError as err:
            raise ConfigError(f"{where}.window: {err}") from None
        if self.score_steps > self.window:
            raise ConfigError(f"{where}.score_steps must be <= window ({self.window}).")


@dataclass
class SeriesDataConfig:
    """Where the series are and which part of each trains the model.

    `train` is a fraction of the rows at the start of every file (NAB's
    probationary 15%, capped as NAB caps it at 750 rows) or an ISO date.
    """

    path: str = "data"
    timestamp_column: str = "timestamp"
    value_columns: list | None = None
    train: float | str = 0.15
    # Keep rows whose timestamp goes back (in file order) instead of failing.
    allow_unsorted: bool = False

    def validate(self, where: str) -> None:
        if isinstance(self.train, float) and not 0 < self.train < 1:
            raise ConfigError(
                f"{where}.train must be in (0, 1) or a date, got {self.train}."
            )


@dataclass
class SeriesTrainConfig:
    """Training on the first part; in streaming (`series detect`), optionally
    fine-tuning every `refit_every` rows on the last `refit_rows` rows for
    `refit_epochs` epochs, so that the model follows slow changes as an
    online learner does (rows are scored before the model learns them).
    """

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    distribute: Literal["none", "mirrored"] = "none"
    refit_every: int | None = None
    refit_rows: int = 2000
    refit_epochs: int = 2

    def validate(self, where: str) -> None:
        _positive(self, where, "epochs", "batch_size", "learning_rate")
        _positive(self, where, "refit_rows", "refit_epochs")
        if self.refit_every is not None:
            _positive(self, where, "refit_every")


@dataclass
class SeriesScoreConfig:
    """Errors -> scores in [0, 1] (`keras_gen.series.scores`).

    `method` record (the error over the largest of the `history` rows
    before) or likelihood (its Gaussian tail probability given them); errors
    are first averaged over the last `smoothing` rows; `min_history` rows
    are needed before a score is given (0 before). `fpr` calibrates the
    stored thresholds on the training part. `spatial_tolerance`: a value
    beyond the range of all earlier values by more than this fraction of
    that range scores 1 (NAB's HTM detector does the same, with 0.05);
    null turns it off. `suppress_rows`: a score that does not exceed every
    score of the `suppress_rows` rows before it is set to 0 (after an alarm,
    only a stronger one counts for that long; for an ensemble, applied to
    the members' mean); null turns it off.
    """

    method: Literal["record", "likelihood"] = "record"
    spatial_tolerance: float | None = 0.05
    smoothing: int = 1
    history: int = 1000
    min_history: int = 100
    suppress_rows: int | None = None
    fpr: float = 0.001

    def validate(self, where: str) -> None:
        _positive(self, where, "smoothing", "history", "min_history", "fpr")
        if self.suppress_rows is not None:
            _positive(self, where, "suppress_rows")
        if self.spatial_tolerance is not None and self.spatial_tolerance < 0:
            raise ConfigError(f"{where}.spatial_tolerance must be >= 0 or null.")
        if self.fpr >= 1:
            raise ConfigError(f"{where}.fpr must be < 1, got {self.fpr}.")


@dataclass
class SeriesOutputConfig:
    work_dir: str = "runs/{name}"
    export_dir: str | None = "saved_models"
    plots: bool = True

    def validate(self, where: str) -> None:
        check_work_dir(self.work_dir, where)


@dataclass
class SeriesConfig(NamedConfig):
    name: str = "series"
    model: SeriesModelConfig = field(default_factory=SeriesModelConfig)
    data: SeriesDataConfig = field(default_factory=SeriesDataConfig)
    train: SeriesTrainConfig = field(default_factory=SeriesTrainConfig)
    score: SeriesScoreConfig = field(default_factory=SeriesScoreConfig)
    output: SeriesOutputConfig = field(default_factory=SeriesOutputConfig)


def series_config_from_dict(
    data: dict[str, Any], overrides: list[str] | None = None
) -> SeriesConfig:
    """A validated `SeriesConfig` from a mapping plus `key=value` overrides."""
    return config_from_dict(data, overrides, SeriesConfig)


def load_series_config(
    path: str | Path, overrides: list[str] | None = None
) -> SeriesConfig:
    """Read a series YAML config (see `keras_gen.config.load_config`).

    Raises:
        FileNotFoundError: no such file.
        ConfigError: an unknown key or a bad value (named, with the file).
    """
    return load_config(path, overrides, SeriesConfig)
