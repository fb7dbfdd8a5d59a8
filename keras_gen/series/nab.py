"""Numenta Anomaly Benchmark (NAB) scoring, reimplemented with numpy.

Written from NAB's papers (Lavin & Ahmad 2015, arXiv:1510.03336; Ahmad et al.
2017) and the algorithm of NAB v1.x (``nab/sweeper.py``, ``nab/optimizer.py``,
``nab/runner.py``, ``config/profiles.json``). The rules reproduced here:

* Probationary period: the first ``min(floor(p * n), p * 5000)`` rows of a
  file (``p = 0.15``; NAB caps it at 750 rows for files longer than 5000 rows)
  are not scored at all: no TP, FP or FN can come from them.
* A detection at row ``i`` inside a window ``[left, right]`` (``width`` rows)
  is worth ``tp * S(-(right - i + 1) / width) / S(-1)``, where
  ``S(x) = 2 / (1 + exp(5 x)) - 1`` (the scaled sigmoid, -1 beyond ``x > 3``):
  exactly ``tp`` at the window start, about 0 at its end. A window earns only
  its best (earliest) detection; a window without detection costs ``-fn``.
* A detection outside every window costs ``fp * S((i - right) / (width - 1))``
  measured from the closest preceding window (``-fp`` when none precedes):
  almost free just after a window, the full ``-fp`` well after it.
* Threshold: a row is a detection when ``score >= threshold``; the threshold
  is chosen per detector and profile to maximise the raw score summed over all
  files, sweeping every distinct score value in one sorted pass.
* Normalised score ``100 * (raw - null) / (perfect - null)``: ``null`` is a
  detector that never fires (``-fn`` per scorable window) and ``perfect`` one
  that fires at every window start (``tp`` per window; like NAB, every window
  of the scored files counts, even one inside the probationary period).

Example:
    >>> from keras_gen.series import nab
    >>> windows = nab.load_windows("combined_windows.json")  # doctest: +SKIP
    >>> results = nab.evaluate_results_dir("results/numenta",
    ...                                    "combined_windows.json")  # doctest: +SKIP
    >>> print(nab.format_table(results))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np

PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0, "tn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0, "tn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0, "tn": 1.0},
}
"""NAB's cost matrices (``config/profiles.json``), keyed by profile name."""

NEVER_FIRE_THRESHOLD = 1.1
"""Threshold reported for "no detection at all" (NAB's sweep starts at 1.1)."""

Window = tuple[datetime, datetime]


def _profile(profile: str | dict) -> dict[str, float]:
    """Return the weights of a profile given by name or as a dict."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(
                f"unknown NAB profile {profile!r}; one of {list(PROFILES)}"
            )
        return PROFILES[profile]
    missing = {"tp", "fp", "fn"} - set(profile)
    if missing:
        raise ValueError(f"profile weights lack {sorted(missing)}")
    return profile


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """NAB's scaled sigmoid ``2 / (1 + exp(5 x)) - 1``, and -1 for ``x > 3``.

    Args:
        position: relative position; -1 is a window's left edge, 0 its right
            edge, positive values lie after the window.

    Returns:
        An array of values in [-1, 1].

    Example:
        >>> round(float(scaled_sigmoid(-1.0)), 5)
        0.98661
    """
    x = np.asarray(position, dtype=float)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, value)


def probationary_length(n_rows: int, percent: float = 0.15) -> int:
    """Number of leading rows NAB leaves unscored.

    Args:
        n_rows: rows in the file.
        percent: probationary fraction (NAB: 0.15).

    Returns:
        ``ceil(min(floor(percent * n_rows), percent * 5000))``.

    Example:
        >>> probationary_length(4032), probationary_length(22695)
        (604, 750)
    """
    return int(math.ceil(min(math.floor(percent * n_rows), percent * 5000)))


def load_windows(path: str | Path) -> dict[str, list[Window]]:
    """Read NAB's ``combined_windows.json``.

    Args:
        path: JSON file mapping ``"<category>/<file>.csv"`` to a list of
            ``[start, end]`` timestamp strings.

    Returns:
        The same mapping with ``(start, end)`` datetime tuples, sorted by start.

    Example:
        >>> windows = load_windows("combined_windows.json")  # doctest: +SKIP
        >>> windows["realKnownCause/nyc_taxi.csv"][0][0]  # doctest: +SKIP
        datetime.datetime(2014, 10, 30, 15, 30)
    """
    with open(path) as f:
        raw = json.load(f)
    out = {}
    for key, limits in raw.items():
        pairs = [
            (datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in limits
        ]
        out[key] = sorted(pairs)
    return out


def _parse_float(text: str, path, row: int, column: str) -> float:
    """Parse one numeric cell or raise a ValueError naming file and row."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(
            f"{path}: row {row}: column {column!r} is not numeric: {text!r}"
        ) from None


