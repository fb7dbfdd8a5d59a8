"""Does the metric see what a person sees? FID/KID of known damage to real bedrooms.

Reference: one half of the shared bedroom photos (bedroom256 at 64x64,
even-numbered files); compared sets: the other half (the real-vs-real
floor), the same half damaged (blur, noise, JPEG, upsampling, pasted cutout
squares, a checkerboard, mode collapse, see keras_gen.evaluation.damage),
and each other room type of rooms64. Each case is scored with the room
features (the default) and with the random-conv features, and the script
checks the orderings a person expects. Also: the fraction of images with a
flat square (keras_gen.evaluation.artifacts) of each set.

    python benchmarks/feature_validation.py [--num 2000]

Writes benchmarks/results/feature_validation.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_load, rooms_root, stamp  # noqa: E402

from keras_gen.evaluation.artifacts import flat_rectangle_fraction  # noqa: E402
from keras_gen.evaluation.damage import DAMAGES  # noqa: E402
from keras_gen.evaluation.evaluate import real_source  # noqa: E402
from keras_gen.evaluation.features import get_feature_extractor  # noqa: E402
from keras_gen.evaluation.metrics import (  # noqa: E402
    frechet_distance,
    kernel_inception_distance,
)

RESULTS = Path(__file__).resolve().parent / "results"

#: (milder, stronger): pairs whose order a person would not dispute.
ORDERS = [
    ("real vs real (floor)", "blur sigma 0.5"),
    ("blur sigma 0.5", "blur sigma 1"),
    ("blur sigma 1", "blur sigma 1.5"),
    ("real vs real (floor)", "noise sigma 0.02"),
    ("noise sigma 0.02", "noise sigma 0.05"),
    ("noise sigma 0.05", "noise sigma 0.1"),
    ("real vs real (floor)", "JPEG quality 10"),
    ("real vs real (floor)", "32 -> 64 upsampling"),
    ("real vs real (floor)", "cutout squares pasted"),
    ("real vs real (floor)", "checkerboard +-12"),
    ("blur sigma 0.5", "collapse (20 images)"),
]


def load(path: Path, limit: int | None = None) -> np.ndarray:
    source = real_source(str(path), 64)
    count = source.available if limit is None else min(limit, source.available)
    return np.concatenate(list(source.batches(count, 256)))


def distances(extractor, reference: np.ndarray, other: np.ndarray) -> dict:
    ref, oth = extractor(reference), extractor(other)
    stats = [(f.mean(0), np.cov(f, rowvar=False)) for f in (ref, oth)]
    kid, kid_std = kernel_inception_distance(
        ref, oth, num_subsets=50, subset_size=min(1000, len(ref), len(oth))
    )
    return {
        "fid": frechet_distance(*stats[0], *stats[1]),
        "kid": kid,
        "kid_std": kid_std,
    }


def cases(bedrooms: np.ndarray, root: Path, num: int) -> dict[str, np.ndarray]:
    reference, other = bedrooms[0::2][:num], bedrooms[1::2][:num]
    sets = {"real vs real (floor)": other}
    for name, damage in DAMAGES.items():
        sets[name] = damage(other)
    for room in sorted(p.name for p in (root / "rooms64").iterdir() if p.is_dir()):
        if room != "bedroom":
            sets[f"other room: {room}"] = load(root / "rooms64" / room, num)
    return {"reference": reference, **sets}


def check_orders(rows: dict, features: str) -> list[dict]:
    checks = []
    for milder, stronger in ORDERS:
        for metric in ("fid", "kid"):
            a, b = rows[milder][features][metric], rows[stronger][features][metric]
            checks.append(
                {
                    "features": features,
                    "metric": metric,
                    "milder": milder,
                    "stronger": stronger,
                    "ok": bool(a < b),
                }
            )
    floor = rows["real vs real (floor)"][features]
    for name, row in rows.items():
        if name.startswith("other room"):
            for metric in ("fid", "kid"):
                checks.append(
                    {
                        "features": features,
                        "metric": metric,
                        "milder": "real vs real (floor)",
                        "stronger": name,
                        "ok": bool(floor[metric] < row[features][metric]),
                    }
                )
    return checks


def markdown(result: dict) -> str:
    lines = [
        "# Feature validation: FID / KID of known damage to real bedrooms",
        "",
        f"`{result['command']}`, {result['date']}, load {result['load']}, "
        f"{result['num']} images per set, 64x64. Reference: even-numbered "
        "bedroom256 photos; compared: the odd-numbered ones, damaged as named.",
        "",
        "| case | rooms FID | rooms KID | random FID | random KID | flat squares |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in result["rows"].items():
        r, q = row["rooms"], row["random"]
        lines.append(
            f"| {name} | {r['fid']:.2f} | {r['kid']:.4f} | {q['fid']:.3f} | "
            f"{q['kid']:.4f} | {row['flat_fraction']:.3f} |"
        )
    for features in ("rooms", "random"):
        bad = [c for c in result["checks"] if c["features"] == features and not c["ok"]]
        total = sum(c["features"] == features for c in result["checks"])
        lines += [
            "",
            f"{features} features: {total - len(bad)}/{total} orderings right.",
        ]
        lines += [
            f"- wrong: {c['metric']} {c['milder']} >= {c['stronger']}" for c in bad
        ]
    return "\n".join(lines) + "\n"


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=2000, help="images per set")
    args = parser.parse_args()
    start = time.time()
    root = rooms_root()
    sets = cases(load(root / "bedroom256"), root, args.num)
    reference = sets.pop("reference")
    extractors = {
        "rooms": get_feature_extractor("rooms"),
        "random": get_feature_extractor("random"),
    }
    rows = {}
    for name, images in sets.items():
        rows[name] = {k: distances(e, reference, images) for k, e in extractors.items()}
        rows[name]["flat_fraction"] = flat_rectangle_fraction(images)
        print(name, json.dumps(rows[name]), flush=True)
    result = {
        "command": "python benchmarks/feature_validation.py " + " ".join(sys.argv[1:]),
        "date": stamp(),
        "load": machine_load(),
        "num": args.num,
        "rows": rows,
        "checks": check_orders(rows, "rooms") + check_orders(rows, "random"),
        "features": {k: e.describe() for k, e in extractors.items()},
        "wall_time_s": round(time.time() - start, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "feature_validation.json").write_text(
        json.dumps(result, indent=1) + "\n"
    )
    (RESULTS / "feature_validation.md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
