"""`keras-gen presets` and the MODEL / --preset argument of model-taking commands."""

from __future__ import annotations

import argparse

from keras_gen.utils.console import log


def add_model_argument(p: argparse.ArgumentParser, help: str) -> None:
    """MODEL (optional here) and `--preset NAME`: one of them is required.

    `check_model_argument` (run before every command) turns `--preset NAME`
    into MODEL `preset:NAME`, which every loader understands.
    """
    p.add_argument("model", nargs="?", help=f"{help}, or preset:NAME")
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="a pretrained model shipped with keras-gen (see `keras-gen presets`)",
    )


def check_model_argument(args: argparse.Namespace, optional: bool = False) -> None:
    """Merge `--preset` into `args.model`; say what is missing or doubled."""
    if not hasattr(args, "preset"):
        return
    if args.preset is None:
        if args.model is None and not optional:
            raise ValueError(
                "give a MODEL (run folder, .keras, SavedModel) or --preset NAME"
            )
        return
    if args.model is not None:
        # `anomaly score --preset P DATA`: the positional was the data.
        if getattr(args, "data_positional", "") is None:
            args.data_positional = args.model
        else:
            raise ValueError(f"give a MODEL or --preset, not both ({args.model!r})")
    from keras_gen import presets

    presets.get(args.preset)  # unknown names listed before anything loads
    args.model = presets.PREFIX + args.preset


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "presets", help="list the pretrained models shipped with keras-gen"
    )
    p.add_argument("--json", action="store_true", help="the full records as JSON")
    p.set_defaults(func=cmd_presets)


def cmd_presets(args: argparse.Namespace) -> int:
    from keras_gen import presets

    if args.json:
        import json

        print(
            json.dumps(
                [p.record | {"name": p.name} for p in presets.list_presets()], indent=1
            )
        )
        return 0
    print(presets.table())
    log.info(
        "use one with --preset NAME (sample, interpolate, denoise, anomaly, "
        "evaluate, export)"
    )
    return 0
