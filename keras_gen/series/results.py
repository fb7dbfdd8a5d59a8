"""Writing a detector's output: NAB's results CSV and a plot per series.

Layout (NAB's): `OUT/<category>/<detector>_<file>.csv` with the columns
`timestamp,value,anomaly_score,label` (label: 1 inside a labelled anomaly
window, when windows are known), and `OUT/plots/<category>/<file>.png`.
`<category>` is the file's folder relative to the scored data folder.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from keras_gen.series.detector import SeriesResult
from keras_gen.utils.files import atomic_write_text


def window_key(path: str | Path, root: str | Path) -> str:
    """`<category>/<file>.csv`: the file relative to the data root (NAB's keys)."""
    path, root = Path(path).resolve(), Path(root).resolve()
    if root.is_file():
        return f"{path.parent.name}/{path.name}"
    return path.relative_to(root).as_posix()


def window_labels(timestamps: np.ndarray, windows) -> np.ndarray:
    """1 for each timestamp inside one of the `(start, end)` windows, else 0."""
    labels = np.zeros(len(timestamps), np.int8)
    for start, end in windows or []:
        start, end = np.datetime64(start, "s"), np.datetime64(end, "s")
        labels[(timestamps >= start) & (timestamps <= end)] = 1
    return labels


def _atomic_write_rows(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def write_results_csv(result: SeriesResult, path: Path, windows=None) -> Path:
    """NAB's results format for one series (first value column as `value`)."""
    labels = window_labels(result.timestamps, windows)
    stamps = np.datetime_as_string(result.timestamps, unit="s")
    rows = (
        (str(t).replace("T", " "), f"{v:.6g}", repr(float(s)), int(lab))
        for t, v, s, lab in zip(
            stamps, result.series.values[:, 0], result.scores, labels
        )
    )
    _atomic_write_rows(path, ["timestamp", "value", "anomaly_score", "label"], rows)
    return path


def plot_result(
    result: SeriesResult, path: Path, windows=None, title: str = ""
) -> Path:
    """Values, anomaly scores, detections and labelled windows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result.timestamps.astype("datetime64[s]").astype(object)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(12, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    top.plot(t, result.series.values, lw=0.6)
    hits = np.flatnonzero(result.detections)
    top.plot(
        [t[i] for i in hits],
        result.series.values[hits, 0],
        "rx",
        ms=4,
        label="detection",
    )
    bottom.plot(t, result.scores, lw=0.6, color="tab:orange", label="anomaly score")
    if np.isfinite(result.threshold):
        bottom.axhline(result.threshold, color="r", lw=0.6, ls="--", label="threshold")
    for axis in (top, bottom):
        if result.num_train:
            axis.axvspan(
                t[0],
                t[min(result.num_train, len(t)) - 1],
                color="0.9",
                label="training part" if axis is top else None,
            )
        for i, (start, end) in enumerate(windows or []):
            axis.axvspan(
                np.datetime64(start, "s").astype(object),
                np.datetime64(end, "s").astype(object),
                color="tab:green",
                alpha=0.2,
                label="labelled window" if axis is top and not i else None,
            )
    top.set_title(title or Path(result.series.path).name)
    top.legend(loc="upper left", fontsize=7)
    bottom.legend(loc="upper left", fontsize=7)
    bottom.set_ylim(0, 1.05)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
