"""The `keras-gen` command line.

    keras-gen train CONFIG.yaml [CONFIG.yaml ...] [--set key=value ...]
    keras-gen sample MODEL --num N --out FILE.png|FILE.npz [--seed S]
    keras-gen interpolate MODEL --out FILE.png|FILE.gif [--seeds 0,1,2] [--steps 8]
    keras-gen evaluate MODEL --data rooms|FOLDER [--metrics fid,kid,swd,pr] [--num N]
    keras-gen data convert|import-lsun|preview ...
    keras-gen export RUN_DIR|MODEL.keras --name NAME [--version V]
    keras-gen denoise MODEL IN_DIR|IMAGE --out OUT_DIR [--add-noise 0.1]
    keras-gen anomaly fit MODEL --data NORMAL_VAL [--fpr 0.05] [--score nelbo]
    keras-gen anomaly score MODEL --data DIR --out scores.csv [--normal CLASS]
    keras-gen data convert SRC --out DIR [--shards N] [--image-size S]
    keras-gen data import-lsun PATH_TO_lmdb --out DIR [--to tfrecord|folder]
    keras-gen data preview SPEC|CONFIG.yaml --out grid.png
    keras-gen series train|detect|score|evaluate ...   (time series anomalies)

MODEL is a run folder (its model.keras), a `.keras` file, a SavedModel
version folder, or a model folder of `saved_models/` (its highest version);
`anomaly` needs the trained model (run folder or `.keras`).
Every command takes -q (warnings only) and -v (debug, TensorFlow's own lines).
Exit codes: 0 ok, 2 usage/config/data error, 3 training diverged, 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from keras_gen.inference import (
    class_ids,
    load_generator,
    resolve_model_path,
)
from keras_gen.utils.console import log, native_chatter_filtered, setup_logging
from keras_gen.utils.files import run_model_file

#: Storage failures reported as one line (exit 2) rather than a traceback.
STORAGE_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM)


def _one_line_warnings() -> None:
    """keras-gen's own warnings as one readable line each on stderr.

    Python's default format adds the module path and echoes the source line
    that raised the warning; other libraries' warnings keep that format.
    """
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not category.__module__.startswith("keras_gen"):
            return default(message, category, filename, lineno, file, line)
        print(f"keras-gen: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def sample_images(
    model_path: str | Path, num: int, seed: int = 0, label: str | None = None
) -> np.ndarray:
    """uint8 images of seeds `seed .. seed+num-1` from a .keras file or SavedModel.

    `label` (a class name or id) picks the class of a conditional model; without
    it a conditional model cycles through its classes.
    """
    path = resolve_model_path(model_path)
    seeds = np.arange(seed, seed + num, dtype=np.int64)
    if path.suffix == ".keras":
        model = load_generator(path)
        if label is not None and not model.num_classes:
            raise ValueError(f"--label {label!r}: {path} is not a conditional model")
        return model.generate_uint8(num, seed=seed, labels=label)
    import tensorflow as tf

    from keras_gen.export import read_class_names

    saved = path
    signatures = tf.saved_model.load(str(saved)).signatures
    if "generate" not in signatures:
        raise ValueError(
            f"{saved}: a SavedModel without a 'generate' signature "
            f"(it has: {', '.join(sorted(signatures))}); it does not generate images"
        )
    signature = signatures["generate"]
    inputs = {"seed": tf.constant(seeds)}
    if "label" in signature.structured_input_signature[1]:
        names = read_class_names(saved)
        ids = class_ids(label, names, num)
        inputs["label"] = tf.constant(ids, tf.int64)
    elif label is not None:
        raise ValueError(f"--label {label!r}: {saved} is not a conditional model")
    return signature(**inputs)["images"].numpy()


def cmd_train(args: argparse.Namespace) -> int:
    from keras_gen.config import load_config

    # Every file is validated before the first one trains, and before
    # TensorFlow is imported: a typo is answered at once.
    configs = [load_config(path, args.set) for path in args.configs]
    from keras_gen.trainer import train

    for config in configs:
        work_dir = args.work_dir
        if work_dir and len(configs) > 1:
            work_dir = Path(work_dir) / config.name
        train(config, work_dir=work_dir, mode=args.mode)
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


def cmd_sample(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out must end in .png or .npz, got {out}")
    if args.num < 1:
        raise ValueError(f"--num must be >= 1, got {args.num}")
    images = sample_images(args.model, args.num, args.seed, label=args.label)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez_compressed(
            out, images=images, seeds=np.arange(args.seed, args.seed + args.num)
        )
    else:
        from keras_gen.utils.images import save_image_grid

        save_image_grid(images, out)
    log.info(f"wrote {len(images)} images {images.shape[1:]} to {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from keras_gen.export import MODELS_CONFIG, export_from_path, list_models

    threshold = args.anomaly_threshold
    if threshold is None:
        threshold = _sidecar_threshold(args.model)
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


def _sidecar_threshold(model: str) -> float | None:
    """The `keras-gen anomaly fit` threshold stored beside a .keras model."""
    from keras_gen.anomaly import read_sidecar, sidecar_path

    path = run_model_file(model)
    record = read_sidecar(path) if path.suffix == ".keras" else None
    if record is None:
        return None
    if record["score"] != "nelbo":
        # The exported anomaly_score signature computes the negative ELBO; a
        # threshold of another score would be meaningless there.
        log.warning(
            f"{sidecar_path(path)}: threshold is for score "
            f"{record['score']!r}, the export scores 'nelbo'; not exported"
        )
        return None
    log.info(
        f"anomaly threshold {record['threshold']:.6g} "
        f"(fpr {record['fpr']}) from {sidecar_path(path)}"
    )
    return float(record["threshold"])


def cmd_denoise(args: argparse.Namespace) -> int:
    from keras_gen.denoise import denoise_files

    if args.add_noise is not None and args.add_noise < 0:
        raise ValueError(f"--add-noise must be >= 0, got {args.add_noise}")
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
    return 0


def _groups(files: list[Path], root: Path) -> list[str]:
    """The first sub-folder of every file under `root` ("" for files at the top)."""
    if root.is_file():
        return [""]
    return [
        p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else ""
        for p in files
    ]


def cmd_anomaly(args: argparse.Namespace) -> int:
    from keras_gen import anomaly
    from keras_gen.denoise import list_images

    model = anomaly.load_model(args.model)
    model_path = run_model_file(args.model)
    size = anomaly.model_image_size(model)
    if args.anomaly_command == "fit":
        files = list_images(args.data)
        scores = anomaly.compute_scores(
            model, anomaly.load_images(files, size), [args.score]
        )[args.score]
        threshold = anomaly.fit_threshold(scores, args.fpr)
        achieved = float(np.mean(scores > threshold))
        path = anomaly.write_sidecar(
            model_path,
            args.score,
            threshold,
            args.fpr,
            {"data": str(args.data), "images": len(files), "achieved_fpr": achieved},
        )
        log.info(
            f"threshold {threshold:.6g} on score {args.score!r}: "
            f"{achieved:.2%} of {len(files)} normal images above it "
            f"(requested {args.fpr:.2%})"
        )
        log.info(f"wrote {path}")
        return 0
    import csv

    if bool(args.data) == bool(args.data_positional):
        raise ValueError("anomaly score: give the images once, as --data DIR")
    args.data = args.data or args.data_positional
    record = anomaly.read_sidecar(model_path)
    files = list_images(args.data)
    groups = _groups(files, Path(args.data))
    kinds = [k.strip() for k in args.scores.split(",") if k.strip()]
    scores = anomaly.compute_scores(model, anomaly.load_images(files, size), kinds)
    key = record["score"] if record and record["score"] in scores else kinds[0]
    flagged = (
        scores[key] > record["threshold"] if record and key == record["score"] else None
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["path", "group", *kinds, *(["is_anomaly"] if flagged is not None else [])]
        )
        for i, path in enumerate(files):
            row = [str(path), groups[i], *(f"{scores[k][i]:.6g}" for k in kinds)]
            if flagged is not None:
                row.append(int(flagged[i]))
            writer.writerow(row)
    log.info(f"wrote {len(files)} scores to {out}")
    names = sorted(set(groups))
    by_group = {g or "(top)": scores[key][[x == g for x in groups]] for g in names}
    threshold = record["threshold"] if flagged is not None else None
    hist = anomaly.plot_histogram(
        by_group, out.with_suffix(".hist.png"), threshold, f"score: {key}"
    )
    log.info(f"wrote {hist}")
    if flagged is not None:
        for g, sel in by_group.items():
            log.info(f"  {g}: {np.mean(sel > threshold):.1%} flagged")
    if args.normal:
        if args.normal not in names:
            raise ValueError(
                f"--normal {args.normal!r} is not a sub-folder of {args.data}; "
                f"found: {', '.join(n or '(top)' for n in names)}"
            )
        normal = by_group[args.normal]
        others = {g: v for g, v in by_group.items() if g != args.normal}
        if not others:
            raise ValueError(f"{args.data}: no sub-folder besides {args.normal!r}")
        roc = anomaly.plot_roc(
            normal, others, out.with_suffix(".roc.png"), f"score: {key}"
        )
        for g, v in others.items():
            log.info(
                f"  {g} vs {args.normal}: ROC-AUC "
                f"{anomaly.roc_auc(normal, v):.3f}, TPR at 5% FPR "
                f"{anomaly.tpr_at_fpr(normal, v, 0.05):.3f}"
            )
        log.info(f"wrote {roc}")
    return 0


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
    if args.out:
        out = Path(args.out)
    elif args.model:
        model_path = run_model_file(args.model)
        out = model_path.with_name(model_path.stem + "_eval.json")
    else:
        out = Path("real_vs_real_eval.json")
    write_json(result, out)
    print(format_table(result))
    log.info(f"wrote {out}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """`keras-gen data convert|import-lsun|preview`."""
    import json

    if args.data_command == "preview":
        return _data_preview(args)
    if args.data_command == "import-lsun":
        from keras_gen.data.lsun import import_lsun

        result = import_lsun(
            args.lmdb,
            args.out,
            output=args.to,
            num_shards=args.shards,
            size=args.size,
            image_format=args.format,
            quality=args.quality,
            limit=args.limit,
            workers=args.workers,
            progress=True,
            overwrite=args.overwrite,
        )
    else:
        from keras_gen.data.sources import parse_source
        from keras_gen.data.tfrecord import write_shards

        source = parse_source(
            args.src,
            size=args.size,
            data_dir=args.data_dir,
            image_key=args.image_key,
            label_key=args.label_key,
            limit=args.limit,
        )
        result = write_shards(
            source,
            args.out,
            num_shards=args.shards,
            size=args.size,
            image_format=args.format,
            quality=args.quality,
            workers=args.workers,
            progress=True,
            overwrite=args.overwrite,
        )
    shards = f", {result['num_shards']} shards" if "num_shards" in result else ""
    log.info(
        f"wrote {result['count']} images to {args.out}{shards}; "
        f"skipped {result['skipped']} unreadable"
    )
    for example in result.get("skipped_examples", []):
        log.info(f"  skipped {example}")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "shards"}))
    return 0


def _data_preview(args: argparse.Namespace) -> int:
    from keras_gen.data.pipeline import from_value_range
    from keras_gen.utils.images import save_image_grid

    value_range = (-1.0, 1.0)
    if args.spec.endswith((".yaml", ".yml")):
        # A config: exactly the batches `keras-gen train` would feed the model.
        from keras_gen.config import load_config
        from keras_gen.trainer import build_dataset

        config = load_config(args.spec, args.set)
        value_range = (-1.0, 1.0) if config.model.type == "gan" else (0.0, 1.0)
        ds, _ = build_dataset(config, value_range, args.num)
    else:
        from keras_gen.data.sources import dataset_from_spec

        ds = dataset_from_spec(
            args.spec,
            image_size=args.size,
            batch_size=args.num,
            value_range=value_range,
            seed=args.seed,
            data_dir=args.data_dir,
            image_key=args.image_key,
        )
    batch = next(iter(ds.take(1)))
    images = from_value_range(
        batch[0] if isinstance(batch, tuple) else batch, value_range
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image_grid(images.numpy(), out)
    log.info(f"wrote a grid of {len(images)} images {images.shape[1:]} to {out}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's --help shows the defaults and takes -q / -v."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand without the flag keeps the top level's value,
        # so `keras-gen -v train ...` and `keras-gen train ... -v` both work.
        group = self.add_mutually_exclusive_group()
        group.add_argument(
            "-q",
            "--quiet",
            dest="verbosity",
            action="store_const",
            const=-1,
            default=argparse.SUPPRESS,
            help="only warnings and errors",
        )
        group.add_argument(
            "-v",
            "--verbose",
            dest="verbosity",
            action="store_const",
            const=1,
            default=argparse.SUPPRESS,
            help="debug messages, and TensorFlow's own log lines",
        )


def build_parser() -> argparse.ArgumentParser:
    from keras_gen import __version__

    parser = _Parser(
        prog="keras-gen", description="Train and use VAEs and GANs on room images."
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-gen {__version__}"
    )
    parser.set_defaults(verbosity=0)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train from YAML config(s) with model.fit")
    p.add_argument("configs", nargs="+", help="YAML config file(s), trained in order")
    p.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. --set train.epochs=3 "
        "train.steps_per_epoch=20 (several per --set, and repeatable)",
    )
    p.add_argument("--work-dir", help="output folder (default: runs/<config name>)")
    finished = p.add_mutually_exclusive_group()
    finished.add_argument(
        "--resume",
        dest="mode",
        action="store_const",
        const="resume",
        help="train a finished run further (up to a larger train.epochs); an "
        "interrupted run always resumes",
    )
    finished.add_argument(
        "--fresh",
        dest="mode",
        action="store_const",
        const="fresh",
        help="move a finished run aside (<work dir>.<date-time>) and start anew",
    )
    p.set_defaults(func=cmd_train, mode="auto")

    p = sub.add_parser("sample", help="draw images from a trained or exported model")
    p.add_argument("model", help="run folder, .keras file or SavedModel")
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
    p.add_argument("model", help="run folder, .keras file or SavedModel")
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

    p = sub.add_parser(
        "export", help="export a trained model as a SavedModel for TF Serving"
    )
    p.add_argument("model", help="run folder (its model.keras) or a .keras file")
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

    p = sub.add_parser(
        "denoise",
        help="denoise images of any size (a fully convolutional DAE in one pass, "
        "a fixed-size VAE on overlapping tiles)",
    )
    p.add_argument(
        "model", help="denoising model: run folder, .keras file or SavedModel"
    )
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
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser("anomaly", help="VAE anomaly scores and threshold")
    anomaly_sub = p.add_subparsers(dest="anomaly_command", required=True)
    q = anomaly_sub.add_parser(
        "fit", help="calibrate a threshold on normal images at a false-positive rate"
    )
    q.add_argument("model", help="run folder or .keras VAE")
    q.add_argument("--data", required=True, help="held-out NORMAL images (folder)")
    q.add_argument("--fpr", type=float, default=0.05, help="false-positive rate")
    q.add_argument(
        "--score",
        default="nelbo",
        choices=("nelbo", "pixel", "feature"),
        help="score to threshold (nelbo is also what the export computes)",
    )
    q.set_defaults(func=cmd_anomaly)
    q = anomaly_sub.add_parser("score", help="score images, write CSV and plots")
    q.add_argument("model", help="run folder or .keras VAE")
    q.add_argument(
        "data_positional",
        nargs="?",
        metavar="DATA",
        help="same as --data (kept for older scripts)",
    )
    q.add_argument("--data", help="image or folder (sub-folders are groups)")
    q.add_argument("--out", required=True, help="CSV file (plots beside it)")
    q.add_argument(
        "--scores",
        default="nelbo,pixel,feature",
        help="comma-separated: nelbo, pixel, feature, complexity",
    )
    q.add_argument(
        "--normal",
        help="sub-folder of DATA holding normal images: adds ROC-AUC, TPR at 5%% "
        "FPR and a ROC plot of every other sub-folder against it",
    )
    q.set_defaults(func=cmd_anomaly)

    p = sub.add_parser(
        "evaluate",
        help="FID, KID, SWD, precision/recall (and VAE metrics) vs real images",
    )
    p.add_argument(
        "model",
        nargs="?",
        help="run folder, .keras file or SavedModel (omit with --real-vs-real "
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
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "data", help="convert data to TFRecord shards, import LSUN, preview batches"
    )
    data_sub = p.add_subparsers(dest="data_command", required=True)

    def add_writer_options(q: argparse.ArgumentParser, default_format: str) -> None:
        q.add_argument("--out", required=True, help="output folder")
        q.add_argument("--shards", type=int, help="number of TFRecord shards")
        q.add_argument(
            "--image-size",
            "--size",
            dest="size",
            type=int,
            help="store images resized and centre-cropped to SxS",
        )
        q.add_argument(
            "--format",
            choices=("auto", "jpeg", "png"),
            default=default_format,
            help=f"stored encoding (default {default_format}; auto keeps JPEG/PNG "
            "files, other formats become JPEG)",
        )
        q.add_argument(
            "--quality", type=int, default=95, help="JPEG quality (default 95)"
        )
        q.add_argument("--limit", type=int, help="LMDB: only the first N entries")
        q.add_argument("--workers", type=int, help="Pillow threads (default: CPUs)")
        q.add_argument(
            "--overwrite",
            action="store_true",
            help="replace a conversion made with other settings",
        )
        q.add_argument("--json", action="store_true", help="also print a JSON summary")

    q = data_sub.add_parser(
        "convert", help="write sharded TFRecords (resumable) with a JSON index"
    )
    q.add_argument(
        "src",
        help="image folder, LMDB folder, tfds:NAME[:SPLIT] or rooms:N[:SEED]",
    )
    add_writer_options(q, "auto")
    q.add_argument("--data-dir", help="TFDS data folder")
    q.add_argument("--image-key", default="image", help="TFDS image feature")
    q.add_argument("--label-key", help="TFDS integer label feature")
    q.set_defaults(func=cmd_data)

    q = data_sub.add_parser(
        "import-lsun", help="LSUN LMDB (WebP/JPEG values) to TFRecords or a folder"
    )
    q.add_argument("lmdb", help="an LSUN *_lmdb folder (with data.mdb)")
    add_writer_options(q, "jpeg")
    q.add_argument(
        "--to",
        choices=("tfrecord", "folder"),
        default="tfrecord",
        help="TFRecord shards (default) or one image file per key",
    )
    q.set_defaults(func=cmd_data)

    q = data_sub.add_parser(
        "preview", help="a grid of one batch as the model will see it"
    )
    q.add_argument(
        "spec",
        help="CONFIG.yaml (the training batches), a TFRecord folder, an image "
        "folder, tfds:NAME[:SPLIT] or rooms:N[:SEED]",
    )
    q.add_argument("--out", required=True, help="PNG file")
    q.add_argument("--num", type=int, default=64, help="images (default 64)")
    q.add_argument(
        "--image-size",
        "--size",
        dest="size",
        type=int,
        default=64,
        help="image side without a config",
    )
    q.add_argument("--seed", type=int, default=0, help="shuffle and flip seed")
    q.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides (several per --set, and repeatable)",
    )
    q.add_argument("--data-dir", help="TFDS data folder")
    q.add_argument("--image-key", default="image", help="TFDS image feature")
    q.set_defaults(func=cmd_data)

    from keras_gen.series.cli import add_series_parser

    add_series_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _one_line_warnings()
    args = build_parser().parse_args(argv)
    setup_logging(args.verbosity)
    verbose = args.verbosity > 0
    # Before TensorFlow is imported, which reads it once.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "2")
    with native_chatter_filtered(enabled=not verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """`args.func(args)`, with its errors as one line and an exit code."""
    from keras_gen.config import ConfigError
    from keras_gen.errors import NonFiniteLossError
    from keras_gen.utils.locks import LockedError

    try:
        return args.func(args)
    except NonFiniteLossError as err:
        print(f"keras-gen {args.command}: training diverged: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        # A training run resumes from its last backup when run again.
        print(f"keras-gen {args.command}: interrupted", file=sys.stderr)
        return 130
    except (
        ConfigError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        ValueError,
        LockedError,
    ) as err:
        print(f"keras-gen {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in STORAGE_ERRORS:
            raise
        # A full disk or a read-only folder: say which, without a traceback;
        # the last backup of a training run is left as it was.
        where = f" ({err.filename})" if err.filename else ""
        print(
            f"keras-gen {args.command}: error: {os.strerror(err.errno)}{where}; "
            "free space or fix the permissions and run the command again",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
