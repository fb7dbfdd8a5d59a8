"""Crash-safe training backups and divergence detection.

`TrainingBackup` replaces `keras.callbacks.BackupAndRestore` for keras-gen runs:

- every backup is written to a temporary file and renamed into place, and its
  JSON record (epoch, step) is written last, so a kill during a save leaves
  either the previous backup or a complete new one, never a half-written one
  that is taken for good;
- the last `keep` backups are kept; `restore_latest` tries them newest first
  and skips (and renames to `*.corrupt`) any that fails to load;
- the state is the whole model tree: both networks, both optimizers (built in
  `compile`, so their variables exist before loading), batch-norm statistics
  and the seed-generator states (see `SeedStateMixin`), so a resumed run
  continues exactly where the interrupted one stopped.

`StopOnNonFinite` ends training with `NonFiniteLossError` naming the metric
and the step as soon as a logged value stops being finite, before any epoch-end
callback can save the broken weights.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path

import keras

from keras_gen.errors import NonFiniteLossError  # noqa: F401  (re-exported)
from keras_gen.utils.files import atomic_write_text

_RECORD = re.compile(r"ckpt-(\d+)\.json$")


def training_step(model: keras.Model) -> int | None:
    """Optimizer steps taken so far (a GAN counts its generator's steps)."""
    optimizer = getattr(model, "g_optimizer", None) or getattr(model, "optimizer", None)
    return None if optimizer is None else int(optimizer.iterations.numpy())


def list_backups(directory: str | Path) -> list[tuple[int, Path]]:
    """(epoch, record path) of every complete backup, newest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _RECORD.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def restore_latest(model: keras.Model, directory: str | Path) -> dict | None:
    """Load the newest loadable backup into `model`.

    Returns:
        The backup's record (`epoch`, `step`, ...) or None if there is none.
        A backup that fails to load (truncated or corrupt file) is renamed to
        `*.corrupt` with a warning and the previous one is tried.
    """
    for _, record_path in list_backups(directory):
        try:
            record = json.loads(record_path.read_text())
            weights = record_path.with_name(record["weights"])
            model.load_weights(weights)
            return record
        except Exception as err:  # noqa: BLE001 - any load failure means corrupt
            warnings.warn(
                f"backup {record_path} could not be loaded ({type(err).__name__}: "
                f"{err}); trying the previous one",
                RuntimeWarning,
                stacklevel=2,
            )
            for path in (record_path, record_path.with_suffix(".weights.h5")):
                if path.exists():
                    os.replace(path, path.with_name(path.name + ".corrupt"))
    return None


class TrainingBackup(keras.callbacks.Callback):
    """Saves the full training state at the end of every `every` epochs.

    Restore with `restore_latest(model, directory)` before `fit` and pass the
    returned epoch as `initial_epoch` (the trainer does this).

    Args:
        directory: folder of the backups (one per worker in multi-worker runs).
        every: epochs between backups.
        keep: how many backups to keep (>= 2 so that a corrupt newest one has
            a fallback).
        delete_on_success: remove the folder when `fit` completes normally.

    Example:
    >>> backup = TrainingBackup("runs/demo/backup")
    >>> # record = restore_latest(model, "runs/demo/backup")
    >>> # model.fit(data, initial_epoch=record["epoch"] if record else 0,
    >>> #           callbacks=[backup])
    """

    def __init__(
        self,
        directory: str | Path,
        every: int = 1,
        keep: int = 2,
        delete_on_success: bool = True,
    ):
        super().__init__()
        self.directory = Path(directory)
        self.every = every
        self.keep = max(2, keep)
        self.delete_on_success = delete_on_success
        self.target_epochs: int | None = None
        self._last_epoch = -1

    def on_train_begin(self, logs=None):
        self.target_epochs = self.params.get("epochs")

    def save(self, epoch: int) -> Path:
        """Write the backup for the state after `epoch` epochs."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"ckpt-{epoch:06d}"
        weights = self.directory / f"{name}.weights.h5"
        tmp = self.directory / f"{name}.tmp.weights.h5"
        self.model.save_weights(tmp, overwrite=True)
        os.replace(tmp, weights)
        record = {
            "epoch": epoch,
            "step": training_step(self.model),
            "weights": weights.name,
        }
        # The record is the commit marker: without it the weights are ignored.
        atomic_write_text(self.directory / f"{name}.json", json.dumps(record))
        for _, old in list_backups(self.directory)[self.keep :]:
            old.unlink(missing_ok=True)
            old.with_suffix(".weights.h5").unlink(missing_ok=True)
        return weights

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if (epoch + 1) % self.every == 0:
            self.save(epoch + 1)

    def on_train_end(self, logs=None):
        finished = (
            self.target_epochs is not None
            and self._last_epoch + 1 >= self.target_epochs
        )
        if self.delete_on_success and finished and not self.model.stop_training:
            remove_backups(self.directory)


def remove_backups(directory: str | Path) -> None:
    """Delete a run's backups (and their folder when it is left empty)."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    for path in directory.glob("ckpt-*"):
        path.unlink()
    if not any(directory.iterdir()):
        directory.rmdir()


class StopOnNonFinite(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` when any logged metric is NaN or infinite.

    Put it first in the callback list: raising from the batch end keeps later
    epoch-end callbacks (checkpoints, backups) from saving diverged weights.
    """

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                step = training_step(self.model)
                step = batch if step is None else step
                raise NonFiniteLossError(name, value, step, self._epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
