"""Classical streaming anomaly detectors for NAB-style series (numpy/scipy).

Both detectors return one score in [0, 1] per timestamp, 0 where there is not
enough history yet, and are causal: the score at ``t`` depends only on
``values[: t + 1]`` (plus the series length, which fixes the probationary
part, as in NAB).

* ``windowed_gaussian_scores``: NAB's windowedGaussian detector.
* ``knn_window_scores``: k-nearest-neighbour distance of the latest sliding
  window to the windows of the probationary (training) part.

Example:
    >>> import numpy as np
    >>> from keras_gen.series import baselines
    >>> x = np.sin(np.arange(2000) / 10.0)
    >>> x[1500] += 5.0
    >>> s = baselines.knn_window_scores(x, window=8, k=3)
    >>> int(np.argmax(s)) in range(1500, 1508)
    True
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc, expit

from keras_gen.series.nab import probationary_length


def _window_stats(
    x: np.ndarray, window: int, step: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (ddof 0) of the data each row is compared with.

    Row ``t`` sees ``x[:t]`` while the window fills (``t <= window``), then
    ``x[j * step : j * step + window]`` with ``j = (t - window) // step``.
    """
    n = len(x)
    mean, std = np.zeros(n), np.ones(n)
    grow = np.arange(1, min(n, window + 1))
    d = x - x[0]  # centre on the first value: constant prefixes give std 0 exactly
    s1, s2 = np.cumsum(d)[grow - 1], np.cumsum(d * d)[grow - 1]
    mean[grow] = x[0] + s1 / grow
    std[grow] = np.sqrt(np.maximum(s2 / grow - (s1 / grow) ** 2, 0.0))
    for j in range(max(0, (n - 1 - window) // step + 1)):
        rows = slice(window + j * step, window + (j + 1) * step)
        block = x[j * step : j * step + window]
        mean[rows], std[rows] = block.mean(), block.std()
    std[std == 0.0] = 1e-6
    return mean, std


def windowed_gaussian_scores(values, window: int = 6400, step: int = 100) -> np.ndarray:
    """NAB's windowedGaussian detector (``nab/detectors/gaussian``).

    Each value is scored against a Gaussian fitted (mean, population std; a
    zero std becomes 1e-6) to the preceding values: all of them while fewer
    than ``window`` have been seen, then a window of ``window`` values that
    slides forward by ``step`` once ``step`` new values have arrived. The
    score is ``1 - Q(|z|) = 1 - erfc(|z| / sqrt(2)) / 2`` (so in [0.5, 1]),
    and 0 for the first row.

    Agreement with NAB's published ``windowedGaussian`` results (24 files of
    NAB's realKnownCause, realAdExchange and artificial folders, 123.5k rows):
    the largest absolute difference is 5.2e-13 (the published CSVs have 12
    decimals); see ``tests/series/test_baselines.py`` and
    ``benchmarks/results/nab_scorer.md``. NAB scores of these unrounded outputs:
    28.16 / 23.79 / 31.59 (published 28.16 / 22.38 / 31.59: the 12-decimal
    rounding ties scores near 1, which costs the reward-low-FP sweep).

    Args:
        values: 1-D series.
        window: maximum number of past values in the Gaussian (NAB: 6400).
        step: slide of the full window (NAB: 100).

    Returns:
        Float array of scores, one per value.

    Example:
        >>> s = windowed_gaussian_scores(np.r_[np.zeros(50), 10.0], window=20, step=5)
        >>> float(s[0]), float(s[-1])
        (0.0, 1.0)
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or window < 1 or step < 1:
        raise ValueError("values must be 1-D, window and step positive")
    if len(x) == 0:
        return np.zeros(0)
    mean, std = _window_stats(x, window, step)
    z = np.abs(x - mean) / std
    scores = 1.0 - 0.5 * erfc(z / np.sqrt(2.0))
    scores[0] = 0.0
    return scores


def _knn_distances(queries, train, query_ends, train_ends, k, exclusion):
    """Mean distance of each query window to its k nearest training windows.

    Training windows ending within ``exclusion`` rows of a query's end are
    skipped (trivial self-matches of overlapping windows).
    """
    out = np.empty(len(queries))
    train_sq = np.einsum("ij,ij->i", train, train)
    for start in range(0, len(queries), 2048):
        q = queries[start : start + 2048]
        d2 = (
            np.einsum("ij,ij->i", q, q)[:, None] + train_sq[None, :] - 2.0 * q @ train.T
        )
        gap = np.abs(query_ends[start : start + 2048, None] - train_ends[None, :])
        d2 = np.where(gap < exclusion, np.inf, np.maximum(d2, 0.0))
        nearest = np.partition(d2, k - 1, axis=1)[:, :k]
        out[start : start + 2048] = np.sqrt(nearest).mean(axis=1)
    return out


def _fit_log_logistic(train_distances: np.ndarray) -> tuple[float, float]:
    """Centre and slope mapping the training median to 0.5 and its q99 to 0.99."""
    centre = max(float(np.median(train_distances)), 1e-6)
    q99 = float(np.quantile(train_distances, 0.99))
    ratio = q99 / centre if q99 > centre * 1.01 else 10.0
    return centre, float(np.log(99.0) / np.log(ratio))


def knn_window_scores(
    values, window: int, k: int, train_fraction: float = 0.15
) -> np.ndarray:
    """Causal k-NN distance of each sliding window to the training windows.

    The training part is NAB's probationary period, the first
    ``min(floor(train_fraction * n), train_fraction * 5000)`` rows. Values are
    standardised with the training mean and std; the window ending at ``t``
    (``window`` values) is compared with every training window (Euclidean
    distance / sqrt(window), windows ending within ``window`` rows of each
    other skipped) and its distance is the mean over the ``k`` nearest. The
    same leave-out distances of the training windows fit a log-logistic map,
    ``score = 1 / (1 + (centre / d) ** slope)``, sending the training median to
    0.5 and the training 99th percentile to 0.99 (no saturation at 1 until far
    beyond). Rows of the training part score 0.

    Args:
        values: 1-D series.
        window: sliding window length (>= 1).
        k: number of neighbours (>= 1).
        train_fraction: probationary fraction (NAB: 0.15).

    Returns:
        Float array of scores in [0, 1], one per value.

    Raises:
        ValueError: when the training part has too few windows for ``k``.

    Example:
        >>> s = knn_window_scores(np.sin(np.arange(3000) / 7.0), window=10, k=5)
        >>> s.shape, float(s[:450].max())
        ((3000,), 0.0)
    """
    x = np.asarray(values, dtype=float)
    n_train = probationary_length(len(x), train_fraction)
    if x.ndim != 1 or window < 1 or k < 1:
        raise ValueError("values must be 1-D, window and k positive")
    if n_train - window + 1 < 2 * window + k:
        raise ValueError(
            f"training part of {n_train} rows too short for window={window}, k={k}"
        )
    mu, sd = x[:n_train].mean(), x[:n_train].std()
    z = (x - mu) / (sd if sd > 0 else 1.0)
    windows = np.lib.stride_tricks.sliding_window_view(z, window) / np.sqrt(window)
    ends = np.arange(window - 1, len(x))
    n_tw = n_train - window + 1
    train, train_ends = windows[:n_tw], ends[:n_tw]
    d_train = _knn_distances(train, train, train_ends, train_ends, k, window)
    centre, slope = _fit_log_logistic(d_train)
    d_test = _knn_distances(windows[n_tw:], train, ends[n_tw:], train_ends, k, window)
    scores = np.zeros(len(x))
    with np.errstate(divide="ignore"):
        scores[n_train:] = expit(slope * (np.log(d_test) - np.log(centre)))
    return scores
