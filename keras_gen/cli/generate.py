"""`keras-gen sample` and `keras-gen interpolate`: images from a trained model."""

from __future__ import annotations

import argparse

from keras_gen.cli.presets import add_model_argument
from keras_gen.utils.console import log


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw images from a trained or exported model")
    add_model_argument(p, "run folder, .keras file or SavedModel")
    p.add_argument("--num", type=int, default=64, help="number of images")
    p.add_argument("--out", required=True, help="FILE.png (grid) or FILE.npz (arrays)")
    p.add_argument(
        "--seed", type=int, default=0, help="first seed; image i uses seed+i"
    )
    p.add_argument(
        "--label",
        help="conditional models: class name (e.g. kitchen) or id of every "
        "image (default: the classes in turn)",
    )
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("interpolate", help="latent interpolation grid or animation")
    add_model_argument(p, "run folder, .keras file or SavedModel")
    p.add_argument(
        "--out", required=True, help="FILE.png (grid) or FILE.gif (animation)"
    )
    p.add_argument(
        "--seeds", default="0,1,2,3", help="comma-separated seeds to pass through"
    )
    p.add_argument("--steps", type=int, default=8, help="images per segment")
    p.add_argument(
        "--label", help="conditional models: class name or id (default: the first)"
    )
    p.set_defaults(func=cmd_interpolate)


def cmd_sample(args: argparse.Namespace) -> int:
    from keras_gen.inference import check_samples_out, sample_images, save_samples

    # Checked before the model is loaded: a typo is answered at once.
    check_samples_out(args.out, args.num)
    images = sample_images(args.model, args.num, args.seed, label=args.label)
    out = save_samples(images, args.out, seed=args.seed)
    log.info(f"wrote {len(images)} images {images.shape[1:]} to {out}")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from keras_gen.interpolate import interpolate

    try:
        seeds = [int(v) for v in args.seeds.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"--seeds must be comma-separated integers, got {args.seeds!r}"
        ) from None
    out = interpolate(args.model, args.out, seeds, steps=args.steps, label=args.label)
    log.info(f"wrote interpolation through seeds {seeds} to {out}")
    return 0