def read_results_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a NAB results file (``timestamp,value,anomaly_score[,...]``).

    Args:
        path: CSV file with a header row; extra columns are ignored.

    Returns:
        ``(timestamps, values, scores)``: ``datetime64[s]`` and float arrays.

    Raises:
        ValueError: naming the file (and row, counting the header as row 1)
            for a missing column, a missing cell or a non-numeric cell.

    Example:
        >>> ts, values, scores = read_results_csv(
        ...     "results/numenta/realKnownCause/numenta_nyc_taxi.csv")  # doctest: +SKIP
    """
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        cols = {}
        for name in ("timestamp", "value", "anomaly_score"):
            if name not in header:
                raise ValueError(f"{path}: row 1: missing column {name!r} in {header}")
            cols[name] = header.index(name)
        stamps, values, scores = [], [], []
        for row_no, row in enumerate(reader, start=2):
            if len(row) < len(header):
                raise ValueError(
                    f"{path}: row {row_no}: {len(row)} cells, expected {len(header)}"
                )
            stamps.append(row[cols["timestamp"]].strip())
            values.append(_parse_float(row[cols["value"]], path, row_no, "value"))
            scores.append(
                _parse_float(row[cols["anomaly_score"]], path, row_no, "anomaly_score")
            )
    return _parse_stamps(stamps, path), np.array(values), np.array(scores)


def _parse_stamps(stamps: list[str], path) -> np.ndarray:
    """Parse timestamp strings to ``datetime64[s]``, naming a bad row."""
    try:
        return np.array(stamps, dtype="datetime64[s]")
    except ValueError:
        for row_no, text in enumerate(stamps, start=2):
            try:
                np.datetime64(text, "s")
            except ValueError:
                raise ValueError(
                    f"{path}: row {row_no}: bad timestamp {text!r}"
                ) from None
        raise


def _window_bounds(timestamps: np.ndarray, windows: list[Window]) -> np.ndarray:
    """Row indices ``[left, right]`` (inclusive) of each non-empty window."""
    ts = np.asarray(timestamps).astype("datetime64[s]")
    bounds = []
    for start, end in sorted(windows):
        left = int(np.searchsorted(ts, np.datetime64(start, "s"), side="left"))
        right = int(np.searchsorted(ts, np.datetime64(end, "s"), side="right")) - 1
        if left <= right:
            bounds.append((left, right))
    return np.array(bounds, dtype=np.int64).reshape(-1, 2)


def row_weights(timestamps, windows, profile, probationary_percent=0.15):
    """Per-row NAB weight of a detection, the row's window and scorability.

    Args:
        timestamps: sorted row timestamps (``datetime64`` or datetimes).
        windows: the file's ``(start, end)`` windows.
        profile: profile name or weights dict.
        probationary_percent: probationary fraction.

    Returns:
        ``(weights, window_id, scorable)``: what a detection at each row would
        add (positive in a window, negative outside), the index of the row's
        window (-1 outside), and False for probationary rows.

    Example:
        >>> w, wid, ok = row_weights(ts, [(t0, t1)], "standard")  # doctest: +SKIP
    """
    weights_cfg = _profile(profile)
    n = len(timestamps)
    bounds = _window_bounds(timestamps, windows)
    rows = np.arange(n)
    window_id = np.full(n, -1, dtype=np.int64)
    weights = np.empty(n)
    max_tp = float(scaled_sigmoid(-1.0))
    for k, (left, right) in enumerate(bounds):
        width = right - left + 1
        idx = rows[left : right + 1]
        window_id[idx] = k
        weights[idx] = (
            scaled_sigmoid(-(right - idx + 1) / width) * weights_cfg["tp"] / max_tp
        )
    outside = window_id < 0
    prev = (
        np.searchsorted(bounds[:, 1], rows, side="left") - 1
    )  # last window ended before
    distance = np.full(n, np.inf)
    has_prev = outside & (prev >= 0)
    prev_right = bounds[prev[has_prev], 1]
    prev_width = bounds[prev[has_prev], 1] - bounds[prev[has_prev], 0]  # width - 1
    with np.errstate(divide="ignore"):
        distance[has_prev] = (rows[has_prev] - prev_right) / prev_width
    weights[outside] = scaled_sigmoid(distance[outside]) * weights_cfg["fp"]
    scorable = rows >= probationary_length(n, probationary_percent)
    return weights, window_id, scorable


def score_file(
    timestamps, detections, windows, profile, probationary_percent=0.15
) -> dict:
    """NAB raw score and counts of one file for a boolean detection array.

    Args:
        timestamps: sorted row timestamps.
        detections: boolean array, True where the detector fires.
        windows: the file's ``(start, end)`` windows.
        profile: profile name or weights dict.
        probationary_percent: probationary fraction (detections there ignored).

    Returns:
        Dict with ``raw`` (weighted score), ``tp`` (windows detected), ``fn``
        (scorable windows missed), ``fp`` (detections outside windows),
        ``tn`` (scorable rows outside windows without detection), ``tp_rows`` /
        ``fn_rows`` (NAB's row-level counts inside windows) and ``windows``
        (scorable windows).

    Example:
        >>> ts = np.datetime64("2020-01-01", "s") + np.arange(100) * 60
        >>> win = [(datetime(2020, 1, 1, 0, 50), datetime(2020, 1, 1, 0, 59))]
        >>> score_file(ts, np.arange(100) == 50, win, "standard")["raw"]
        1.0
    """
    det = np.asarray(detections, dtype=bool)
    if det.shape != (len(timestamps),):
        raise ValueError(f"detections shape {det.shape} != ({len(timestamps)},)")
    fn_weight = _profile(profile)["fn"]
    weights, window_id, scorable = row_weights(
        timestamps, windows, profile, probationary_percent
    )
    live = det & scorable
    outside = window_id < 0
    raw = float(weights[live & outside].sum())
    scored_windows = np.unique(window_id[scorable & ~outside])
    tp = 0
    for k in scored_windows:
        hits = live & (window_id == k)
        tp += bool(hits.any())
        raw += float(weights[hits].max()) if hits.any() else -fn_weight
    inside = scorable & ~outside
    return {
        "raw": raw,
        "tp": tp,
        "fn": len(scored_windows) - tp,
        "fp": int((live & outside).sum()),
        "tn": int((scorable & outside & ~det).sum()),
        "tp_rows": int((live & ~outside).sum()),
        "fn_rows": int((inside & ~det).sum()),
        "windows": len(scored_windows),
    }


def _corpus_rows(files, windows, profile, probationary_percent):
    """Concatenate the scorable rows of all files with corpus-wide window ids."""
    scores, weights, ids = [], [], []
    offset = 0
    for name, (timestamps, file_scores) in files.items():
        if name not in windows:
            raise KeyError(f"no windows entry for {name!r}")
        s = np.asarray(file_scores, dtype=float)
        if s.shape != (len(timestamps),) or np.isnan(s).any():
            raise ValueError(f"{name}: scores must be {len(timestamps)} non-NaN values")
        w, wid, ok = row_weights(
            timestamps, windows[name], profile, probationary_percent
        )
        scores.append(s[ok])
        weights.append(w[ok])
        ids.append(np.where(wid[ok] >= 0, wid[ok] + offset, -1))
        offset += int(wid.max()) + 1 if len(wid) else 0
    return np.concatenate(scores), np.concatenate(weights), np.concatenate(ids)


def _group_running_max(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` restarted at each change of ``groups``."""
    rank = np.cumsum(np.r_[True, groups[1:] != groups[:-1]]) - 1
    spread = 4.0 * (np.abs(values).max() + 1.0)
    return np.maximum.accumulate(values + rank * spread) - rank * spread


def sweep(scores, weights, window_ids, fn_weight):
    """Raw corpus score for every distinct threshold, in one sorted pass.

    Args:
        scores: anomaly scores of the scorable rows.
        weights: their detection weights (see ``row_weights``).
        window_ids: corpus-wide window index per row, -1 outside windows.
        fn_weight: cost of a missed window.

    Returns:
        ``(thresholds, raw)``, thresholds descending; the first entry is the
        never-fire threshold. ``raw[j]`` is the score of ``score >= thresholds[j]``.

    Example:
        >>> thresholds, raw = sweep(s, w, ids, 1.0)  # doctest: +SKIP
    """
    order = np.argsort(-scores, kind="stable")
    s, w, g = scores[order], weights[order], window_ids[order]
    delta = np.where(g < 0, w, 0.0)
    inside = np.flatnonzero(g >= 0)
    if len(inside):
        idx = inside[np.argsort(g[inside], kind="stable")]
        best = np.maximum(_group_running_max(w[idx], g[idx]), -fn_weight)
        first = np.r_[True, g[idx][1:] != g[idx][:-1]]
        before = np.where(first, -fn_weight, np.r_[-fn_weight, best[:-1]])
        delta[idx] = best - before
    base = -fn_weight * len(np.unique(g[g >= 0]))
    total = base + np.cumsum(delta)
    last = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, bool)
    never = (
        max(NEVER_FIRE_THRESHOLD, float(np.nextafter(s[0], np.inf))) if len(s) else 1.1
    )
    return np.r_[never, s[last]], np.r_[base, total[last]]


