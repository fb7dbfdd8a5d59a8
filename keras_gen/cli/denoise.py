"""`keras-gen denoise MODEL IN_DIR|IMAGE --out OUT_DIR`."""

from __future__ import annotations

import argparse

import numpy as np

from keras_gen.cli.presets import add_model_argument
from keras_gen.utils.console import log


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "denoise",
        help="denoise images of any size (a fully convolutional DAE in one pass, "
        "a fixed-size VAE on overlapping tiles)",
    )
    add_model_argument(p, "denoising model: run folder, .keras file or SavedModel")
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("--out", required=True, help="output folder (PNG per input)")
    p.add_argument(
        "--add-noise",
        type=float,
        metavar="SIGMA",
        help="treat inputs as clean: add Gaussian noise of SIGMA first and write "
        "noisy | denoised | clean triplets with PSNRs",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --add-noise")
    p.add_argument(
        "--force",
        action="store_true",
        help="use a VAE that was not trained to denoise (refused by default)",
    )
    p.add_argument(
        "--report",
        metavar="FILE.json",
        help="with --add-noise: write the mean PSNRs (noisy, denoised) as JSON",
    )
    p.set_defaults(func=cmd_denoise)


def cmd_denoise(args: argparse.Namespace) -> int:
    from keras_gen.denoise import denoise_files

    if args.add_noise is not None and args.add_noise < 0:
        raise ValueError(f"--add-noise must be >= 0, got {args.add_noise}")
    if args.report and args.add_noise is None:
        raise ValueError("--report needs --add-noise (PSNR against the clean input)")
    records = denoise_files(
        args.model,
        args.input,
        args.out,
        add_noise=args.add_noise,
        seed=args.seed,
        force=args.force,
    )
    log.info(f"denoised {len(records)} image(s) into {args.out}")
    if args.add_noise is not None:
        noisy = np.mean([r["psnr_noisy"] for r in records])
        clean = np.mean([r["psnr_denoised"] for r in records])
        log.info(
            f"sigma {args.add_noise}: PSNR noisy {noisy:.2f} dB -> "
            f"denoised {clean:.2f} dB (noisy | denoised | clean: *_triplet.png)"
        )
        if args.report:
            _write_report(args, len(records), noisy, clean)
    return 0


def _write_report(args: argparse.Namespace, count: int, noisy, clean) -> None:
    import json

    from keras_gen.utils.files import atomic_write_text

    report = {
        "sigma": args.add_noise,
        "images": count,
        "seed": args.seed,
        "psnr_noisy": round(float(noisy), 3),
        "psnr": round(float(clean), 3),
    }
    atomic_write_text(args.report, json.dumps(report, indent=1) + "\n")
    log.info(f"wrote {args.report}")
