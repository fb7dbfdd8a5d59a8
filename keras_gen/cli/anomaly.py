"""`keras-gen anomaly fit|score`: VAE anomaly threshold and scores.

The work is `keras_gen.anomaly.fit_folder` and `score_folder`; this prints
what they return.
"""

from __future__ import annotations

import argparse

from keras_gen.cli.presets import add_model_argument
from keras_gen.utils.console import log


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("anomaly", help="VAE anomaly scores and threshold")
    anomaly_sub = p.add_subparsers(dest="anomaly_command", required=True)
    q = anomaly_sub.add_parser(
        "fit", help="calibrate a threshold on normal images at a false-positive rate"
    )
    add_model_argument(q, "run folder or .keras VAE")
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
    add_model_argument(q, "run folder or .keras VAE")
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
    q.add_argument(
        "--report",
        metavar="FILE.json",
        help="also write the figures (flagged fractions, ROC-AUC, TPR) as JSON",
    )
    q.set_defaults(func=cmd_anomaly)


def cmd_anomaly(args: argparse.Namespace) -> int:
    """`keras-gen anomaly fit` or `keras-gen anomaly score`."""
    if args.anomaly_command == "fit":
        return cmd_anomaly_fit(args)
    return cmd_anomaly_score(args)


def cmd_anomaly_fit(args: argparse.Namespace) -> int:
    from keras_gen.anomaly import fit_folder

    fit = fit_folder(args.model, args.data, score=args.score, fpr=args.fpr)
    log.info(
        f"threshold {fit.threshold:.6g} on score {fit.score!r}: "
        f"{fit.achieved_fpr:.2%} of {fit.images} normal images above it "
        f"(requested {fit.fpr:.2%})"
    )
    log.info(f"wrote {fit.sidecar}")
    return 0


def cmd_anomaly_score(args: argparse.Namespace) -> int:
    from keras_gen.anomaly import score_folder

    if bool(args.data) == bool(args.data_positional):
        raise ValueError("anomaly score: give the images once, as --data DIR")
    args.data = args.data or args.data_positional
    kinds = [k.strip() for k in args.scores.split(",") if k.strip()]
    result = score_folder(args.model, args.data, kinds, args.out, normal=args.normal)
    log.info(f"wrote {result.count} scores to {result.csv}")
    log.info(f"wrote {result.histogram}")
    for group, fraction in result.flagged.items():
        log.info(f"  {group}: {fraction:.1%} flagged")
    for group, (auc, tpr) in result.roc.items():
        log.info(
            f"  {group} vs {result.normal}: ROC-AUC {auc:.3f}, TPR at 5% FPR {tpr:.3f}"
        )
    if result.roc_plot is not None:
        log.info(f"wrote {result.roc_plot}")
    if args.report:
        import json

        from keras_gen.utils.files import atomic_write_text

        atomic_write_text(args.report, json.dumps(result.report(), indent=1) + "\n")
        log.info(f"wrote {args.report}")
    return 0
