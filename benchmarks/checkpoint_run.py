"""Set up a run's checkpoint as a run folder that `keras_gen.presets.publish` reads.

A preset may come from a checkpoint before the end of its run (the run
went on, or a later checkpoint scored worse). The folder gets the
checkpoint as `model.keras`, the run's `config.yaml` with `train.epochs`
set to the checkpoint's epoch, and a `run.json` with the images seen up to
it and the training seconds of those epochs, read from the run's console
log (the `100/100 - 290s` line that ends each epoch; resumed runs append
to the same log).

    python benchmarks/checkpoint_run.py runs/cgan_warm 12 runs/cgan_warm.log \
        runs/presets/rooms_cgan_64_e012
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import yaml

ANSI = re.compile(r"\x1b\[[0-9;]*m")
EPOCH = re.compile(r"Epoch (\d+)/\d+")
# The epoch's closing progress line: "N/N ... 290s ..."; repaints say 0s.
DONE = re.compile(r"(\d+)/(\1)\s.*?(\d+)s\s")


def epoch_seconds(log_text: str) -> dict[int, float]:
    """Seconds of each epoch in a Keras console log (the last run of an epoch)."""
    text = ANSI.sub("", log_text).replace("\r", "\n").replace("\x08", "")
    parts = EPOCH.split(text)
    seconds = {}
    for number, block in zip(parts[1::2], parts[2::2]):
        times = [int(m.group(3)) for m in DONE.finditer(block)]
        if times and max(times) > 0:
            seconds[int(number)] = float(max(times))
    return seconds


def images_per_epoch(run: Path) -> int:
    """Images one epoch of the run reads, counted as the trainer counts them."""
    from keras_gen.config import load_config
    from keras_gen.data.factory import count_images
    from keras_gen.models.factory import step_images, steps_per_epoch

    config = load_config(run / "config.yaml")
    if config.train.per_replica_batch_size is not None:
        raise SystemExit(
            f"{run}: train.per_replica_batch_size is set; the global batch "
            "depends on the replica count, which the run folder does not record"
        )
    data_batch = step_images(config, config.train.batch_size)
    count = count_images(config.data) or 0
    return steps_per_epoch(config.train, count, data_batch) * data_batch


def checkpoint_run(run: Path, epoch: int, log: Path, dest: Path) -> dict:
    config = yaml.safe_load((run / "config.yaml").read_text())
    times = epoch_seconds(log.read_text(errors="replace"))
    missing = [e for e in range(1, epoch + 1) if e not in times]
    if missing:
        raise SystemExit(f"{log}: no closing line for epochs {missing}")
    train = config["train"]
    record = {
        "images_seen": epoch * images_per_epoch(run),
        "seconds": round(sum(times[e] for e in range(1, epoch + 1)), 1),
        "checkpoint": f"{run}/checkpoints/epoch_{epoch:03d}.keras",
    }
    train["epochs"] = epoch
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        run / "checkpoints" / f"epoch_{epoch:03d}.keras", dest / "model.keras"
    )
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (dest / "run.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("epoch", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    print(json.dumps(checkpoint_run(args.run, args.epoch, args.log, args.dest)))


if __name__ == "__main__":
    main()
