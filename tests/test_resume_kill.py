"""SIGKILL a training process mid-run, restart it, and get the uninterrupted result."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np

import keras_gen.models  # noqa: F401  (registers the classes for loading)

ROOT = Path(__file__).parents[1]
KERAS_GEN = Path(sys.executable).with_name("keras-gen")
EPOCHS = 30
OVERRIDES = [
    "--set",
    f"train.epochs={EPOCHS}",
    "--set",
    "train.steps_per_epoch=2",
    "--set",
    "train.deterministic=true",
    "--set",
    "output.export_dir=null",
    "--set",
    "output.tensorboard=false",
    "--set",
    "output.sample_every=100",
    "--set",
    "output.verbose=0",
]


def command(work_dir):
    config = ROOT / "training" / "configs" / "smoke_gan.yaml"
    return [
        str(KERAS_GEN),
        "train",
        str(config),
        "--work-dir",
        str(work_dir),
        *OVERRIDES,
    ]


def env():
    return dict(os.environ, CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")


def newest_backup_epoch(backup):
    records = list(backup.glob("ckpt-*.json")) if backup.exists() else []
    return max((json.loads(p.read_text())["epoch"] for p in records), default=0)


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(
        command(killed_dir),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    backup = killed_dir / "backup"
    deadline = time.monotonic() + 240
    while newest_backup_epoch(backup) < 5:
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline, "no backup appeared"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = newest_backup_epoch(backup)
    assert killed_at < EPOCHS, "the kill must interrupt the run"

    resumed = subprocess.run(
        command(killed_dir), env=env(), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    resumed_from = int(resumed.stdout.split("at epoch ")[1].split()[0])
    # At most the epoch in progress at the kill is lost.
    assert killed_at <= resumed_from <= killed_at + 1
    print(f"KILLED_AFTER_BACKUP_EPOCH {killed_at} RESUMED_FROM_EPOCH {resumed_from}")

    reference_dir = tmp_path / "reference"
    done = subprocess.run(
        command(reference_dir), env=env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]

    a = keras.saving.load_model(killed_dir / "model.keras")
    b = keras.saving.load_model(reference_dir / "model.keras")
    assert int(a.g_optimizer.iterations) == int(b.g_optimizer.iterations) == 2 * EPOCHS
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    # The metrics log has every epoch exactly once, in order.
    epochs = [
        int(r["epoch"]) for r in csv.DictReader((killed_dir / "metrics.csv").open())
    ]
    assert epochs == list(range(1, EPOCHS + 1))
    assert not (killed_dir / "backup").exists()
