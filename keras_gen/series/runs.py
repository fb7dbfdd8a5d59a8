"""What the `keras-gen series` commands do, as library functions returning results.

- `detect_path`: NAB's streaming protocol on every CSV of a file or folder
  (a model per series, trained on its first part), results and plots
  written; files already done are skipped, so an interrupted run resumes.
- `train_series`: one model trained on the training parts of the given
  files, saved (`model.keras`) and exported for TF Serving.
- `score_path`: a trained model scores a file or folder.

Example:
>>> cfg = load_series_config("training/configs/series_smoke.yaml")  # doctest: +SKIP
>>> summary = detect_path(cfg, out="runs/nab_results")
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import keras

from keras_gen.models.series import SeriesModel
from keras_gen.series.config import SeriesConfig
from keras_gen.series.data import (
    list_series_files,
    read_series_csv,
    resolve_dilation,
    training_length,
)
from keras_gen.series.detector import (
    SeriesResult,
    build_series_model,
    calibrate_model,
    detect_series,
    fit_series_model,
    score_series,
)
from keras_gen.series.results import plot_result, window_key, write_results_csv
from keras_gen.utils.files import atomic_write_text, run_model_file

log = logging.getLogger(__name__)


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, default=float) + "\n")


def _load_windows(labels: str | Path | None) -> dict:
    if labels is None:
        return {}
    from keras_gen.series.nab import load_windows

    return load_windows(labels)


def _read(cfg: SeriesConfig, path: Path):
    series = read_series_csv(
        path, cfg.data.timestamp_column, cfg.data.value_columns, cfg.data.allow_unsorted
    )
    if series.disorder:
        lines = ", ".join(str(n) for n in series.disorder[:3])
        log.warning(
            "%s: %d row(s) repeat or go back in time (lines %s%s), kept in file order",
            path,
            len(series.disorder),
            lines,
            "..." if len(series.disorder) > 3 else "",
        )
    return series


def _output_paths(key: str, out: Path, detector: str) -> tuple[Path, Path]:
    category, _, name = key.rpartition("/")
    csv_path = out / category / f"{detector}_{name}"
    plot_path = out / "plots" / category / (Path(name).stem + ".png")
    return csv_path, plot_path


def _summarise(result: SeriesResult, seconds: float) -> dict:
    return {
        "rows": len(result.timestamps),
        "train_rows": result.num_train,
        "threshold": result.threshold,
        "detections": int(result.detections.sum()),
        "time_gaps": len(result.series.gaps),
        "seconds": round(seconds, 2),
    }


def _write_outputs(result, key, out, detector, windows, plots) -> None:
    csv_path, plot_path = _output_paths(key, out, detector)
    if plots:
        plot_result(result, plot_path, windows.get(key), title=key)
    write_results_csv(result, csv_path, windows.get(key))


def detect_path(
    cfg: SeriesConfig,
    data: str | Path | None = None,
    out: str | Path = "runs/series_results",
    labels: str | Path | None = None,
    detector: str | None = None,
) -> dict:
    """NAB streaming protocol on each CSV under `data` (default `cfg.data.path`).

    Writes `OUT/<category>/<detector>_<file>.csv`, plots (if
    `cfg.output.plots`) and `OUT/summary.json`; returns the summary.
    """
    data = Path(data or cfg.data.path)
    out, detector = Path(out), detector or cfg.name
    windows = _load_windows(labels)
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    for path in list_series_files(data):
        key = window_key(path, data)
        if key in summary and _output_paths(key, out, detector)[0].is_file():
            continue  # done before an interruption
        start = time.perf_counter()
        result, _ = detect_series(_read(cfg, path), cfg)
        _write_outputs(result, key, out, detector, windows, cfg.output.plots)
        summary[key] = _summarise(result, time.perf_counter() - start)
        _write_json(summary_path, summary)
        log.info("%s: %d detections", key, summary[key]["detections"])
    return summary


def train_series(cfg: SeriesConfig, work_dir: str | Path | None = None):
    """Train one model on the training parts of every CSV under `cfg.data.path`.

    Returns `(model, model_path, export_path or None)`.
    """
    if cfg.model.ensemble != 1:
        raise ValueError(
            "model.ensemble applies to `series detect`; `series train` trains "
            f"one model (got ensemble: {cfg.model.ensemble})"
        )
    work_dir = Path(work_dir or cfg.output.work_dir.format(name=cfg.name))
    series = [_read(cfg, p) for p in list_series_files(cfg.data.path)]
    channels = {s.values.shape[1] for s in series}
    if len(channels) > 1:
        raise ValueError(f"{cfg.data.path}: files differ in their number of columns")
    parts = [
        s.values[: training_length(len(s), cfg.data.train, s.timestamps)]
        for s in series
    ]
    dilation = resolve_dilation(
        series[0].timestamps[: len(parts[0])], cfg.model.window, cfg.model.context_hours
    )
    from keras_gen.trainer import make_strategy

    # Model, optimizer and fit in the strategy's scope (the steps reduce
    # their losses over the global batch, tests/models/test_mirrored.py).
    with make_strategy(cfg.train.distribute).scope():
        model = build_series_model(cfg.model, channels.pop(), cfg.score, dilation)
        history = fit_series_model(model, parts, cfg.train, cfg.model.seed)
    first = series[0]
    result = score_series(model, first, cfg.score, len(parts[0]))
    calibrate_model(model, result, cfg.score.fpr)
    work_dir.mkdir(parents=True, exist_ok=True)
    model_path = work_dir / "model.keras"
    model.save(model_path)
    _write_json(work_dir / "history.json", history)
    export = None
    if cfg.output.export_dir:
        from keras_gen.series.export import export_series_model

        export = export_series_model(
            model, cfg.output.export_dir, cfg.name, columns=first.columns
        )
    return model, model_path, export


def load_series_model(path: str | Path) -> SeriesModel:
    """A series model from a `.keras` file or a run folder holding `model.keras`."""
    path = run_model_file(path)
    if not path.is_file():
        raise FileNotFoundError(f"no series model at {path}")
    import keras_gen.models  # noqa: F401  (registers the classes)

    model = keras.saving.load_model(path)
    if not isinstance(model, SeriesModel):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a series model")
    return model


def score_path(
    model: SeriesModel,
    data: str | Path,
    out: str | Path,
    labels: str | Path | None = None,
    detector: str = "model",
    plots: bool = True,
    timestamp_column: str = "timestamp",
    allow_unsorted: bool = False,
) -> dict:
    """Score every CSV under `data` with a trained model; write results and plots."""
    data, out = Path(data), Path(out)
    windows = _load_windows(labels)
    summary = {}
    for path in list_series_files(data):
        start = time.perf_counter()
        series = read_series_csv(path, timestamp_column, None, allow_unsorted)
        result = score_series(model, series)
        key = window_key(path, data)
        _write_outputs(result, key, out, detector, windows, plots)
        summary[key] = _summarise(result, time.perf_counter() - start)
    _write_json(out / "summary.json", summary)
    return summary


def evaluate_results(results: str | Path, labels: str | Path) -> dict:
    """NAB scores (three profiles) of a results folder against labelled windows."""
    from keras_gen.series.nab import evaluate_results_dir

    return evaluate_results_dir(results, labels)


__all__ = [
    "detect_path",
    "evaluate_results",
    "load_series_model",
    "score_path",
    "train_series",
]
