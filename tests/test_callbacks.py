"""TensorBoard gets what a user looks for: sample images and the run's settings."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.callbacks import (
    CyclicalKL,
    MetricsCSV,
    SqueezeLogs,
    active_units,
    cyclical_kl_weight,
    flat_hparams,
)
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


def test_squeeze_logs_turns_shape_one_values_into_floats():
    logs = {"loss": np.array([0.5], "float32"), "step": 3, "kl": np.ones((2,))}
    SqueezeLogs().on_epoch_end(0, logs)
    assert logs["loss"] == 0.5 and isinstance(logs["loss"], float)
    assert logs["step"] == 3 and logs["kl"].shape == (2,)
    SqueezeLogs().on_train_batch_end(0, None)  # no logs: nothing to do


def test_cyclical_kl_weight_rises_then_holds_then_restarts():
    weights = [cyclical_kl_weight(s, cycle_steps=4, ratio=0.5) for s in range(9)]
    assert weights == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 0.0]
    assert cyclical_kl_weight(3, 4, ratio=0.0) == 1.0
    with pytest.raises(ValueError, match="cycle_steps"):
        CyclicalKL(0)


def test_active_units_counts_dimensions_that_vary():
    z = np.stack([np.linspace(-1, 1, 8), np.full(8, 3.0), np.zeros(8)], axis=1)
    assert active_units(z) == 1
    assert active_units(z, threshold=1.0) == 0
    with pytest.raises(ValueError, match="N >= 2"):
        active_units(z[:1])


def test_metrics_csv_counts_epochs_from_one_and_keeps_its_header(tmp_path):
    path = tmp_path / "metrics.csv"
    MetricsCSV(path).on_epoch_end(0, {"loss": np.array([0.5]), "kl": 2.0})
    # A resumed run appends under the same header; a missing metric is NA.
    MetricsCSV(path).on_epoch_end(1, {"loss": 0.25, "new": 1.0})
    assert path.read_text().splitlines() == [
        "epoch,kl,loss",
        "1,2.0,0.5",
        "2,NA,0.25",
    ]
