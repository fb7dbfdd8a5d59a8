import json
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_gen.models  # noqa: F401
from keras_gen.checkpointing import (
    NonFiniteLossError,
    StopOnNonFinite,
    TrainingBackup,
    list_backups,
    restore_latest,
)
from keras_gen.models import VAE
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder


def tiny_vae():
    keras.utils.set_random_seed(0)
    vae = VAE(build_vae_encoder(32, 4, 4), build_vae_decoder(32, 4, 4), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    return vae


def data(n=16):
    return np.random.default_rng(0).uniform(0, 1, (n, 32, 32, 3)).astype("float32")


def test_backups_rotate_and_restore_the_newest(tmp_path):
    vae = tiny_vae()
    vae.fit(
        data(),
        batch_size=8,
        epochs=3,
        verbose=0,
        callbacks=[TrainingBackup(tmp_path, delete_on_success=False)],
    )
    assert [epoch for epoch, _ in list_backups(tmp_path)] == [3, 2]  # keep=2
    fresh = tiny_vae()
    record = restore_latest(fresh, tmp_path)
    assert record["epoch"] == 3 and record["step"] == 6
    for a, b in zip(vae.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations) == 6


def test_corrupt_newest_backup_falls_back_to_previous(tmp_path):
    vae = tiny_vae()
    vae.fit(
        data(),
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[TrainingBackup(tmp_path, delete_on_success=False)],
    )
    newest = tmp_path / "ckpt-000002.weights.h5"
    # A kill in the middle of writing: half a file.
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    fresh = tiny_vae()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = restore_latest(fresh, tmp_path)
    assert record["epoch"] == 1
    assert any("ckpt-000002" in str(w.message) for w in caught)
    assert (tmp_path / "ckpt-000002.json.corrupt").exists()
    assert int(fresh.optimizer.iterations) == 2


def test_weights_without_record_are_ignored(tmp_path):
    # A kill after the weights but before the JSON record: not a backup.
    (tmp_path / "ckpt-000009.weights.h5").write_bytes(b"partial")
    assert restore_latest(tiny_vae(), tmp_path) is None
    (tmp_path / "ckpt-000004.json").write_text(json.dumps({"epoch": 4}))
    with pytest.warns(RuntimeWarning, match="could not be loaded"):
        assert restore_latest(tiny_vae(), tmp_path) is None


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    import tensorflow as tf

    vae = tiny_vae()
    x = data(48)
    x[36] = np.nan  # batch 9 of 12 (batches of 4): step 10, in the 3rd epoch
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    ckpt = tmp_path / "model.keras"
    callbacks = [
        StopOnNonFinite(),
        TrainingBackup(tmp_path / "backup"),
        keras.callbacks.ModelCheckpoint(str(ckpt)),
    ]
    with pytest.raises(NonFiniteLossError) as info:
        vae.fit(ds, epochs=3, steps_per_epoch=4, verbose=0, callbacks=callbacks)
    err = info.value
    assert err.metric in ("loss", "reconstruction_loss", "kl_loss")
    assert (err.step, err.epoch) == (10, 2)
    assert "step 10" in str(err) and err.metric in str(err)
    # The epoch that diverged was not saved: backups and checkpoint are the
    # finite state after epoch 2.
    assert [e for e, _ in list_backups(tmp_path / "backup")] == [2, 1]
    saved = keras.saving.load_model(ckpt)
    assert int(saved.optimizer.iterations) == 8
    assert all(np.isfinite(w).all() for w in saved.get_weights())


def test_a_failure_after_fit_loses_no_training(tmp_path, monkeypatch):
    from keras_gen import trainer
    from keras_gen.config import load_config

    cfg = load_config(
        Path(__file__).parents[1] / "training/configs/smoke_gan.yaml",
        [
            "train.epochs=2",
            "train.steps_per_epoch=3",
            "output.tensorboard=false",
            "output.verbose=0",
            f"output.export_dir={tmp_path / 'models'}",
        ],
    )
    work = tmp_path / "run"

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer, "export_generator", full_disk)
    with pytest.raises(OSError, match="No space"):
        trainer.train(cfg, work_dir=work)
    # Training had finished: its backup is still there, with the last epoch.
    assert (work / "backup").is_dir()
    monkeypatch.undo()
    result = trainer.train(cfg, work_dir=work)
    # The rerun trained nothing more and went straight to the export.
    assert int(result.model.g_optimizer.iterations) == 6
    assert result.export_path is not None and result.export_path.is_dir()
    assert not (work / "backup").exists()
    rows = (work / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]


def test_a_cut_csv_row_is_dropped_on_resume(tmp_path):
    from keras_gen.trainer import _truncate_metrics

    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss,x\n1,1.0,2\n2,0.9,2\n3,0.")
    _truncate_metrics(path, 3)
    assert path.read_text() == "epoch,loss,x\n1,1.0,2\n2,0.9,2\n"


def _quick_config(tmp_path, epochs):
    from keras_gen.config import load_config

    return load_config(
        Path(__file__).parents[1] / "training/configs/smoke_gan.yaml",
        [
            f"train.epochs={epochs}",
            "train.steps_per_epoch=2",
            "output.tensorboard=false",
            "output.verbose=0",
            "output.export_dir=null",
        ],
    )


def test_a_finished_run_is_never_clobbered(tmp_path, capsys):
    from keras_gen.cli import main

    work = tmp_path / "run"
    config = str(Path(__file__).parents[1] / "training/configs/smoke_gan.yaml")
    args = [
        "train",
        config,
        "--work-dir",
        str(work),
        "--set",
        "train.epochs=2",
        "train.steps_per_epoch=2",
        "output.tensorboard=false",
        "output.verbose=0",
        "output.export_dir=null",
    ]
    assert main(args) == 0
    before = (work / "metrics.csv").read_text()
    stamp = (work / "model.keras").stat().st_mtime_ns
    capsys.readouterr()
    # A plain rerun is refused, naming both ways on, and touches nothing.
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "finished run (2 epochs" in err and "--resume" in err and "--fresh" in err
    assert (work / "metrics.csv").read_text() == before
    assert (work / "model.keras").stat().st_mtime_ns == stamp
    # --fresh moves it aside and trains anew.
    assert main([*args, "--fresh"]) == 0
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.")]
    assert len(moved) == 1 and (moved[0] / "metrics.csv").read_text() == before
    assert (work / "model.keras").is_file()


def test_resume_trains_a_finished_run_further(tmp_path):
    from keras_gen.trainer import train

    work = tmp_path / "run"
    first = train(_quick_config(tmp_path, 2), work_dir=work)
    weights = [w.copy() for w in first.model.get_weights()]
    with pytest.raises(ValueError, match="larger train.epochs"):
        train(_quick_config(tmp_path, 2), work_dir=work, mode="resume")
    more = train(_quick_config(tmp_path, 3), work_dir=work, mode="resume")
    # One more epoch of 2 steps on top of the saved optimizer state.
    assert int(more.model.g_optimizer.iterations) == 6
    rows = (work / "metrics.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["1", "2", "3"]
    moved = max(
        float(np.max(np.abs(a - b))) for a, b in zip(weights, more.model.get_weights())
    )
    assert moved > 0