def optimize_threshold(files, windows, profile, probationary_percent=0.15):
    """Threshold maximising the raw NAB score summed over all files.

    Args:
        files: ``{name: (timestamps, scores)}``; names are window keys.
        windows: ``{name: [(start, end), ...]}`` (``load_windows``).
        profile: profile name or weights dict.
        probationary_percent: probationary fraction.

    Returns:
        ``(threshold, raw_score)``; among equal scores the highest threshold.

    Example:
        >>> best = optimize_threshold(files, windows, "standard")  # doctest: +SKIP
    """
    scores, weights, ids = _corpus_rows(files, windows, profile, probationary_percent)
    thresholds, raw = sweep(scores, weights, ids, _profile(profile)["fn"])
    best = int(np.argmax(raw))
    return float(thresholds[best]), float(raw[best])


def nab_score(
    files, windows, profile, threshold=None, probationary_percent=0.15
) -> dict:
    """Normalised NAB score of one detector for one profile.

    Args:
        files: ``{name: (timestamps, scores)}``; names are window keys.
        windows: ``{name: [(start, end), ...]}``.
        profile: profile name or weights dict.
        threshold: detection threshold (``score >= threshold``); None to
            optimise it over ``files`` first.
        probationary_percent: probationary fraction.

    Returns:
        Dict with ``score`` (normalised), ``raw``, ``null``, ``perfect``,
        ``threshold``, totals ``tp``/``fp``/``fn``/``tn`` and ``files``
        (per-file ``score_file`` dicts).

    Example:
        >>> nab_score(files, windows, "standard")["score"]  # doctest: +SKIP
        64.85...
    """
    weights = _profile(profile)
    if threshold is None:
        threshold, _ = optimize_threshold(files, windows, profile, probationary_percent)
    per_file = {}
    for name, (timestamps, scores) in files.items():
        if name not in windows:
            raise KeyError(f"no windows entry for {name!r}")
        detections = np.asarray(scores, dtype=float) >= threshold
        per_file[name] = score_file(
            timestamps, detections, windows[name], profile, probationary_percent
        )
    raw = sum(r["raw"] for r in per_file.values())
    null = -weights["fn"] * sum(r["windows"] for r in per_file.values())
    perfect = weights["tp"] * sum(len(windows[name]) for name in files)
    denom = perfect - null
    result = {
        "score": 100.0 * (raw - null) / denom if denom else 0.0,
        "raw": raw,
        "null": null,
        "perfect": perfect,
        "threshold": float(threshold),
    }
    for key in ("tp", "fp", "fn", "tn"):
        result[key] = sum(r[key] for r in per_file.values())
    result["files"] = per_file
    return result


