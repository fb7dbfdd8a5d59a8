"""`MetricsCallback` during `fit`: logs, CSV, TensorBoard, best checkpoint."""

import csv
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.evaluation.callback import MetricsCallback
from tests.models.gan.test_gan import tiny_gan


def scalar_tags(log_dir):
    """Tag -> list of (step, value) of the scalars in TensorBoard event files."""
    tags = {}
    for path in log_dir.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = (
                    float(tf.make_ndarray(value.tensor))
                    if value.HasField("tensor")
                    else value.simple_value
                )
                tags.setdefault(value.tag, []).append((event.step, number))
    return tags


def test_metrics_reach_history_csv_tensorboard_and_best_checkpoint(tmp_path, rooms32):
    gan = tiny_gan()
    gan.compile()
    train = rooms32[:32].astype(np.float32) / 127.5 - 1.0
    best = tmp_path / "best.keras"
    metrics = MetricsCallback(
        rooms32[32:96],
        metrics=("fid", "kid", "pr"),
        every=2,
        num_images=24,
        kid_subset_size=12,
        best_path=best,
        verbose=0,
    )
    csv_path = tmp_path / "metrics.csv"
    history = gan.fit(
        train,
        batch_size=16,
        epochs=3,
        verbose=0,
        callbacks=[
            metrics,  # before the loggers, which read the logs it fills
            keras.callbacks.CSVLogger(str(csv_path)),
            keras.callbacks.TensorBoard(str(tmp_path / "logs")),
        ],
    )
    fid = history.history["fid"]
    # Epoch 1 is skipped (NaN keeps the columns aligned), 2 is due, 3 is last.
    assert len(fid) == 3 and math.isnan(fid[0])
    assert all(v > 0 for v in fid[1:]) and len(history.history["recall"]) == 3
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["fid"] for r in rows][0] == "nan"
    assert [float(r["fid"]) for r in rows[1:]] == pytest.approx(fid[1:])
    assert {"kid", "precision", "recall", "d_loss"} <= set(rows[0])
    tags = scalar_tags(tmp_path / "logs")
    assert [step for step, _ in tags["epoch_fid"]] == [0, 1, 2]
    assert tags["epoch_fid"][2][1] == pytest.approx(fid[2], rel=1e-5)
    # The best (lowest) FID's model was saved and loads.
    assert metrics.best == min(fid[1:])
    assert metrics.best_epoch == 1 + int(np.argmin(fid[1:]))
    assert keras.saving.load_model(best).latent_dim == 16
    assert [h["epoch"] for h in metrics.history] == [1, 2]


def test_real_data_from_a_dataset_and_a_spec(rooms32):
    gan = tiny_gan()
    ds = tf.data.Dataset.from_tensor_slices(
        rooms32.astype(np.float32) / 127.5 - 1.0
    ).batch(10)
    from_ds = MetricsCallback(ds, metrics="fid", num_images=30, verbose=0)
    from_ds.set_model(gan)
    from_array = MetricsCallback(rooms32[:30], metrics="fid", num_images=30, verbose=0)
    from_array.set_model(gan)
    # The dataset's images, back in uint8, are the array's images.
    assert from_ds.evaluate()["fid"] == pytest.approx(
        from_array.evaluate()["fid"], rel=1e-4
    )
    from_spec = MetricsCallback("rooms:30", metrics=["swd"], num_images=30, verbose=0)
    from_spec.set_model(gan)
    assert from_spec.evaluate()["swd"] > 0
    with pytest.raises(ValueError, match="monitor"):
        MetricsCallback(rooms32, metrics="kid", best_path="x.keras")
