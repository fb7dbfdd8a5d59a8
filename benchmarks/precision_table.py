"""Markdown table of benchmarks/precision_quality.sh: float32 vs mixed_bfloat16.

Usage: python benchmarks/precision_table.py runs/precision
Rows per run (seed), then the mean per precision; training time from each
run's metrics.csv is not used (the runs shared the cores), only quality.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

GAN_KEYS = (
    ("fid", "FID", 2),
    ("kid_mean", "KID", 4),
    ("precision", "P", 3),
    ("recall", "R", 3),
)
VAE_KEYS = (("psnr", "PSNR dB", 2), ("ssim", "SSIM", 3), ("nelbo_bpd", "bits/dim", 3))


def load(out: Path, kind: str) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {}
    for path in sorted(out.glob(f"{kind}_*_s*.json")):
        precision = path.stem.split("_", 1)[1].rsplit("_s", 1)[0]
        metrics = json.loads(path.read_text())["model"]
        runs.setdefault(precision, []).append(metrics)
    return runs


def table(runs: dict[str, list[dict[str, float]]], keys, title: str) -> list[str]:
    head = " | ".join(name for _, name, _ in keys)
    lines = [f"| {title} | seeds | {head} |", "| --- | --- |" + " --- |" * len(keys)]
    for precision, rows in runs.items():
        cells = []
        for key, _, digits in keys:
            values = [r[key] for r in rows]
            each = ", ".join(f"{v:.{digits}f}" for v in values)
            cells.append(f"{statistics.mean(values):.{digits}f} ({each})")
        lines.append(f"| {precision} | {len(rows)} | " + " | ".join(cells) + " |")
    return lines


def main(out: str) -> None:
    root = Path(out)
    gan, vae = load(root, "gan"), load(root, "vae")
    if gan:
        print("\n".join(table(gan, GAN_KEYS, "GAN (quality_best, 64k images)")))
        print()
    if vae:
        print("\n".join(table(vae, VAE_KEYS, "VAE (width 32, 6 epochs)")))


if __name__ == "__main__":
    main(sys.argv[1])
