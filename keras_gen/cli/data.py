"""`keras-gen data convert|import-lsun|preview`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from keras_gen.utils.console import log


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data", help="convert data to TFRecord shards, import LSUN, preview batches"
    )
    data_sub = p.add_subparsers(dest="data_command", required=True)
    _add_convert(data_sub)
    _add_import_lsun(data_sub)
    _add_preview(data_sub)


def _add_writer_options(q: argparse.ArgumentParser, default_format: str) -> None:
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
    q.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    q.add_argument("--limit", type=int, help="LMDB: only the first N entries")
    q.add_argument("--workers", type=int, help="Pillow threads (default: CPUs)")
    q.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a conversion made with other settings",
    )
    q.add_argument("--json", action="store_true", help="also print a JSON summary")


def _add_convert(data_sub: argparse._SubParsersAction) -> None:
    q = data_sub.add_parser(
        "convert", help="write sharded TFRecords (resumable) with a JSON index"
    )
    q.add_argument(
        "src",
        help="image folder, LMDB folder, tfds:NAME[:SPLIT] or rooms:N[:SEED]",
    )
    _add_writer_options(q, "auto")
    q.add_argument("--data-dir", help="TFDS data folder")
    q.add_argument("--image-key", default="image", help="TFDS image feature")
    q.add_argument("--label-key", help="TFDS integer label feature")
    q.set_defaults(func=cmd_data)


def _add_import_lsun(data_sub: argparse._SubParsersAction) -> None:
    q = data_sub.add_parser(
        "import-lsun", help="LSUN LMDB (WebP/JPEG values) to TFRecords or a folder"
    )
    q.add_argument("lmdb", help="an LSUN *_lmdb folder (with data.mdb)")
    _add_writer_options(q, "jpeg")
    q.add_argument(
        "--to",
        choices=("tfrecord", "folder"),
        default="tfrecord",
        help="TFRecord shards (default) or one image file per key",
    )
    q.set_defaults(func=cmd_data)


def _add_preview(data_sub: argparse._SubParsersAction) -> None:
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


def cmd_data(args: argparse.Namespace) -> int:
    """`keras-gen data convert|import-lsun|preview`."""
    if args.data_command == "preview":
        return _data_preview(args)
    if args.data_command == "import-lsun":
        result = _import_lsun(args)
    else:
        result = _convert(args)
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


def _import_lsun(args: argparse.Namespace) -> dict:
    from keras_gen.data.lsun import import_lsun

    return import_lsun(
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


def _convert(args: argparse.Namespace) -> dict:
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
    return write_shards(
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
