"""`keras-gen evaluate MODEL --data rooms|FOLDER`: FID, KID, SWD, precision/recall."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_gen.cli.presets import add_model_argument
from keras_gen.utils.console import log


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="FID, KID, SWD, precision/recall (and VAE metrics) vs real images",
    )
    add_model_argument(
        p,
        "run folder, .keras file or SavedModel (omit with --real-vs-real "
        "--image-size for the floor only)",
    )
    p.add_argument(
        "--data",
        required=True,
        help="real images: rooms, rooms:N, rooms:N:SEED (default seed 1000, not "
        "the training rooms) or a folder",
    )
    p.add_argument(
        "--metrics",
        help="comma-separated: fid,kid,swd,pr,flat,vae (default: "
        "fid,kid,swd,pr,flat, plus vae for a VAE; flat: fraction of images with "
        "a flat square, the mark of leaked cutout augmentation)",
    )
    p.add_argument(
        "--num", type=int, default=10_000, help="images per set (default 10000)"
    )
    p.add_argument(
        "--no-ema",
        action="store_true",
        help="GANs: evaluate the trained generator, not its EMA copy",
    )
    p.add_argument(
        "--real-vs-real",
        action="store_true",
        help="also compare two disjoint halves of the real data (the floor)",
    )
    _add_feature_options(p)
    _add_run_options(p)
    p.set_defaults(func=cmd_evaluate)


def _add_feature_options(p: argparse.ArgumentParser) -> None:
    """The network whose features the metrics compare."""
    p.add_argument(
        "--features",
        default="rooms",
        help="rooms (default: the shipped room-type classifier), inception "
        "(needs --inception-weights), random (a fixed random network: a "
        "fallback that does not measure image quality), or PATH.keras[:layer]",
    )
    p.add_argument(
        "--inception-weights",
        help="path of inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 "
        "(or set KERAS_GEN_INCEPTION_WEIGHTS)",
    )
    p.add_argument("--feature-layer", help="layer of a .keras feature model")
    p.add_argument(
        "--feature-input-range",
        default="0,1",
        help="LOW,HIGH pixel range a .keras feature model expects (default 0,1)",
    )


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Sizes, seeds, threads and the output file."""
    p.add_argument("--image-size", type=int, help="image side when there is no MODEL")
    p.add_argument("--batch-size", type=int, default=100, help="images per batch")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets")
    p.add_argument(
        "--kid-subset-size", type=int, default=1000, help="images per KID subset"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="first latent seed of generated images"
    )
    p.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="OpenBLAS threads for numpy/scipy (default 1: spinning threads are "
        "slow on a shared CPU; 0 leaves the default)",
    )
    p.add_argument("--out", help="JSON file (default: <model stem>_eval.json)")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from keras_gen.evaluation.evaluate import evaluate_model, format_table, write_json
    from keras_gen.evaluation.features import get_feature_extractor

    if args.num < 2:
        raise ValueError(f"--num must be >= 2, got {args.num}")
    if args.model is None and not args.real_vs_real:
        raise ValueError("give MODEL, or --real-vs-real with --image-size")
    low, high = (float(v) for v in args.feature_input_range.split(","))
    # Built first: a missing weights file should fail before any image work.
    features = get_feature_extractor(
        args.features,
        inception_weights=args.inception_weights,
        layer=args.feature_layer,
        input_range=(low, high),
    )
    result = evaluate_model(
        args.model,
        args.data,
        num=args.num,
        metrics=args.metrics,
        real_vs_real=args.real_vs_real,
        image_size=args.image_size,
        latent_seed=args.seed,
        use_ema=not args.no_ema,
        features=features,
        batch_size=args.batch_size,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        progress=sys.stderr.isatty(),
        blas_threads=args.blas_threads or None,
    )
    result["args"] = {k: v for k, v in vars(args).items() if k != "func"}
    out = _default_out(args)
    write_json(result, out)
    print(format_table(result))
    log.info(f"wrote {out}")
    return 0


def _default_out(args: argparse.Namespace) -> Path:
    """--out, else `<model stem>_eval.json` beside the model."""
    if args.out:
        return Path(args.out)
    if args.model:
        from keras_gen import presets
        from keras_gen.utils.files import run_model_file

        name = presets.preset_name(args.model)
        if name is not None:
            return Path(f"{name}_eval.json")
        model_path = run_model_file(args.model)
        return model_path.with_name(model_path.stem + "_eval.json")
    return Path("real_vs_real_eval.json")
