"""Table of the recipe study: `python benchmarks/recipe_table.py DIR [--copy OUT]`.

Reads the `<recipe>_s<seed>_e<epoch>.json` evaluations written by
`benchmarks/recipe_study.sh` (and its `real_vs_real.json` floor), prints one
row per recipe and budget with the mean over seeds and each seed's value,
and with `--copy` copies the JSONs to OUT (e.g. benchmarks/results/recipes).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

NAME = re.compile(r"(?P<recipe>.+)_s(?P<seed>\d+)_e(?P<epoch>\d+)\.json$")
IMAGES_PER_EPOCH = 6_400


def collect(folder: Path) -> dict:
    rows: dict = defaultdict(list)
    for path in sorted(folder.glob("*_s*_e*.json")):
        match = NAME.match(path.name)
        if match:
            model = json.loads(path.read_text())["model"]
            key = (match["recipe"], int(match["epoch"]) * IMAGES_PER_EPOCH)
            rows[key].append((int(match["seed"]), model))
    return rows


def fmt(values: list[float], digits: int) -> str:
    mean = sum(values) / len(values)
    each = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{mean:.{digits}f}" + (f" ({each})" if len(values) > 1 else "")


def table(folder: Path) -> str:
    lines = [
        "| recipe | images seen | seeds | KID | FID | precision | recall | "
        "flat squares (real) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (recipe, images), runs in sorted(collect(folder).items()):
        runs.sort()

        def get(key, runs=runs):
            return [m[key] for _, m in runs]

        lines.append(
            f"| {recipe} | {images:,} | {len(runs)} | {fmt(get('kid_mean'), 4)} | "
            f"{fmt(get('fid'), 2)} | {fmt(get('precision'), 3)} | "
            f"{fmt(get('recall'), 3)} | {fmt(get('flat_fraction'), 3)} "
            f"({runs[0][1].get('flat_fraction_real', float('nan')):.3f}) |"
        )
    floor = folder / "real_vs_real.json"
    if floor.is_file():
        f = json.loads(floor.read_text())["real_vs_real"]
        lines.append(
            f"| held-out photos, two halves (floor) | - | - | {f['kid_mean']:.4f} | "
            f"{f['fid']:.2f} | {f['precision']:.3f} | {f['recall']:.3f} | "
            f"{f['flat_fraction']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--copy", type=Path)
    args = parser.parse_args()
    print(table(args.folder))
    if args.copy:
        args.copy.mkdir(parents=True, exist_ok=True)
        for path in args.folder.glob("*.json"):
            shutil.copy(path, args.copy / path.name)


if __name__ == "__main__":
    main()
