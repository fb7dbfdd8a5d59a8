"""`keras-gen train CONFIG.yaml [CONFIG.yaml ...]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
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
