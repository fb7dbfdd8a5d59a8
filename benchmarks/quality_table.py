"""Markdown table of the quality study from `keras-gen evaluate` JSON files.

Usage: python benchmarks/quality_table.py runs/quality/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(path: Path) -> str:
    result = json.loads(path.read_text())
    sizes = result.get("set_sizes", {})
    if "model" in result:
        m = result["model"]
        n = f"{sizes.get('generated')} vs {sizes.get('real')}"
    else:  # the real-vs-real floor
        m = result["real_vs_real"]
        n = f"{sizes.get('real')} + {sizes.get('real_second_half')}"
    kid = f"{m['kid_mean']:.4f} +- {m['kid_std']:.4f}"
    return (
        f"| {path.stem} | {n} | {m['fid']:.2f} | {kid} "
        f"| {m['precision']:.3f} | {m['recall']:.3f} |"
    )


def main(paths: list[str]) -> None:
    print("| run | images (generated vs real) | FID | KID | precision | recall |")
    print("| --- | --- | --- | --- | --- | --- |")
    for p in paths:
        print(row(Path(p)))


if __name__ == "__main__":
    main(sys.argv[1:])
