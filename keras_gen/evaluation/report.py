"""The result of an evaluation as a plain-text table or a JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import tensorflow as tf

__all__ = ["format_table", "write_json"]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per metric, columns model and real-vs-real floor."""
    columns = [c for c in ("model", "real_vs_real") if c in result]
    headers = {"model": "model vs real", "real_vs_real": "real vs real (floor)"}
    keys: list[str] = []
    for c in columns:
        keys += [k for k in result[c] if k not in keys and k != "kid_std"]
    rows = []
    for key in keys:
        cells = []
        for c in columns:
            value = result[c].get(key)
            cell = _fmt(value)
            if key == "kid_mean" and value is not None:
                cell += f" ± {_fmt(result[c].get('kid_std'))}"
            cells.append(cell)
        rows.append([key.replace("kid_mean", "kid"), *cells])
    for key, value in result.get("vae", {}).items():
        rows.append([key, _fmt(value), *([""] * (len(columns) - 1))])
    header = (
        ["metric", *(headers[c] for c in columns)] if columns else ["metric", "VAE"]
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.append(
        f"{result['num_images']} images per set, {result['image_size']}px, "
        f"features: {result.get('features', {}).get('name', '-')}, "
        f"{result['wall_time_s']:.1f} s"
    )
    lines += [f"note: {n}" for n in result.get("notes", [])]
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the result (plus versions) as indented JSON; returns the path."""
    import keras

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(result)
    payload.setdefault(
        "environment",
        {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "cpu_count": os.cpu_count(),
        },
    )
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path
