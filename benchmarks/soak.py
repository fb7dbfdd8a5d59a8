"""Soak test of crash safety: kill `keras-gen train` at random moments, resume, check.

One uninterrupted reference run, then the same run killed with SIGKILL at
seeded random moments spread over its whole duration (start-up, fit,
writing the model, plots and export) and resumed each time, until
`--kills` kills have landed. After every kill the work dir must hold:

- `metrics.csv` with each epoch at most once, consecutive from 0 (rows of
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
        f"output.export_dir={work.parent / 'models'}",
        f"name={work.name}",
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
        if epochs != list(range(len(epochs))):
            problems.append(f"metrics.csv epochs {epochs}")
        for epoch in epochs[:-1]:
            grid = work / "samples" / f"samples_epoch_{epoch + 1:03d}.png"
            if not grid.is_file() or grid.stat().st_size == 0:
                problems.append(f"missing or empty {grid.name}")
    return problems


def weights(work: Path) -> list[np.ndarray]:
    import keras

    import keras_gen.models  # noqa: F401

    model = keras.saving.load_model(work / "model.keras")
    return model.get_weights(), int(model.g_optimizer.iterations.numpy())


def soak(out: Path, kills: int, seed: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    reference_time = run_to_end(out / "reference")
    rng = np.random.default_rng(seed)
    work, log, landed = out / "soaked", [], 0
    while landed < kills:
        delay = float(rng.uniform(0.5, reference_time * 1.1))
        proc = subprocess.Popen(
            command(work),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
            finished = True
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            finished = False
        problems = check_invariants(work)
        log.append(
            {"delay_s": round(delay, 2), "killed": not finished, "problems": problems}
        )
        landed += not finished
        if finished:  # the run got to its end: start the soak over
            shutil.rmtree(work)
    run_to_end(work)  # the last resume finishes the run
    (ref, ref_steps), (got, got_steps) = weights(out / "reference"), weights(work)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, got))
    versions = sorted(
        p.name for p in (out / "models" / work.name).iterdir() if p.name.isdigit()
    )
    return {
        "reference_seconds": round(reference_time, 1),
        "kills": landed,
        "attempts": len(log),
        "problems": [e for e in log if e["problems"]],
        "final_invariants": check_invariants(work),
        "max_weight_gap": gap,
        "steps": [ref_steps, got_steps],
        "export_versions": versions,
        "log": log,
    }


def report(result: dict, args: argparse.Namespace) -> str:
    load = os.getloadavg()
    ok = (
        not result["problems"]
        and result["max_weight_gap"] == 0.0
        and result["steps"][0] == result["steps"][1]
    )
    return "\n".join(
        [
            "# Soak: SIGKILL at random moments, resume, check",
            "",
            f"`python benchmarks/soak.py --kills {args.kills} --seed {args.seed}`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
            f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.",
            "",
            f"- reference run (uninterrupted): {result['reference_seconds']} s",
            f"- kills landed: {result['kills']} in {result['attempts']} attempts"
            " (delays uniform over 0.5 s .. 1.1 x the reference run)",
            f"- invariant violations after a kill: {len(result['problems'])}",
            "- final weights vs reference: max |difference| "
            f"{result['max_weight_gap']}",
            f"- generator optimizer steps: reference {result['steps'][0]}, "
            f"soaked {result['steps'][1]}",
            f"- export versions of the soaked run: {result['export_versions']}",
            f"- verdict: {'PASS' if ok else 'FAIL'}",
            "",
            "Delays (s) of the kills: "
            + ", ".join(str(e["delay_s"]) for e in result["log"] if e["killed"]),
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
