"""Raw reconstruction errors -> causal anomaly scores in [0, 1].

Two methods (`score.method`), both causal (the score at t reads errors up
to t only) and both relative to the series' own recent errors, so that one
threshold serves series of any scale:

- `record` (default): s_t, the mean error of the last `smoothing` rows,
  over the largest s of the `history` rows before it: r = s_t / max, and the
  score is r / (1 + r) (0.5: level with the recent maximum). A record-breaking
  error stands out; an error as large as one already seen does not, so a
  lasting change is flagged when it starts rather than all along.
- `likelihood`: the Gaussian tail probability q of s_t given the mean and
  standard deviation of s over the `history` rows before it (as NAB's HTM
  detector post-processes its raw scores); the score is
  `min(1, -log10(q) / 10)`.

Scores are 0 until `min_history` errors precede them. Given the values,
a value beyond the range of all earlier values by more than
`spatial_tolerance` of that range scores 1 (`spatial_novelty`; NAB's HTM
detector has the same rule, with the same 5%): a new extreme is an anomaly
however well the model reconstructs it.

`suppress_rows` (off by default) keeps only alarms that rise above every
score of the last `suppress_rows` rows and sets the others to 0
(`suppress_repeats`): whatever the detection threshold, a row loses its
detection only if a row at least as high, so detected too, came shortly
before it. NAB counts only the first detection in an anomaly window and
charges every later one outside it as a false positive.

Example:
>>> errors = np.r_[np.full(300, np.nan), np.ones(300), [50.0], np.ones(99)]
>>> scores = anomaly_scores(errors, SeriesScoreConfig())
>>> int(np.argmax(scores))
600
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy.ndimage import maximum_filter1d

from keras_gen.series.config import SeriesScoreConfig

#: -log10 of the tail probability that maps to a likelihood score of 1.
SCORE_DECADES = 10.0


def _smoothed(errors: np.ndarray, k: int) -> np.ndarray:
    """Mean of the last `k` values at every position (fewer at the start)."""
    csum = np.concatenate([[0.0], np.cumsum(errors)])
    idx = np.arange(len(errors))
    lo = np.maximum(idx + 1 - k, 0)
    return (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)


def _history_bounds(length: int, k: int, history: int) -> tuple[np.ndarray, ...]:
    """[lo, hi) of the earlier values each s_t is compared with (no overlap)."""
    hi = np.maximum(np.arange(length) - k + 1, 0)
    lo = np.maximum(hi - history, 0)
    return lo, hi


def _previous_max(values: np.ndarray, size: int) -> np.ndarray:
    """max(values[t - size : t]) at every t (0 at t = 0; values >= 0)."""
    # This origin makes the filter look back only (causal).
    shifted = np.concatenate([[0.0], values[:-1]])
    return maximum_filter1d(shifted, size=size, origin=(size - 1) // 2, mode="nearest")


def record_scores(smooth: np.ndarray, cfg: SeriesScoreConfig) -> np.ndarray:
    lo, hi = _history_bounds(len(smooth), cfg.smoothing, cfg.history)
    # running[j] = max(smooth[j - history : j]).
    running = _previous_max(smooth, cfg.history)
    previous = running[hi]
    ratio = smooth / (previous + 1e-12)
    out = ratio / (1.0 + ratio)
    out[hi - lo < cfg.min_history] = 0.0
    return out


def likelihood_scores(smooth: np.ndarray, cfg: SeriesScoreConfig) -> np.ndarray:
    lo, hi = _history_bounds(len(smooth), cfg.smoothing, cfg.history)
    s1 = np.concatenate([[0.0], np.cumsum(smooth)])
    s2 = np.concatenate([[0.0], np.cumsum(smooth * smooth)])
    count = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (s1[hi] - s1[lo]) / count
        var = (s2[hi] - s2[lo]) / count - mean**2
    # A noiseless history would make any deviation infinitely unlikely.
    std = np.sqrt(np.maximum(var, 0.0)) + 1e-3 * np.abs(mean) + 1e-6
    decades = -special.log_ndtr(-(smooth - mean) / std) / math.log(10.0)
    out = np.clip(decades / SCORE_DECADES, 0.0, 1.0)
    out[count < cfg.min_history] = 0.0
    return out


METHODS = {"record": record_scores, "likelihood": likelihood_scores}


def spatial_novelty(values: np.ndarray, tolerance: float) -> np.ndarray:
    """True where a value leaves the range of all earlier values by > tolerance.

    Per column of `values` [T, C] (any column counts); causal.
    """
    values = np.asarray(values, np.float64).reshape(len(values), -1)
    earlier = np.concatenate([values[:1], values[:-1]])
    high = np.maximum.accumulate(earlier)
    low = np.minimum.accumulate(earlier)
    margin = (high - low) * tolerance
    return np.any((values > high + margin) | (values < low - margin), axis=1)


def suppress_repeats(scores: np.ndarray, rows: int | None) -> np.ndarray:
    """Scores >= 0 with each one not above all of its `rows` predecessors set to 0.

    Causal (compares with earlier raw scores only). For any threshold, a
    detection is dropped only when an earlier detection, at least as high,
    lies within `rows` rows before it. None: unchanged.
    """
    scores = np.asarray(scores, np.float64)
    if not rows:
        return scores
    return np.where(scores > _previous_max(scores, rows), scores, 0.0)


def anomaly_scores(
    errors: np.ndarray,
    cfg: SeriesScoreConfig,
    values: np.ndarray | None = None,
    suppress: bool = True,
) -> np.ndarray:
    """Scores in [0, 1] for every row from raw errors (NaN: no error yet: 0).

    Args:
        errors: raw error per row.
        cfg: the score settings.
        values: the series `[T, C]`, for `spatial_tolerance` (None: skip it).
        suppress: apply `cfg.suppress_rows` (an ensemble applies it to the
            mean of its members' unsuppressed scores instead).
    """
    errors = np.asarray(errors, np.float64)
    scores = np.zeros(len(errors))
    valid = np.flatnonzero(np.isfinite(errors))
    if valid.size == 0:
        return scores
    start = int(valid[0])
    smooth = _smoothed(np.nan_to_num(errors[start:], nan=0.0), cfg.smoothing)
    scores[start:] = np.nan_to_num(METHODS[cfg.method](smooth, cfg), nan=0.0)
    if values is not None and cfg.spatial_tolerance is not None:
        novel = spatial_novelty(values, cfg.spatial_tolerance)
        novel[: start + cfg.min_history] = False
        scores[novel] = 1.0
    return suppress_repeats(scores, cfg.suppress_rows) if suppress else scores
