"""NAB benchmark of keras-gen's series detectors beside simple baselines.

Every detector runs NAB's streaming protocol on the 24 series of
``../shared/data/nab`` with ONE setting for all files (no per-file tuning):
each series is scored row by row, the model trained on its probationary
first part only. keras-gen's detectors are run through `keras-gen series
detect` with the configs named below; the baselines (NAB's windowed
Gaussian, a k-NN distance on windows, ``keras_gen.series.baselines``) write
the same results layout. Every results folder is scored with
``keras_gen.series.nab`` (threshold optimised per detector and profile, as
NAB does), and the table goes to ``benchmarks/results/nab_benchmark.md``
with the published detectors' scores on the same subset.

Usage:
    python benchmarks/nab_benchmark.py [--out runs/nab_bench] [--only NAME ...]
        [--plots docs/series]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_gen.series import baselines, nab  # noqa: E402
from keras_gen.series.data import (  # noqa: E402
    Series,
    list_series_files,
    read_series_csv,
)
from keras_gen.series.detector import SeriesResult  # noqa: E402
from keras_gen.series.results import (  # noqa: E402
    plot_result,
    window_key,
    write_results_csv,
)

NAB = REPO.parent / "shared" / "data" / "nab"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
PUBLISHED = {  # NAB's own scorer on these 24 files (../shared/data/nab/README.md)
    "ARTime": (68.77, None, None),
    "Numenta HTM": (64.85, 59.12, 69.85),
    "CAD OSE": (57.54, None, None),
    "Random Cut Forest": (55.71, 43.09, 63.64),
    "KNN CAD": (53.51, None, None),
    "windowed Gaussian": (28.16, 22.38, 31.59),
}
#: keras-gen detectors: name -> (config, overrides).
DETECTORS = {
    "kerasgen_ae": ("training/configs/series_nab.yaml", []),
    "kerasgen_vae": (
        "training/configs/series_nab.yaml",
        ["model.type=vae", "model.ensemble=1"],  # one model: a third of the time
    ),
}
BASELINES = {
    "windowed_gaussian": lambda v: baselines.windowed_gaussian_scores(v[:, 0]),
    "knn_w1_k5": lambda v: baselines.knn_window_scores(v[:, 0], window=1, k=5),
}
PLOTTED = (
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realKnownCause/machine_temperature_system_failure.csv",
    "realKnownCause/nyc_taxi.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
)


def run_kerasgen(name: str, out: Path) -> float:
    config, overrides = DETECTORS[name]
    cmd = [
        str(REPO / ".venv/bin/keras-gen"),
        "series",
        "detect",
        config,
        "--data",
        str(NAB / "data"),
        "--out",
        str(out),
        "--set",
        f"name={name}",
        *[f"--set={o}" for o in overrides],
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO)
    return time.perf_counter() - start


def run_baseline(name: str, out: Path) -> float:
    start = time.perf_counter()
    for path in list_series_files(NAB / "data"):
        series = read_series_csv(path, allow_unsorted=True)
        scores = np.asarray(BASELINES[name](series.values), np.float64)
        result = SeriesResult(series, 0, scores, scores, float("nan"))
        category, _, file = window_key(path, NAB / "data").rpartition("/")
        write_results_csv(result, out / category / f"{name}_{file}")
    return time.perf_counter() - start


def score(out: Path) -> dict:
    return nab.evaluate_results_dir(out, NAB / "combined_windows.json")


def table(rows: dict, command: str) -> str:
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# NAB benchmark: keras-gen series detectors on the 24-file subset",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" load at the end: {load.split('load average:')[-1].strip()}.",
        "One setting for all files; threshold optimised per detector and profile"
        " over all files (NAB's rule); scores normalised null 0, perfect 100.",
        "",
        "| detector | standard | reward low FP | reward low FN | TP / FP / FN"
        " (standard) | wall time |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, (res, seconds) in rows.items():
        s = [res[p]["score"] for p in PROFILES]
        st = res["standard"]
        lines.append(
            f"| {name} | {s[0]:.2f} | {s[1]:.2f} | {s[2]:.2f} |"
            f" {st['tp']} / {st['fp']} / {st['fn']} | {seconds:.0f} s |"
        )
    for name, values in PUBLISHED.items():
        cells = " | ".join("-" if v is None else f"{v:.2f}" for v in values)
        lines.append(f"| {name} (published) | {cells} | - | - |")
    return "\n".join(lines) + "\n"


def plot(out: Path, name: str, plots: Path, threshold: float) -> None:
    """Plots of a few series from the results files, with the labelled windows
    and the detections at the NAB-optimal threshold (standard profile)."""
    windows = nab.load_windows(NAB / "combined_windows.json")
    summary = json.loads((out / "summary.json").read_text())
    for key in PLOTTED:
        category, _, file = key.rpartition("/")
        stamps, values, scores = nab.read_results_csv(out / category / f"{name}_{file}")
        series = Series(key, stamps.astype("datetime64[s]"), values[:, None], ["value"])
        train = summary.get(key, {}).get("train_rows", 0)
        result = SeriesResult(series, train, scores, scores, threshold)
        title = f"{name}: {key} (threshold {threshold:.3f}, NAB standard)"
        plot_result(
            result,
            plots / f"{name}_{Path(file).stem}.png",
            windows.get(key),
            title=title,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/nab_bench", type=Path)
    parser.add_argument("--only", nargs="+", help="detectors to run")
    parser.add_argument("--plots", type=Path, help="copy a few series' plots here")
    parser.add_argument("--result", default="benchmarks/results/nab_benchmark.md")
    args = parser.parse_args()
    names = args.only or [*DETECTORS, *BASELINES]
    rows = {}
    for name in names:
        out = args.out / name
        runner = run_kerasgen if name in DETECTORS else run_baseline
        timing = out / "wall_time.json"
        if not timing.is_file():
            seconds = runner(name, out)
            timing.write_text(json.dumps({"seconds": seconds}))
        rows[name] = (score(out), json.loads(timing.read_text())["seconds"])
        if args.plots and name in DETECTORS:
            plot(out, name, args.plots, rows[name][0]["standard"]["threshold"])
    text = table(rows, "python benchmarks/nab_benchmark.py " + " ".join(sys.argv[1:]))
    Path(args.result).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
