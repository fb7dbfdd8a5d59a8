"""TensorBoard gets what a user looks for: sample images and the run's settings."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_gen.callbacks import flat_hparams
from keras_gen.config import load_config
from keras_gen.trainer import train

SMOKE = Path(__file__).parents[1] / "training/configs/smoke_gan.yaml"


def summaries(folder: Path) -> dict[str, list]:
    """tag -> values of every summary in the event files under `folder`."""
    found: dict[str, list] = {}
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value))
    return found


def test_tensorboard_has_sample_grids_and_hparams(tmp_path):
    cfg = load_config(
        SMOKE,
        [
            "train.epochs=2",
            "train.steps_per_epoch=2",
            "output.export_dir=null",
            "output.verbose=0",
            "output.tensorboard=true",
        ],
    )
    train(cfg, work_dir=tmp_path)
    images = summaries(tmp_path / "logs" / "samples")["samples"]
    assert [step for step, _ in images] == [1, 2]  # one grid per epoch
    # An encoded PNG of the grid (16 images of 32 px, 2 px padding: 138 px).
    width, height = (int(x) for x in tf.make_ndarray(images[0][1].tensor)[:2])
    assert (width, height) == (138, 138)
    hparams = summaries(tmp_path / "logs" / "hparams")
    assert "_hparams_/session_start_info" in hparams
    # Both learning rates reach the CSV (and TensorBoard's scalars).
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"d_learning_rate", "g_learning_rate"} <= set(header)
    assert "epoch_d_learning_rate" in summaries(tmp_path / "logs" / "train")


def test_flat_hparams_keeps_scalars_only():
    flat = flat_hparams(
        {"train": {"lr": 1e-3, "opt": {"name": "adam"}}, "x": None, "tags": [1, 2]}
    )
    assert flat == {"train.lr": 1e-3, "train.opt.name": "adam", "tags": "[1, 2]"}
    assert all(not isinstance(v, (list, dict)) for v in flat.values())
    assert np.isscalar(flat["train.lr"])
