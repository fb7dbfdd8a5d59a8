"""Why cutout leaks: how visible a painted grey square stays after augmentation.

A discriminator sees only augmented images. If the generator paints a flat
grey square into its images, the discriminator can punish it only as far as
augmented real photos and augmented painted photos still differ. This
script measures that difference with the room features: for each
augmentation probability p, the FID between aug_p(real half A) and
aug_p(half B with a pasted cutout square), minus the floor FID between
aug_p(A) and aug_p(B). The more of the square's signal the augmentation
hides, the weaker the discriminator's push against a generator that paints
squares; at p = 1 (DiffAugment as the quality study ran it) every real image
the discriminator sees already carries one.

    python benchmarks/augment_leak.py [--num 2000]

Writes benchmarks/results/augment_leak.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_load, rooms_root, stamp  # noqa: E402
from feature_validation import load  # noqa: E402

from keras_gen.evaluation.damage import paste_cutout  # noqa: E402
from keras_gen.evaluation.features import RoomFeatures  # noqa: E402
from keras_gen.evaluation.metrics import frechet_distance  # noqa: E402
from keras_gen.models.gan.augment import diff_augment  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
POLICY = ("translation", "cutout")


def augmented(images: np.ndarray, p: float, seed: int) -> np.ndarray:
    """DiffAugment translation,cutout with probability p, as the GAN applies it."""
    x = tf.constant(images.astype(np.float32) / 127.5 - 1.0)
    out = diff_augment(x, POLICY, keras.random.SeedGenerator(seed), p=tf.constant(p))
    return np.clip(np.rint((out.numpy() + 1.0) * 127.5), 0, 255).astype(np.uint8)


def fid(features, a: np.ndarray, b: np.ndarray) -> float:
    fa, fb = features(a), features(b)
    return frechet_distance(
        fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False)
    )


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=2000)
    args = parser.parse_args()
    bedrooms = load(rooms_root() / "bedroom256")
    a, b = bedrooms[0::2][: args.num], bedrooms[1::2][: args.num]
    painted = paste_cutout(b, seed=7)
    features = RoomFeatures()
    rows = []
    for p in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        ref = augmented(a, p, 1)
        floor = fid(features, ref, augmented(b, p, 2))
        seen = fid(features, ref, augmented(painted, p, 2))
        rows.append(
            {"p": p, "floor_fid": floor, "painted_fid": seen, "visible": seen - floor}
        )
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "command": "python benchmarks/augment_leak.py " + " ".join(sys.argv[1:]),
        "date": stamp(),
        "load": machine_load(),
        "num": args.num,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "augment_leak.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# How visible a painted cutout square stays after augmentation",
        "",
        f"`{result['command']}`, {result['date']}, load {result['load']}, "
        f"{args.num} bedrooms per set, room features.",
        "",
        "| p | FID aug(A) vs aug(B) (floor) | FID aug(A) vs aug(B + square) "
        "| visible |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['p']:.1f} | {r['floor_fid']:.2f} | {r['painted_fid']:.2f} | "
        f"{r['visible']:.2f} |"
        for r in rows
    ]
    (RESULTS / "augment_leak.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
