"""Soak test of crash safety: kill `keras-gen train` at random moments, resume, check.

One uninterrupted reference run, then the same run killed with SIGKILL at
seeded random moments spread over its whole duration (start-up, fit,
writing the model, plots and export) and resumed each time, until
`--kills` kills have landed. After every kill the work dir must hold:

- `metrics.csv` with each epoch at most once, consecutive from 1 (rows of
  epochs after the last backup are dropped on resume, never doubled);
- a non-empty sample grid for every epoch that has a CSV row;

and at the end the resumed run's weights must equal the reference's
(`train.deterministic: true`), with the same optimizer step count and one
exported version. The report goes to `benchmarks/results/soak.md`.

Usage: python benchmarks/soak.py [--kills 20] [--seed 0] [--out runs/soak]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "training/configs/smoke_gan.yaml"
KERAS_GEN = REPO / ".venv/bin/keras-gen"


def overrides(work: Path) -> list[str]:
    return [
        "train.epochs=6",
        "train.steps_per_epoch=4",
        "train.deterministic=true",
        "output.tensorboard=false",
        "output.verbose=0",
        f"output.work_dir={work}",
        f"output.export_dir={work}-models",
        "name=soak",
    ]


def command(work: Path) -> list[str]:
    return [str(KERAS_GEN), "train", str(CONFIG), "--set", *overrides(work)]


def run_to_end(work: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command(work), check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def check_invariants(work: Path) -> list[str]:
    """What is wrong in the work dir right after a kill (empty: all good)."""
    problems = []
    path = work / "metrics.csv"
    if path.exists():
        with path.open(newline="") as f:
            rows = [r for r in csv.reader(f)][1:]
        epochs = [int(r[0]) for r in rows if r and r[0].isdigit()]
        # The row being written at the kill may be cut: resume drops it.
        if epochs != list(range(1, len(epochs) + 1)):
            problems.append(f"metrics.csv epochs {epochs}")
        for epoch in epochs[:-1]:
            grid = work / "samples" / f"samples_epoch_{epoch:03d}.png"
            if not grid.is_file() or grid.stat().st_size == 0:
                problems.append(f"missing or empty {grid.name}")
    return problems


def weights(work: Path) -> list[np.ndarray]:
    import keras

    import keras_gen.models  # noqa: F401

    model = keras.saving.load_model(work / "model.keras")
    return model.get_weights(), int(model.g_optimizer.iterations.numpy())


def kill_until_done(work: Path, rng, reference_time: float) -> list[dict]:
    """Start, kill at a random moment, check, resume... until a start finishes."""
    log = []
    while True:
        delay = float(rng.uniform(0.5, reference_time * 1.1))
        proc = subprocess.Popen(
            command(work),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            log.append({"delay_s": round(delay, 2), "problems": check_invariants(work)})
            continue
        if proc.returncode != 0:
            log.append({"delay_s": None, "problems": [f"exit {proc.returncode}"]})
        return log


def soak(out: Path, kills: int, seed: int) -> dict:
    """Runs killed and resumed until `kills` kills landed, each run to its end."""
    shutil.rmtree(out, ignore_errors=True)
    reference_time = run_to_end(out / "reference")
    ref, ref_steps = weights(out / "reference")
    rng = np.random.default_rng(seed)
    runs = []
    while sum(len(r["kills"]) for r in runs) < kills:
        work = out / f"soaked-{len(runs)}"
        log = kill_until_done(work, rng, reference_time)
        got, steps = weights(work)
        versions = [
            p.name for p in Path(f"{work}-models", "soak").iterdir() if p.name.isdigit()
        ]
        runs.append(
            {
                "kills": log,
                "steps": steps,
                "export_versions": len(versions),
                "max_weight_gap": max(
                    float(np.max(np.abs(a - b))) for a, b in zip(ref, got)
                ),
                "final_invariants": check_invariants(work),
            }
        )
    return {
        "reference_seconds": round(reference_time, 1),
        "reference_steps": ref_steps,
        "runs": runs,
    }


def report(result: dict, args: argparse.Namespace) -> str:
    load = os.getloadavg()
    runs = result["runs"]
    kills = [k for r in runs for k in r["kills"]]
    problems = [k for k in kills if k["problems"]]
    problems += [r for r in runs if r["final_invariants"]]
    gap = max(r["max_weight_gap"] for r in runs)
    steps = sorted({r["steps"] for r in runs})
    versions = sorted({r["export_versions"] for r in runs})
    ok = (
        not problems
        and gap == 0.0
        and steps == [result["reference_steps"]]
        and versions == [1]
    )
    rows = [
        f"| {i} | {len(r['kills'])} | "
        + ", ".join(str(k["delay_s"]) for k in r["kills"])
        + f" | {r['steps']} | {r['max_weight_gap']} | {r['export_versions']} |"
        for i, r in enumerate(runs)
    ]
    return "\n".join(
        [
            "# Soak: SIGKILL at random moments, resume, check",
            "",
            f"`python benchmarks/soak.py --kills {args.kills} --seed {args.seed}`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
            f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.",
            "",
            f"Reference run (uninterrupted, smoke GAN, 6 epochs x 4 steps, "
            f"deterministic): {result['reference_seconds']} s, "
            f"{result['reference_steps']} generator steps. Each soaked run is started,"
            " killed with SIGKILL after a delay drawn uniformly in [0.5 s, 1.1 x the"
            " reference time] (start-up, fit, model/plot/export), checked, and"
            " started again, until a start runs to its end.",
            "",
            "| run | kills | kill delays (s) | generator steps | max weight gap vs"
            " reference | export versions |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"- kills: {len(kills)}; invariant violations (CSV epochs once and"
            f" consecutive, grids non-empty): {len(problems)}",
            f"- largest final weight gap: {gap}; steps: {steps}; export versions"
            f" per run: {versions}",
            f"- verdict: {'PASS' if ok else 'FAIL'}",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "runs/soak")
    parser.add_argument(
        "--result", type=Path, default=REPO / "benchmarks/results/soak.md"
    )
    args = parser.parse_args()
    result = soak(args.out.resolve(), args.kills, args.seed)
    text = report(result, args)
    args.result.write_text(text)
    (args.result.with_suffix(".json")).write_text(json.dumps(result, indent=1))
    print(text)
    return 0 if "PASS" in text else 1


if __name__ == "__main__":
    sys.exit(main())
