"""`keras-gen export MODEL --name NAME`: a SavedModel for TF Serving."""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_gen.cli.presets import add_model_argument
from keras_gen.utils.console import log


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a trained model as a SavedModel for TF Serving"
    )
    add_model_argument(p, "run folder (its model.keras) or a .keras file")
    p.add_argument("--name", required=True, help="model name in the repository")
    p.add_argument(
        "--version", type=int, help="integer version (default: the next free one)"
    )
    p.add_argument(
        "--export-dir",
        default="saved_models",
        help="model repository (default: saved_models)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing version"
    )
    p.add_argument(
        "--anomaly-threshold",
        type=float,
        help="VAE: adds is_anomaly = score > THRESHOLD to anomaly_score",
    )
    p.add_argument(
        "--base-path",
        help="the repository's path as the server sees it, written into "
        "models.config (e.g. /models in Docker; default: its absolute path)",
    )
    p.add_argument(
        "--keep-precision",
        action="store_true",
        help="compute in the trained precision (e.g. bfloat16) instead of float32; "
        "only for servers whose CPUs or GPUs have bfloat16",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=1024,
        help="largest batch one request may send; larger ones get "
        "INVALID_ARGUMENT instead of exhausting the server's memory",
    )
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from keras_gen.export import MODELS_CONFIG, export_from_path, list_models

    threshold = args.anomaly_threshold
    if threshold is None:
        from keras_gen.anomaly import export_threshold
        from keras_gen.inference import resolve_model_path

        threshold = export_threshold(resolve_model_path(args.model))
    path = export_from_path(
        args.model,
        args.export_dir,
        args.name,
        version=args.version,
        overwrite=args.overwrite,
        anomaly_threshold=threshold,
        base_path=args.base_path,
        keep_precision=args.keep_precision,
        max_batch=args.max_batch,
    )
    signatures = sorted(tf.saved_model.load(str(path)).signatures)
    models = list_models(args.export_dir)
    log.info(f"SavedModel:    {path}")
    log.info(f"signatures:    {', '.join(signatures)}")
    log.info(
        f"models.config: {Path(args.export_dir) / MODELS_CONFIG} "
        f"({len(models)} model{'s' * (len(models) != 1)}: {', '.join(models)})"
    )
    return 0
