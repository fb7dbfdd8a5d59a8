"""The `keras-gen` command line.

    keras-gen train CONFIG.yaml [CONFIG.yaml ...] [--set key=value ...]
    keras-gen sample MODEL --num N --out FILE.png|FILE.npz [--seed S]

MODEL is a `.keras` file, a SavedModel version folder, or a model folder of
`saved_models/` (its highest version is used).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def _quiet_tensorflow() -> None:
    # TF's C++ start-up chatter (oneDNN, CPU features) hides the useful output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def resolve_saved_model(path: Path) -> Path:
    """A SavedModel folder: `path` itself, or its highest integer version."""
    if (path / "saved_model.pb").is_file():
        return path
    versions = sorted(
        (
            p
            for p in path.iterdir()
            if p.name.isdigit() and (p / "saved_model.pb").is_file()
        ),
        key=lambda p: int(p.name),
    )
    if not versions:
        raise FileNotFoundError(
            f"{path}: not a .keras file, a SavedModel folder (saved_model.pb) "
            "or a model folder with integer versions"
        )
    return versions[-1]


def sample_images(model_path: str | Path, num: int, seed: int = 0) -> np.ndarray:
    """uint8 images of seeds `seed .. seed+num-1` from a .keras file or SavedModel."""
    path = Path(model_path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path}")
    seeds = np.arange(seed, seed + num, dtype=np.int64)
    if path.suffix == ".keras":
        import keras

        import keras_gen.models  # noqa: F401  (registers the classes)

        model = keras.saving.load_model(path)
        return model.generate_uint8(num, seed=seed)
    import tensorflow as tf

    loaded = tf.saved_model.load(str(resolve_saved_model(path)))
    return loaded.signatures["generate"](seed=tf.constant(seeds))["images"].numpy()


def cmd_train(args: argparse.Namespace) -> int:
    from keras_gen.config import load_config
    from keras_gen.trainer import train

    # Every file is validated before the first one trains: a typo in the
    # second config should not surface after an hour of training.
    configs = [load_config(path, args.set) for path in args.configs]
    for config in configs:
        work_dir = args.work_dir
        if work_dir and len(configs) > 1:
            work_dir = Path(work_dir) / config.name
        train(config, work_dir=work_dir)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out must end in .png or .npz, got {out}")
    if args.num < 1:
        raise ValueError(f"--num must be >= 1, got {args.num}")
    images = sample_images(args.model, args.num, args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez_compressed(
            out, images=images, seeds=np.arange(args.seed, args.seed + args.num)
        )
    else:
        from keras_gen.utils.images import save_image_grid

        save_image_grid(images, out)
    print(f"[keras-gen] wrote {len(images)} images {images.shape[1:]} to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-gen", description="Train and use VAEs and GANs on room images."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train from YAML config(s) with model.fit")
    p.add_argument("configs", nargs="+", help="YAML config file(s), trained in order")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument("--work-dir", help="output folder (default: runs/<config name>)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw images from a trained or exported model")
    p.add_argument("model", help=".keras file or SavedModel folder")
    p.add_argument("--num", type=int, default=64, help="number of images")
    p.add_argument("--out", required=True, help="FILE.png (grid) or FILE.npz (arrays)")
    p.add_argument(
        "--seed", type=int, default=0, help="first seed; image i uses seed+i"
    )
    p.set_defaults(func=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    args = build_parser().parse_args(argv)
    from keras_gen.config import ConfigError

    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"keras-gen {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
