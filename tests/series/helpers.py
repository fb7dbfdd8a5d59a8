"""Synthetic series files for the series tests (no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

START = np.datetime64("2021-01-01T00:00:00", "s")
STEP = np.timedelta64(300, "s")


def sine_values(rows: int, spike_at: int | None = None, seed: int = 0) -> np.ndarray:
    """A daily-like sine (period 48 rows) with light noise and an optional spike."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    values = 10.0 + 3.0 * np.sin(2 * np.pi * t / 48) + 0.05 * rng.normal(size=rows)
    if spike_at is not None:
        values[spike_at] += 12.0
    return values


def write_series(path: Path, values: np.ndarray) -> Path:
    """`timestamp,value` CSV, one row every 5 minutes from START."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = START + np.arange(len(values)) * STEP
    lines = ["timestamp,value"] + [
        f"{str(t).replace('T', ' ')},{v:.6f}" for t, v in zip(stamps, values)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_windows(path: Path, windows: dict[str, list[tuple[int, int]]]) -> Path:
    """NAB windows JSON from row ranges: {key: [(first_row, last_row), ...]}."""

    def stamp(row: int) -> str:
        return str(START + row * STEP).replace("T", " ") + ".000000"

    data = {k: [[stamp(a), stamp(b)] for a, b in v] for k, v in windows.items()}
    path.write_text(json.dumps(data, indent=1))
    return path
