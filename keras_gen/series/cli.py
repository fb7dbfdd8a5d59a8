"""`keras-gen series ...`: parsing and printing only; the work is in `runs`.

    keras-gen series train CONFIG [--set k=v ...] [--work-dir DIR]
    keras-gen series detect CONFIG --out DIR [--data PATH] [--labels WINDOWS.json]
    keras-gen series score MODEL DATA.csv|FOLDER --out DIR [--labels WINDOWS.json]
    keras-gen series evaluate RESULTS --labels WINDOWS.json [--out TABLE.md]

Configs are read (and checked) before TensorFlow is imported, so a typo is
answered at once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _config(args: argparse.Namespace):
    from keras_gen.series.config import load_series_config

    return load_series_config(args.config, args.set)


def _print_table(results: dict, out: str | None = None) -> None:
    from keras_gen.series.nab import format_table

    table = format_table(results)
    print(table)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(table + "\n")


def cmd_train(args: argparse.Namespace) -> int:
    cfg = _config(args)
    from keras_gen.series.runs import train_series

    _, model_path, export = train_series(cfg, args.work_dir)
    print(f"model: {model_path}")
    if export:
        print(f"SavedModel: {export}")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    cfg = _config(args)
    from keras_gen.series.runs import detect_path, evaluate_results

    summary = detect_path(cfg, args.data, args.out, args.labels)
    found = sum(v["detections"] for v in summary.values())
    print(f"{len(summary)} series scored into {args.out} ({found} detections)")
    if args.labels:
        _print_table(
            evaluate_results(args.out, args.labels), str(Path(args.out) / "nab.md")
        )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from keras_gen.series.runs import load_series_model, score_path

    model = load_series_model(args.model)
    summary = score_path(
        model,
        args.data,
        args.out,
        args.labels,
        plots=not args.no_plots,
        timestamp_column=args.timestamp_column,
        allow_unsorted=args.allow_unsorted,
    )
    print(json.dumps(summary, indent=1, default=float))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from keras_gen.series.runs import evaluate_results

    _print_table(evaluate_results(args.results, args.labels), args.out)
    return 0


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="series YAML config (training/configs/series_*.yaml)")
    p.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. --set train.epochs=3 model.window=32",
    )


def add_series_parser(sub) -> None:
    """The `series` command and its sub-commands, on the top-level subparsers."""
    p = sub.add_parser("series", help="anomaly detection in time series (CSV)")
    series = p.add_subparsers(dest="series_command", required=True)

    q = series.add_parser("train", help="train one model on the files' first parts")
    _add_config_args(q)
    q.add_argument("--work-dir", help="output folder (default: output.work_dir)")
    q.set_defaults(func=cmd_train)

    q = series.add_parser(
        "detect",
        help="streaming protocol: a model per file, trained on "
        "its first part, scores every row",
    )
    _add_config_args(q)
    q.add_argument("--data", help="CSV file or folder (default: data.path)")
    q.add_argument("--out", required=True, help="results folder (NAB layout)")
    q.add_argument("--labels", help="NAB windows JSON: adds labels and the NAB table")
    q.set_defaults(func=cmd_detect)

    q = series.add_parser("score", help="score series with a trained model")
    q.add_argument("model", help="model.keras or its run folder")
    q.add_argument("data", help="CSV file or folder")
    q.add_argument("--out", required=True, help="results folder (NAB layout)")
    q.add_argument("--labels", help="NAB windows JSON (fills the label column)")
    q.add_argument(
        "--timestamp-column", default="timestamp", help="name of the date-time column"
    )
    q.add_argument("--no-plots", action="store_true", help="skip the plots")
    q.add_argument(
        "--allow-unsorted",
        action="store_true",
        help="keep rows whose timestamp goes back, in file order",
    )
    q.set_defaults(func=cmd_score)

    q = series.add_parser("evaluate", help="NAB scores of a results folder")
    q.add_argument("results", help="results folder (<category>/<detector>_<file>.csv)")
    q.add_argument("--labels", required=True, help="NAB combined_windows.json")
    q.add_argument("--out", help="also write the Markdown table here")
    q.set_defaults(func=cmd_evaluate)
