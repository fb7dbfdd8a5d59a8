"""Markdown tables of benchmarks/precision_quality.sh: float32 vs mixed_bfloat16.

Usage: python benchmarks/precision_table.py runs/precision
One row per config and precision: the mean over seeds, then each seed's
value. Training times are not compared (the runs shared the cores), only
quality.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

GAN_KEYS = (
    ("fid", "FID", 2),
    ("kid_mean", "KID", 4),
    ("precision", "precision", 3),
    ("recall", "recall", 3),
)
VAE_KEYS = (("psnr", "PSNR dB", 2), ("ssim", "SSIM", 3), ("nelbo_bpd", "bits/dim", 3))


def load(out: Path) -> dict[tuple[str, str], list[dict[str, float]]]:
    """{(config, precision): [metrics per seed]} of <config>__<precision>__s<N>.json."""
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for path in sorted(out.glob("*__*__s*.json")):
        config, precision, _ = path.stem.split("__")
        result = json.loads(path.read_text())
        # Generation metrics are under "model", VAE reconstruction under "vae".
        runs.setdefault((config, precision), []).append(
            result.get("model") or result["vae"]
        )
    return runs


def table(runs: dict[tuple[str, str], list[dict[str, float]]], keys) -> list[str]:
    head = " | ".join(name for _, name, _ in keys)
    lines = [
        f"| config | precision | seeds | {head} |",
        "| --- | --- | --- |" + " --- |" * len(keys),
    ]
    for (config, precision), rows in runs.items():
        cells = []
        for key, _, digits in keys:
            values = [r[key] for r in rows]
            each = ", ".join(f"{v:.{digits}f}" for v in values)
            cells.append(f"{statistics.mean(values):.{digits}f} ({each})")
        lines.append(
            f"| {config} | {precision} | {len(rows)} | " + " | ".join(cells) + " |"
        )
    return lines


def main(out: str) -> None:
    runs = load(Path(out))
    gan = {k: v for k, v in runs.items() if "fid" in v[0]}
    vae = {k: v for k, v in runs.items() if "psnr" in v[0]}
    if gan:
        print("\n".join(table(gan, GAN_KEYS)))
        print()
    if vae:
        print("\n".join(table(vae, VAE_KEYS)))


if __name__ == "__main__":
    main(sys.argv[1])
