"""Cache the raw streaming errors of single ensemble members on the NAB subset.

Each member is trained and streamed exactly as `keras-gen series detect`
does it (`keras_gen.series.detector._detect_member`: train on the
probationary part, refit every `train.refit_every` rows, error of the window
ending at each row), and its raw errors are saved per seed and file, so that
score settings (`score.*`, which only post-process the errors) can be
compared on the same models without retraining:

    python benchmarks/nab_errors.py --out runs/nab_errors --seeds 0 1 2 3 4 5
    python benchmarks/nab_errors.py --out runs/nab_errors --score \
        --seeds 0 1 2 --set score.suppress_rows=100

`--score` reads the cache instead: the ensemble of the given seeds (mean of
the members' scores, as `detect_series` does), then NAB's three profiles.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_gen.series.config import load_series_config  # noqa: E402
from keras_gen.series.data import (  # noqa: E402
    list_series_files,
    read_series_csv,
    resolve_dilation,
    training_length,
)
from keras_gen.series.results import window_key  # noqa: E402

NAB = REPO.parent / "shared" / "data" / "nab"
CONFIG = "training/configs/series_nab.yaml"


def _files():
    for path in list_series_files(NAB / "data"):
        yield window_key(path, NAB / "data"), path


def _cache_path(out: Path, seed: int, key: str) -> Path:
    return out / f"seed{seed}" / (key.replace("/", "__") + ".npy")


def cache(cfg, out: Path, seeds: list[int]) -> None:
    import dataclasses

    from keras_gen.series.detector import (
        build_series_model,
        fit_series_model,
        streaming_errors,
    )

    for seed in seeds:
        for key, path in _files():
            target = _cache_path(out, seed, key)
            if target.is_file():
                continue
            start = time.perf_counter()
            series = read_series_csv(path, allow_unsorted=True)
            num_train = training_length(len(series), cfg.data.train, series.timestamps)
            dilation = resolve_dilation(
                series.timestamps[:num_train], cfg.model.window, cfg.model.context_hours
            )
            model_cfg = dataclasses.replace(cfg.model, seed=seed)
            model = build_series_model(model_cfg, 1, cfg.score, dilation)
            fit_series_model(model, series.values[:num_train], cfg.train, seed)
            errors = streaming_errors(model, series.values, num_train, cfg.train)
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, errors)
            print(f"seed {seed} {key}: {time.perf_counter() - start:.0f} s", flush=True)


def score(cfg, out: Path, seeds: list[int]) -> dict:
    from keras_gen.series import nab
    from keras_gen.series.scores import anomaly_scores, suppress_repeats

    windows = nab.load_windows(NAB / "combined_windows.json")
    files = {}
    for key, path in _files():
        series = read_series_csv(path, allow_unsorted=True)
        members = [
            anomaly_scores(
                np.load(_cache_path(out, s, key)), cfg.score, series.values, False
            )
            for s in seeds
        ]
        scores = suppress_repeats(np.mean(members, axis=0), cfg.score.suppress_rows)
        files[key] = (series.timestamps, scores)
    return {p: nab.nab_score(files, windows, p) for p in nab.PROFILES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--out", default="runs/nab_errors", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--score", action="store_true")
    args = parser.parse_args()
    cfg = load_series_config(args.config, args.set)
    if not args.score:
        cache(cfg, args.out, args.seeds)
        return 0
    res = score(cfg, args.out, args.seeds)
    st = res["standard"]
    print(
        json.dumps(
            {
                "seeds": args.seeds,
                "set": args.set,
                **{p: round(r["score"], 2) for p, r in res.items()},
                "tp_fp_fn": [st["tp"], st["fp"], st["fn"]],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