def _window_key(path: Path, root: Path, windows) -> str:
    """Map ``<category>/[<detector>_]<file>.csv`` to its windows key."""
    category = path.parent.relative_to(root).as_posix()
    parts = path.name.split("_")
    for k in range(len(parts)):
        key = f"{category}/{'_'.join(parts[k:])}"
        if key in windows:
            return key
    raise KeyError(path)


def evaluate_results_dir(
    results_dir, windows_path, profiles=None, probationary_percent=0.15
):
    """Score every results CSV under a detector's results folder.

    Args:
        results_dir: folder laid out as ``<category>/<detector>_<file>.csv``
            or ``<category>/<file>.csv`` (CSVs directly in ``results_dir``,
            such as NAB's ``*_scores.csv`` summaries, are skipped).
        windows_path: ``combined_windows.json``.
        profiles: profile names (default: all of ``PROFILES``).
        probationary_percent: probationary fraction.

    Returns:
        ``{profile: nab_score(...) result}``, each with its own threshold.

    Raises:
        ValueError: listing the files that have no windows entry.

    Example:
        >>> results = evaluate_results_dir("numenta", "windows.json")  # doctest: +SKIP
        >>> round(results["standard"]["score"], 2)  # doctest: +SKIP
        64.85
    """
    root = Path(results_dir)
    windows = load_windows(windows_path)
    files, unknown = {}, []
    for path in sorted(root.rglob("*.csv")):
        if path.parent == root:
            continue
        try:
            key = _window_key(path, root, windows)
        except KeyError:
            unknown.append(str(path))
            continue
        timestamps, _, scores = read_results_csv(path)
        files[key] = (timestamps, scores)
    if unknown:
        raise ValueError(
            f"no windows entry in {windows_path} for: {', '.join(unknown)}"
        )
    if not files:
        raise ValueError(f"no results CSV under {root}/<category>/")
    names = list(PROFILES) if profiles is None else list(profiles)
    return {p: nab_score(files, windows, p, None, probationary_percent) for p in names}


def format_table(results: dict) -> str:
    """Markdown table of ``evaluate_results_dir`` results.

    Args:
        results: ``{profile: nab_score result}``.

    Returns:
        A table with columns profile, threshold, score, TP, FP, FN (TP/FN
        count windows, FP counts detections outside windows).

    Example:
        >>> print(format_table(evaluate_results_dir(d, w)))  # doctest: +SKIP
    """
    lines = [
        "| profile | threshold | score | TP | FP | FN |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['threshold']:.6g} | {r['score']:.2f} | "
            f"{r['tp']} | {r['fp']} | {r['fn']} |"
        )
    return "\n".join(lines)
