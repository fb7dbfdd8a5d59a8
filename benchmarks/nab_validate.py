"""Validate keras_gen.series.nab against NAB's published scores.

Scores the published outputs of three NAB detectors (numenta HTM, Random Cut
Forest, windowed Gaussian) on the 24-file NAB subset in
``../shared/data/nab`` with our scorer, each profile with its own optimised
threshold, and compares with the scores NAB's own scorer gives on these files.
Then runs our baselines (``keras_gen.series.baselines``) on the raw series:
the windowed Gaussian is compared row by row with NAB's published outputs.

Usage:
    python benchmarks/nab_validate.py [--nab-dir DIR] [--out FILE] [--no-knn]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_gen.series import baselines, nab  # noqa: E402

PUBLISHED = {  # NAB's scorer on these 24 files: standard, low FP, low FN
    "numenta": (64.85, 59.12, 69.85),
    "randomCutForest": (55.71, 43.09, 63.64),
    "windowedGaussian": (28.16, 22.38, 31.59),
}
KNN_CONFIGS = [(1, 5), (16, 5)]  # (window, k): not tuned (see NOTES)
NOTES = [
    "",
    "## Notes",
    "",
    "- Probationary period: NAB's sweeper leaves `min(floor(0.15 n), 0.15 * 5000)`"
    " rows unscored, i.e. at most 750 rows. Without that cap (a plain 15%) the"
    " scores measured during development were 63.66 / 59.03 / 68.74 (numenta),"
    " 56.85 / 46.77 / 64.15 (RCF) and 28.67 / 22.96 / 32.24 (windowed"
    " Gaussian): off by up to 3.7 points.",
    "- Our windowed Gaussian differs from the published outputs only by the"
    " 12-decimal rounding of the published CSVs, yet scores 23.79 instead of"
    " 22.38 on reward low FP: scores near 1 tie after rounding, and the sweep"
    " can pick a finer threshold on the unrounded ones.",
    "- kNN: configurations tried during development (all k=5) scored, standard"
    " profile: window 1: 33.41, 4: 22.49, 16: 8.74, 64: 0.00 (never fires)."
    " Its reference set is the 750-row probationary part only, so slow drifts"
    " (machine temperature, CPU) look anomalous for long stretches.",
]


def load_avg() -> str:
    out = subprocess.run(["uptime"], capture_output=True, text=True).stdout
    return out.strip().split("load average:")[-1].strip()


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``timestamp,value`` CSV of NAB's data folder."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    stamps = np.array([r["timestamp"] for r in rows], dtype="datetime64[s]")
    return stamps, np.array([float(r["value"]) for r in rows])


def published_table(nab_dir: Path) -> list[str]:
    lines = [
        "| detector | profile | published | ours | difference | threshold "
        "| TP | FP | FN |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for detector, published in PUBLISHED.items():
        results = nab.evaluate_results_dir(
            nab_dir / "published_results" / detector,
            nab_dir / "combined_windows.json",
        )
        for (profile, r), pub in zip(results.items(), published):
            lines.append(
                f"| {detector} | {profile} | {pub:.2f} | {r['score']:.2f} "
                f"| {r['score'] - pub:+.3f} | {r['threshold']:.12g} "
                f"| {r['tp']} | {r['fp']} | {r['fn']} |"
            )
    return lines


def baseline_section(nab_dir: Path, with_knn: bool) -> list[str]:
    windows = nab.load_windows(nab_dir / "combined_windows.json")
    series = {key: read_series(nab_dir / "data" / key) for key in sorted(windows)}
    worst, rows = 0.0, 0
    ours = {}
    for key, (stamps, values) in series.items():
        category, name = key.split("/")
        path = nab_dir / "published_results" / "windowedGaussian" / category
        _, _, published = nab.read_results_csv(path / f"windowedGaussian_{name}")
        ours[key] = (stamps, baselines.windowed_gaussian_scores(values))
        worst = max(worst, float(np.abs(ours[key][1] - published).max()))
        rows += len(values)
    rounded = {k: (t, np.round(s, 12)) for k, (t, s) in ours.items()}
    runs = [("windowed Gaussian (ours)", ours), ("same, rounded to 12 dp", rounded)]
    if with_knn:
        for window, k in KNN_CONFIGS:
            scores = {
                key: (t, baselines.knn_window_scores(v, window, k))
                for key, (t, v) in series.items()
            }
            runs.append((f"kNN window={window} k={k}", scores))
    lines = [
        "",
        "## Our baselines on the raw series",
        "",
        f"windowed Gaussian vs NAB's published outputs: max |difference| "
        f"{worst:.1e} over {rows} rows (the published CSVs carry 12 decimals).",
        "",
        "| detector | standard | reward low FP | reward low FN |",
        "|---|---:|---:|---:|",
    ]
    for label, files in runs:
        scores = [nab.nab_score(files, windows, p)["score"] for p in nab.PROFILES]
        lines.append(f"| {label} | " + " | ".join(f"{s:.2f}" for s in scores) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-dir", type=Path, default=REPO.parent / "shared/data/nab")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/nab_scorer.md"
    )
    parser.add_argument("--no-knn", action="store_true", help="skip the kNN runs")
    args = parser.parse_args()
    start = time.time()
    command = "python benchmarks/nab_validate.py " + " ".join(sys.argv[1:])
    header = [
        "# NAB scorer validation: published detector outputs, 24-file subset",
        "",
        f"`{command.strip()}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load {load_avg()}. Each profile with its own optimised threshold "
        "(detection: score >= threshold); TP / FN count windows, FP counts "
        "detections outside windows.",
        "",
    ]
    body = published_table(args.nab_dir)
    body += baseline_section(args.nab_dir, not args.no_knn)
    body += NOTES + ["", f"Total run time {time.time() - start:.1f} s."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header + body) + "\n")
    print("\n".join(header + body))


if __name__ == "__main__":
    main()
