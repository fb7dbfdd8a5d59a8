"""CBM3D reference: how far a classical colour denoiser gets on our test bedrooms.

Same protocol as `keras-gen denoise MODEL DIR --add-noise S --seed 0`: images
in sorted order, clean = uint8 / 255 (float64), one `default_rng(seed)` per
sigma drawing `standard_normal` per image in turn, noisy = clip(clean + S *
noise, 0, 1). Denoised = `bm3d.bm3d_rgb(noisy, S, profile)`, clipped and
rounded to uint8 / 255 before scoring. PSNR = 10 log10(1 / MSE) per image
(all pixels and channels); the mean over images is reported.

`bm3d` is not a project dependency: run it from its own venv,

    python3 -m venv /work/bm3dvenv
    /work/bm3dvenv/bin/pip install bm3d numpy pillow
    nice /work/bm3dvenv/bin/python benchmarks/bm3d_reference.py \
        runs/denoise_data/test [--sigmas 0.1 0.2] [--limit N] [--profile np]

About 2.5 s of CPU per 64 px image and sigma (bm3d 4.0.3 / bm4d 4.2.5).
`--profile refilter` crashes in bm4d 4.2.5 with a scalar sigma (see
benchmarks/results/denoise_bm3d_reference.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import bm3d
import numpy as np
from PIL import Image

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10.0 * np.log10(1.0 / np.mean((a - b) ** 2)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.1, 0.2])
    p.add_argument("--limit", type=int, help="first N images (sorted)")
    p.add_argument("--profile", default="np", help="bm3d profile: np, refilter, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()

    files = sorted(
        f for f in Path(args.folder).iterdir() if f.suffix.lower() in EXTENSIONS
    )
    files = files[: args.limit]
    cleans = [
        np.asarray(Image.open(f).convert("RGB"), np.float64) / 255.0 for f in files
    ]
    results = []
    for sigma in args.sigmas:
        rng = np.random.default_rng(args.seed)
        noisy_db, out_db, seconds = [], [], 0.0
        for clean in cleans:
            noisy = np.clip(clean + sigma * rng.standard_normal(clean.shape), 0.0, 1.0)
            start = time.perf_counter()
            out = bm3d.bm3d_rgb(noisy, sigma, profile=args.profile)
            seconds += time.perf_counter() - start
            out = np.round(np.clip(out, 0.0, 1.0) * 255.0) / 255.0
            noisy_db.append(psnr(clean, noisy))
            out_db.append(psnr(clean, out))
        row = {
            "sigma": sigma,
            "profile": args.profile,
            "images": len(cleans),
            "seed": args.seed,
            "psnr_noisy": round(float(np.mean(noisy_db)), 3),
            "psnr_cbm3d": round(float(np.mean(out_db)), 3),
            "psnr_cbm3d_std": round(float(np.std(out_db)), 3),
            "seconds_per_image": round(seconds / len(cleans), 3),
        }
        print(json.dumps(row), flush=True)
        row["per_image_cbm3d"] = [round(v, 3) for v in out_db]
        results.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
