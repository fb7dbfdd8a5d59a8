"""Time series from CSV files: strict reading, training split, normalisation, windows.

A series file is a CSV with a timestamp column and one or more value
columns (NAB's `timestamp,value` format by default). Reading is strict: a
missing column, an empty or non-numeric cell, an unparsable or out-of-order
timestamp fails with the file and the line. Gaps in time (a step much longer
than the usual one) are not errors; they are counted on the `Series`.

Example:
>>> series = read_series_csv("data/nyc_taxi.csv")          # doctest: +SKIP
>>> n = training_length(len(series), train=0.15)
>>> norm = Normalizer.fit(series.values[:n])
>>> windows = sliding_windows(norm.apply(series.values), 64)
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_gen.utils.files import list_files

#: NAB caps the probationary period at 15% of 5,000 rows (nab/util.py).
NAB_PROBATION_CAP_ROWS = 5000


def check_window(window: int) -> None:
    """The networks halve windows twice: the length must be a multiple of 4, >= 8."""
    if window < 8 or window % 4:
        raise ValueError(f"window must be a multiple of 4 and >= 8, got {window}")


class SeriesDataError(ValueError):
    """A series file is malformed; the message names the file and the line."""


@dataclass
class Series:
    """One series: `timestamps` (datetime64[s], increasing) and `values` [T, C]."""

    path: str
    timestamps: np.ndarray
    values: np.ndarray
    columns: list[str]
    #: (line, step) of each time step over 1.5x the median step.
    gaps: list[tuple[int, np.timedelta64]] = field(default_factory=list)
    #: Lines whose timestamp repeats or goes back from the previous row's.
    disorder: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.timestamps)


def _header_columns(path, header, timestamp_column, value_columns):
    if timestamp_column not in header:
        raise SeriesDataError(
            f"{path}: no column {timestamp_column!r} (columns: {', '.join(header)})"
        )
    if value_columns is None:
        value_columns = [c for c in header if c not in (timestamp_column, "label")]
    missing = [c for c in value_columns if c not in header]
    if missing or not value_columns:
        raise SeriesDataError(
            f"{path}: value column(s) {missing or '(none)'} not found "
            f"(columns: {', '.join(header)})"
        )
    return header.index(timestamp_column), [header.index(c) for c in value_columns]


def _parse_row(path, line, row, ts_index, value_indices, columns):
    cell = row[ts_index].strip() if ts_index < len(row) else ""
    try:
        # numpy reads "", "NaT", "now" and "today" as dates; a file must not.
        if cell.lower() in ("", "nat", "now", "today"):
            raise ValueError(cell)
        stamp = np.datetime64(cell, "s")
    except ValueError:
        raise SeriesDataError(
            f"{path}, line {line}: timestamp {cell!r} is not a date-time"
        ) from None
    values = []
    for name, index in zip(columns, value_indices):
        cell = row[index].strip() if index < len(row) else ""
        try:
            number = float(cell)
        except ValueError:
            what = "empty (a gap)" if not cell else f"{cell!r} is not a number"
            raise SeriesDataError(
                f"{path}, line {line}, column {name!r}: {what}"
            ) from None
        if not math.isfinite(number):
            raise SeriesDataError(
                f"{path}, line {line}, column {name!r}: {cell!r} is not finite"
            )
        values.append(number)
    return stamp, values


def _check_order(
    path, stamps: np.ndarray, lines: np.ndarray, allow_unsorted: bool
) -> list[int]:
    """Lines whose timestamp goes back (an error unless allowed) or repeats."""
    steps = np.diff(stamps).astype(np.int64)
    back = np.flatnonzero(steps < 0)
    if back.size and not allow_unsorted:
        i = int(back[0]) + 1
        raise SeriesDataError(
            f"{path}, line {lines[i]}: timestamp {stamps[i]} goes back from the "
            f"previous row's {stamps[i - 1]} (timestamps must not decrease; "
            "data.allow_unsorted: true keeps the file's order)"
        )
    return [int(lines[i + 1]) for i in np.flatnonzero(steps <= 0)]


def _time_gaps(
    stamps: np.ndarray, lines: np.ndarray
) -> list[tuple[int, np.timedelta64]]:
    if len(stamps) < 3:
        return []
    steps = np.diff(stamps)
    usual = np.median(steps.astype(np.int64))
    return [
        (int(lines[i + 1]), steps[i])
        for i in np.flatnonzero(steps.astype(np.int64) > 1.5 * usual)
    ]


def read_series_csv(
    path: str | Path,
    timestamp_column: str = "timestamp",
    value_columns: list[str] | None = None,
    allow_unsorted: bool = False,
) -> Series:
    """Read and check one series CSV.

    Args:
        path: the CSV file (first line: column names).
        timestamp_column: name of the date-time column.
        value_columns: the value columns; None takes every other column
            except `label`.
        allow_unsorted: keep rows whose timestamp goes back from the
            previous one, in the file's order (counted in `disorder`);
            repeated timestamps are always kept and counted.

    Raises:
        SeriesDataError: a missing column, an empty, non-numeric or
            non-finite cell, a bad or decreasing timestamp, fewer than
            two rows; the message names the file and line.
    """
    path = str(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [c.strip() for c in next(reader, [])]
        if not header:
            raise SeriesDataError(f"{path}: empty file (expected a header line)")
        ts_index, value_indices = _header_columns(
            path, header, timestamp_column, value_columns
        )
        columns = [header[i] for i in value_indices]
        stamps, rows, lines = [], [], []
        for line, row in enumerate(reader, start=2):
            if not row or not any(c.strip() for c in row):
                continue
            stamp, values = _parse_row(
                path, line, row, ts_index, value_indices, columns
            )
            stamps.append(stamp)
            rows.append(values)
            lines.append(line)
    if len(rows) < 2:
        raise SeriesDataError(
            f"{path}: {len(rows)} data row(s); a series needs 2 or more"
        )
    stamps = np.asarray(stamps, dtype="datetime64[s]")
    lines = np.asarray(lines)
    disorder = _check_order(path, stamps, lines, allow_unsorted)
    values = np.asarray(rows, np.float32)
    return Series(path, stamps, values, columns, _time_gaps(stamps, lines), disorder)


def list_series_files(path: str | Path) -> list[Path]:
    """The CSV files of a file or folder (recursively, sorted)."""
    return list_files(path, (".csv",), "series")


def training_length(
    num_rows: int, train: float | str = 0.15, timestamps: np.ndarray | None = None
) -> int:
    """Rows of the training (probationary) part at the start of a series.

    Args:
        num_rows: rows in the series.
        train: a fraction of the rows, capped as NAB caps its probationary
            period (`min(floor(f * rows), f * 5000)`), or an ISO date: the
            rows before it.
        timestamps: needed with a date.
    """
    if isinstance(train, str):
        if timestamps is None:
            raise ValueError("a training date needs the series' timestamps")
        return int(np.searchsorted(timestamps, np.datetime64(train, "s")))
    if not 0 < train < 1:
        raise ValueError(f"train fraction must be in (0, 1), got {train}")
    return int(min(math.floor(train * num_rows), train * NAB_PROBATION_CAP_ROWS))


@dataclass
class Normalizer:
    """Per-column standardisation fitted on the training part only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Normalizer:
        values = np.asarray(values, np.float64)
        mean = values.mean(axis=0)
        std = values.std(axis=0)
        # A flat training part (a constant sensor) keeps its unit scale.
        std = np.where(std > 1e-8 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def apply(self, values: np.ndarray) -> np.ndarray:
        return ((np.asarray(values, np.float32) - self.mean) / self.std).astype(
            np.float32
        )


def window_span(window: int, dilation: int = 1) -> int:
    """Rows covered by a window of `window` points taken `dilation` rows apart."""
    return (window - 1) * dilation + 1


def moving_average(values: np.ndarray, size: int) -> np.ndarray:
    """Causal mean of the last `size` rows at every row (fewer at the start)."""
    values = np.asarray(values, np.float64)
    if size <= 1:
        return values.astype(np.float32)
    csum = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    rows = np.arange(1, len(values) + 1)
    lo = np.maximum(rows - size, 0)
    return ((csum[rows] - csum[lo]) / (rows - lo)[:, None]).astype(np.float32)


def resolve_dilation(
    timestamps: np.ndarray, window: int, context_hours: float | None
) -> int:
    """Row spacing that makes a window of `window` points span `context_hours`.

    The usual step is the median step of `timestamps`; 1 when no context is
    asked or the window already covers it.
    """
    if not context_hours or len(timestamps) < 2:
        return 1
    step = np.median(np.diff(timestamps).astype("timedelta64[s]").astype(np.int64))
    rows = context_hours * 3600.0 / max(float(step), 1.0)
    return max(1, int(round(rows / window)))


def sliding_windows(
    values: np.ndarray, window: int, stride: int = 1, dilation: int = 1
) -> np.ndarray:
    """All windows `[N, window, C]` of `values` [T, C], points `dilation` rows apart.

    Window i ends at row `i * stride + window_span(window, dilation) - 1`.
    A read-only strided view: no copy, whatever the series' length.
    """
    values = np.asarray(values)
    span = window_span(window, dilation)
    if len(values) < span:
        raise ValueError(
            f"series of {len(values)} rows is shorter than the window {window}"
            + (f" x dilation {dilation} ({span} rows)" if dilation > 1 else "")
        )
    view = np.lib.stride_tricks.sliding_window_view(values, span, axis=0)
    return np.moveaxis(view, -1, 1)[::stride, ::dilation]


def window_dataset(
    values: np.ndarray | list[np.ndarray],
    window: int,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    dilation: int = 1,
):
    """A `tf.data.Dataset` of window batches `[B, window, C]`.

    Args:
        values: a series `[T, C]` or a list of series parts; windows never
            cross from one part into the next.
        dilation: rows between the points of a window.

    Windows are cut on the fly from the parts held once in memory (as one
    array and a list of window start rows), so the memory is that of the
    series, not of a copy per window.
    """
    import tensorflow as tf

    parts = values if isinstance(values, list) else [values]
    parts = [np.asarray(p, np.float32) for p in parts]
    span = window_span(window, dilation)
    offsets = np.cumsum([0] + [len(p) for p in parts])
    starts = np.concatenate(
        [o + np.arange(max(len(p) - span + 1, 0)) for o, p in zip(offsets, parts)]
    ).astype(np.int64)
    if starts.size == 0:
        raise ValueError(f"every series part is shorter than the window {window}")
    series = tf.constant(np.concatenate(parts))
    data = tf.data.Dataset.from_tensor_slices(starts)
    if shuffle:
        data = data.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True)
    data = data.map(
        lambda i: series[i : i + span : dilation], num_parallel_calls=tf.data.AUTOTUNE
    )
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
