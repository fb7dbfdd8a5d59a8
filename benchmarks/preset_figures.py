"""Re-run every shipped preset's recorded evaluation and compare the figures.

    python benchmarks/preset_figures.py [--only NAME ...] [--tolerance 0.05]

Each `preset.json` lists its evaluations as CLI commands; placeholders name
the held-out data (the splits made by `benchmarks/presets.sh`): TEST_500 =
runs/denoise_data/test, HELDOUT_1000 = runs/recipes/data/heldout, ROOMS64 =
../shared/data/places365-rooms/rooms64, FILE.json / DIR = scratch outputs.
A command is a `keras-gen` call or a `python benchmarks/...` script.
Prints recorded vs measured per figure and exits 1
when one differs by more than the relative tolerance (seeded commands
reproduce exactly on the same machine; other CPUs may round differently).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from keras_gen import presets

ROOT = Path(__file__).resolve().parents[1]
PLACES = {
    "TEST_500": "runs/denoise_data/test",
    "HELDOUT_1000": "runs/recipes/data/heldout",
    "ROOMS64": "../shared/data/places365-rooms/rooms64",
}


def rerun(command: str, scratch: Path) -> dict:
    args = shlex.split(command)
    program = {"keras-gen": ".venv/bin/keras-gen", "python": ".venv/bin/python"}
    args = [str(ROOT / program[args[0]])] + [
        str(scratch / "out.json")
        if a == "FILE.json"
        else str(scratch / "dir")
        if a == "DIR"
        else PLACES.get(a, a)
        for a in args[1:]
    ]
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads((scratch / "out.json").read_text())


def main() -> int:
    from keras_gen.presets.publish import _figures

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="*")
    p.add_argument("--tolerance", type=float, default=0.05)
    args = p.parse_args()
    worst = 0.0
    for preset in presets.list_presets():
        if args.only and preset.name not in args.only:
            continue
        for entry in preset.evaluation:
            with tempfile.TemporaryDirectory() as tmp:
                measured = _figures(rerun(entry["command"], Path(tmp)))
            for key, recorded in entry["figures"].items():
                got = measured.get(key)
                rel = (
                    abs(got - recorded) / max(abs(recorded), 1e-9)
                    if got is not None
                    else 1
                )
                worst = max(worst, rel)
                print(f"| {preset.name} | {key} | {recorded:.5g} | {got} | {rel:.3f} |")
    return int(worst > args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
