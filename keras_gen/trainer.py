"""Build data, model and callbacks from a `Config` and run `model.fit`.

`train(config)` is what `keras-gen train` and `python -m training.train` call.
A run writes into its work directory (`runs/<name>/` by default):

- `config.yaml`: the exact settings used,
- `samples/samples_epoch_NNN.png`: images from fixed latents after each epoch,
- `samples/reconstructions_epoch_NNN.png` (VAE): inputs above reconstructions,
- `metrics.csv` and `metrics.png`: the metrics per epoch, as a table and a plot,
- `logs/`: TensorBoard event files,
- `model.keras`: the model with both optimizers, for `keras.saving.load_model`,
- `backup/`: the state `keras-gen train` resumes from after a crash (removed
  when the run finishes; see `keras_gen.checkpointing`),

and a SavedModel of the generator (GAN) or decoder (VAE) into
`<export_dir>/<name>/<version>/` for TensorFlow Serving.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_gen.callbacks import (
    CyclicalKL,
    DenoiseGrid,
    KeepCheckpoints,
    KLWarmup,
    LatentDiagnostics,
    LearningRates,
    MetricsCSV,
    ReconstructionGrid,
    SampleGrid,
    SqueezeLogs,
    log_hparams,
)
from keras_gen.checkpointing import (
    StopOnNonFinite,
    TrainingBackup,
    list_backups,
    remove_backups,
    restore_latest,
    training_step,
)
from keras_gen.config import Config, ConfigError, save_config
from keras_gen.data import factory as data_factory
from keras_gen.data.factory import class_names_of, first_images, validation_images
from keras_gen.distribute import (
    distribute_global_batches,
    global_batch_size,
    make_strategy,
    task_info,
)
from keras_gen.export import export_generator, same_weights_version
from keras_gen.models.base import GenerativeModel
from keras_gen.models.factory import (
    build_model,
    compile_model,
    make_optimizer,
    schedule_steps,
    step_images,
    steps_per_epoch,
)
from keras_gen.models.finetune import freeze_discriminator_layers, initialize_from
from keras_gen.models.vae.dae import DenoisingAutoencoder
from keras_gen.models.vae.vae import VAE
from keras_gen.precision import resolve_precision
from keras_gen.utils.console import log
from keras_gen.utils.files import atomic_write_text
from keras_gen.utils.images import plot_metrics, read_metrics_csv
from keras_gen.utils.locks import FolderLock

#: Noise of the fixed images in a denoiser's grids (benchmarks/denoise.py's level).
DENOISE_GRID_SIGMA = 0.1


@dataclasses.dataclass
class TrainResult:
    """Where a finished run put its artefacts."""

    work_dir: Path
    model_path: Path
    export_path: Path | None
    samples: list[Path]
    metrics_csv: Path
    metrics_plot: Path
    history: dict[str, list[float]]
    seconds: float
    images_seen: int
    model: GenerativeModel | None = None


def _precision_note(name: str) -> str:
    resolved = resolve_precision(name)
    return resolved if name == resolved else f"{name} -> {resolved}"


def build_dataset(
    config: Config,
    value_range: tuple[float, float],
    batch_size: int,
    training: bool = True,
    repeat: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """`keras_gen.data.factory.build_dataset` of a whole config (older call form)."""
    return data_factory.build_dataset(
        config.data, config.model.image_size, value_range, batch_size, training, repeat
    )


def _images_and_labels(batch) -> tuple[Any, Any]:
    """(images, labels or None) of an `x` or `(x, y)` batch."""
    if isinstance(batch, (tuple, list)):
        return batch[0], batch[1]
    return batch, None


def kl_schedule_callback(config: Config) -> keras.callbacks.Callback | None:
    """The callback of `model.kl_schedule` (None for "constant")."""
    m = config.model
    if m.kl_schedule == "warmup":
        return KLWarmup(m.kl_warmup_steps)
    if m.kl_schedule == "cyclical":
        return CyclicalKL(m.kl_cycle_steps, m.kl_cycle_ratio)
    return None


def resolve_work_dir(config: Config, work_dir: str | Path | None = None) -> Path:
    return Path(work_dir or config.output.work_dir.format(name=config.name))


def _truncate_metrics(path: Path, epochs: int) -> None:
    """Keep the CSV rows of the first `epochs` epochs (none for a new run).

    Epochs logged after the last backup of a killed run are trained again and
    logged again; their old rows must go.
    """
    if epochs == 0:
        path.unlink()
        return
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[0].count(",")

    def complete(line: str) -> bool:
        # A row cut short by a kill has no newline or too few fields.
        return line.endswith("\n") and line.count(",") == fields

    # Rows count epochs from 1: keep epochs 1..`epochs`.
    kept = [lines[0]] + [
        ln for ln in lines[1:] if complete(ln) and int(ln.split(",", 1)[0]) <= epochs
    ]
    atomic_write_text(path, "".join(kept))


class RunExistsError(ValueError):
    """The work dir holds a finished run; the message names --resume/--fresh."""


def finished_epochs(work_dir: Path) -> int | None:
    """Epochs of the finished run in `work_dir` (None: no finished run there).

    Finished: `model.keras` written and no backup left (an interrupted run
    keeps one and resumes from it).
    """
    if not (work_dir / "model.keras").is_file() or list_backups(work_dir / "backup"):
        return None
    metrics = work_dir / "metrics.csv"
    return len(read_metrics_csv(metrics).get("epoch", [])) if metrics.is_file() else 0


def _prepare_work_dir(work_dir: Path, mode: str, is_chief: bool) -> int | None:
    """Apply `mode` to a finished run in `work_dir`; epochs to resume after."""
    done = finished_epochs(work_dir)
    if done is None:
        return None
    if mode == "resume":
        return done
    if mode == "fresh":
        if is_chief:
            with FolderLock(work_dir):  # nobody else may be using it
                pass
            moved = work_dir.with_name(
                f"{work_dir.name}.{time.strftime('%Y%m%d-%H%M%S')}"
            )
            work_dir.rename(moved)
            log.info(f"moved the finished run to {moved}")
        return None
    raise RunExistsError(
        f"{work_dir} holds a finished run ({done} epochs, model.keras); "
        "--resume trains it further (with a larger train.epochs), --fresh moves "
        f"it to {work_dir.name}.<date-time> and starts anew"
    )


def _continue_finished(model, work_dir: Path, done: int, config: Config) -> dict:
    """Load a finished run's weights and optimizer state to train it further."""
    if config.train.epochs <= done:
        raise ValueError(
            f"{work_dir} has trained {done} epochs already: give a larger "
            f"train.epochs to --resume it (e.g. --set train.epochs={done + 5})"
        )
    # The .keras file holds the optimizers' and noise generators' states
    # too, which load_weights restores as it does a backup's.
    model.load_weights(work_dir / "model.keras")
    log.info(f"resuming the finished run at epoch {done}")
    return {"epoch": done}


def train(
    config: Config, work_dir: str | Path | None = None, mode: str = "auto"
) -> TrainResult:
    """Train the model a config describes, resuming an interrupted run.

    If the work directory holds a backup of an interrupted run (killed,
    preempted, crashed), training restarts from its last complete epoch with
    the same weights, optimizer moments, noise state and data order. A
    finished run is never overwritten silently (see `mode`).

    Args:
        config: a validated `Config`.
        work_dir: overrides `config.output.work_dir`.
        mode: what to do with a finished run in the work dir: "auto" refuses
            (`RunExistsError`), "resume" trains it further from its saved
            model and optimizer state up to `train.epochs`, "fresh" moves it
            aside (`<work_dir>.<date-time>`) and starts anew.

    Returns:
        A `TrainResult` naming every artefact written.

    Raises:
        NonFiniteLossError: a loss became NaN/inf; the last good checkpoint
            and backup are kept.
    """
    start = time.perf_counter()
    keras.utils.set_random_seed(config.train.seed)
    if config.train.deterministic:
        # Bit-identical reruns (and resumed runs) at some speed cost.
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(config.train.distribute)
    is_chief, task_id = task_info(strategy)
    work_dir = resolve_work_dir(config, work_dir)
    resume_after = _prepare_work_dir(work_dir, mode, is_chief)
    work_dir.mkdir(parents=True, exist_ok=True)
    # One run per work dir: two trainings there would resume from each
    # other's backups and corrupt metrics.csv. Other workers of a
    # multi-worker run share the chief's work dir.
    lock = FolderLock(work_dir) if is_chief else contextlib.nullcontext()
    with lock:
        return _train_in(
            config, work_dir, strategy, (is_chief, task_id), start, resume_after
        )


@dataclasses.dataclass
class _Run:
    """What the steps of one run share (see `_train_in`)."""

    config: Config
    work_dir: Path
    strategy: tf.distribute.Strategy
    is_chief: bool
    backup_dir: Path
    batch_size: int  # global batch of one step
    data_batch: int  # images one step takes (n_critic batches for WGAN-GP)
    model: Any = None
    initial_epoch: int = 0

    @property
    def size(self) -> int:
        return self.config.model.image_size

    @property
    def multi_worker(self) -> bool:
        return isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)

    def say(self, message: str) -> None:
        if self.is_chief:
            log.info(message)


def _train_in(
    config: Config,
    work_dir: Path,
    strategy: tf.distribute.Strategy,
    task: tuple[bool, int],
    start: float,
    resume_after: int | None = None,
) -> TrainResult:
    """The run itself, inside the work dir's lock (see `train`)."""
    run = _new_run(config, work_dir, strategy, task)
    _build_and_restore(run, resume_after)
    fit_data, steps_per_epoch = _training_data(run)
    val_images = None
    if isinstance(run.model, (VAE, DenoisingAutoencoder)):
        val_images = validation_images(config.data, run.size, run.model.value_range)
    validation = {}
    if val_images is not None and not run.multi_worker:
        validation = {
            "validation_data": val_images,
            "validation_batch_size": run.batch_size,
        }
    quiet = not (run.is_chief and log.isEnabledFor(logging.INFO))
    history = run.model.fit(
        fit_data,
        epochs=config.train.epochs,
        initial_epoch=run.initial_epoch,
        steps_per_epoch=steps_per_epoch,
        callbacks=_callbacks(run, val_images),
        verbose=0 if quiet else config.output.verbose,
        shuffle=False,  # the dataset shuffles itself
        **validation,
    )
    return _finish(run, history.history, start)


def _new_run(config, work_dir, strategy, task) -> _Run:
    is_chief, task_id = task
    replicas = strategy.num_replicas_in_sync
    batch_size = global_batch_size(config, replicas)
    backup_dir = work_dir / "backup"
    if not is_chief:
        backup_dir = backup_dir / f"worker-{task_id}"
    run = _Run(
        config,
        work_dir,
        strategy,
        is_chief,
        backup_dir,
        batch_size,
        step_images(config, batch_size),
    )
    if is_chief:
        save_config(config, work_dir / "config.yaml")
    run.say(
        f"{config.name}: {config.model.type} {run.size}px, "
        f"global batch {batch_size} = {replicas} replica(s) "
        f"x {batch_size // replicas} per replica, "
        f"{type(strategy).__name__}, {_precision_note(config.train.precision)}"
    )
    return run


def _build_and_restore(run: _Run, resume_after: int | None) -> None:
    """The compiled model, with the state of its last backup if there is one."""
    class_names = class_names_of(run.config.data)
    if class_names:
        run.say(f"conditional on {len(class_names)} classes: {class_names}")
    replicas = run.strategy.num_replicas_in_sync
    with run.strategy.scope():
        run.model = build_model(
            run.config, synchronized_bn=replicas > 1, class_names=class_names
        )
        _fine_tune_setup(run)
        compile_model(run.model, run.config, schedule_steps(run.config, run.data_batch))
        record = restore_latest(run.model, run.backup_dir)
        if record is None and resume_after is not None:
            record = _continue_finished(
                run.model, run.work_dir, resume_after, run.config
            )
    run.initial_epoch = record["epoch"] if record else 0
    if record:
        run.say(f"resuming from {run.backup_dir} at epoch {run.initial_epoch}")
    metrics_csv = run.work_dir / "metrics.csv"
    if run.is_chief and metrics_csv.exists():
        _truncate_metrics(metrics_csv, run.initial_epoch)


def _fine_tune_setup(run: _Run) -> None:
    """`model.init_from` weights and FreezeD, before compiling (a backup wins)."""
    m = run.config.model
    source = m.init_from
    if source:
        copied = initialize_from(run.model, source)
        run.say(f"initialised {', '.join(copied)} from {source}")
    # Only GAN configs have the key (the other families have no discriminator).
    frozen = freeze_discriminator_layers(run.model, getattr(m, "freeze_d_layers", 0))
    if frozen:
        run.say(f"FreezeD: discriminator layers {', '.join(frozen)} frozen")


def _training_data(run: _Run) -> tuple[Any, int]:
    """The batches `fit` reads (from the resumed epoch on) and steps per epoch."""

    def stream() -> tuple[tf.data.Dataset, int]:
        # The shuffle and flips of a seeded stream are reproducible for the
        # first iterator of a freshly built dataset object, so every consumer
        # builds its own.
        ds, count = data_factory.build_dataset(
            run.config.data,
            run.size,
            run.model.value_range,
            run.data_batch,
            repeat=True,
        )
        steps = steps_per_epoch(run.config.train, count, run.data_batch)
        if steps < 1:
            raise ConfigError(
                f"data has {count} images, fewer than one batch of "
                f"{run.data_batch}; lower train.batch_size (or model.n_critic) "
                "or add data."
            )
        # Skipping the batches of finished epochs gives a resumed run the
        # batches it would have seen.
        return ds.skip(run.initial_epoch * steps), steps

    fit_data, steps = stream()
    if run.multi_worker:
        fit_data = distribute_global_batches(
            run.strategy, lambda: stream()[0], run.data_batch
        )
    return fit_data, steps


def _callbacks(run: _Run, val_images: Any) -> list[keras.callbacks.Callback]:
    """Every callback of the run, in the order their logs need."""
    callbacks: list[keras.callbacks.Callback] = [
        SqueezeLogs(),
        StopOnNonFinite(),
        LearningRates(),
    ]
    if isinstance(run.model, VAE):
        schedule = kl_schedule_callback(run.config)
        if schedule is not None:
            # First, so the KL weight is set before anything logs it.
            callbacks.insert(0, schedule)
        if run.is_chief:
            # Before the CSV logger, which then records `active_units`.
            callbacks.append(_latent_diagnostics(run, val_images))
    if run.is_chief:
        callbacks += _chief_callbacks(run, val_images)
    # Last, so that an epoch's CSV row and grids are on disk before its
    # backup commits it; kept after fit until the model, plot and export are
    # written (a rerun of a run killed then goes straight to them).
    callbacks.append(
        TrainingBackup(
            run.backup_dir,
            every=run.config.train.backup_every,
            delete_on_success=False,
        )
    )
    return callbacks


def _latent_diagnostics(run: _Run, val_images: Any) -> LatentDiagnostics:
    fixed = val_images
    if fixed is None:
        num = min(256, run.config.data.num_images or 256)
        value_range = run.model.value_range
        try:
            fixed = first_images(run.config.data, run.size, value_range, num)
        except StopIteration:  # fewer images than `num`: one batch less
            fixed = first_images(run.config.data, run.size, value_range, 16)
    return LatentDiagnostics(*_images_and_labels(fixed))


def _chief_callbacks(run: _Run, val_images: Any) -> list[keras.callbacks.Callback]:
    """Grids, CSV, model file, checkpoints and TensorBoard: the chief's files."""
    out, work_dir = run.config.output, run.work_dir
    callbacks = [
        _grid_callback(run, val_images),
        MetricsCSV(work_dir / "metrics.csv"),
        keras.callbacks.ModelCheckpoint(str(work_dir / "model.keras")),
    ]
    if out.checkpoint_every:
        callbacks.append(
            KeepCheckpoints(work_dir / "checkpoints", out.checkpoint_every)
        )
    if isinstance(run.model, VAE):
        fixed = first_images(run.config.data, run.size, run.model.value_range, 16)
        callbacks.append(
            ReconstructionGrid(
                *_images_and_labels(fixed),
                directory=work_dir / "samples",
                every=out.sample_every,
                scale=2,
            )
        )
    if out.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(work_dir / "logs")))
        log_hparams(work_dir / "logs" / "hparams", run.config.to_dict())
    return callbacks


def _grid_callback(run: _Run, val_images: Any) -> keras.callbacks.Callback:
    """Sample grids of a generator; noisy/denoised/clean grids of a denoiser."""
    out = run.config.output
    samples_dir = run.work_dir / "samples"
    log_dir = run.work_dir / "logs" / "samples" if out.tensorboard else None
    if not isinstance(run.model, DenoisingAutoencoder):
        return SampleGrid(
            samples_dir, out.num_samples, out.sample_every, scale=2, log_dir=log_dir
        )
    fixed = val_images
    if fixed is None:
        fixed = first_images(run.config.data, run.size, run.model.value_range, 8)
    return DenoiseGrid(
        _images_and_labels(fixed)[0],
        DENOISE_GRID_SIGMA,
        samples_dir,
        out.sample_every,
        scale=2,
        log_dir=log_dir,
    )


def _finish(run: _Run, metrics: dict, start: float) -> TrainResult:
    """Model file, metrics plot and export (chief), then the result."""
    model, work_dir, out = run.model, run.work_dir, run.config.output
    metrics_csv = work_dir / "metrics.csv"
    export_path = None
    if run.is_chief:
        model.save(work_dir / "model.keras")
        if metrics_csv.exists():
            metrics = read_metrics_csv(metrics_csv)
        plot_metrics(metrics, work_dir / "metrics.png", title=run.config.name)
        if out.export_dir:
            export_path = _export(run)
    if not model.stop_training:
        remove_backups(run.backup_dir)
    result = TrainResult(
        work_dir=work_dir,
        model_path=work_dir / "model.keras",
        export_path=export_path,
        samples=sorted((work_dir / "samples").glob("*.png")),
        metrics_csv=metrics_csv,
        metrics_plot=work_dir / "metrics.png",
        history=metrics,
        seconds=time.perf_counter() - start,
        images_seen=training_step(model) * run.data_batch,
        model=model,
    )
    if run.is_chief:
        _write_run_record(work_dir, result)
        print_summary(result)
    return result


def _write_run_record(work_dir: Path, result: TrainResult) -> None:
    """`run.json`: images seen and training seconds, summed over resumes.

    What a preset's record (`keras_gen.presets.publish`) reports.
    """
    path = work_dir / "run.json"
    before = json.loads(path.read_text()) if path.is_file() else {}
    record = {
        "images_seen": result.images_seen,
        "seconds": round(before.get("seconds", 0.0) + result.seconds, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def _export(run: _Run) -> Path | None:
    model, name, export_dir = run.model, run.config.name, run.config.output.export_dir
    if isinstance(model, VAE) and model.num_classes:
        # The SavedModel signatures have no label input for VAEs yet.
        run.say("conditional VAE: no SavedModel export (not supported)")
        return None
    # A rerun after a kill past the export reuses that version.
    return same_weights_version(model, export_dir, name) or export_generator(
        model, export_dir, name
    )


def print_summary(result: TrainResult) -> None:
    last = {k: v[-1] for k, v in result.history.items() if k != "epoch" and v}
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(last.items()))
    log.info(f"finished in {result.seconds:.0f} s, {result.images_seen} images seen")
    log.info(f"final metrics: {metrics}")
    log.info(f"samples:       {result.samples[-1] if result.samples else '-'}")
    log.info(f"metrics:       {result.metrics_csv}, {result.metrics_plot}")
    log.info(f"tensorboard:   tensorboard --logdir {result.work_dir / 'logs'}")
    log.info(f"model:         {result.model_path}")
    if result.export_path:
        log.info(f"SavedModel:    {result.export_path}")


__all__ = [
    "TrainResult",
    "build_dataset",
    "build_model",
    "compile_model",
    "make_optimizer",
    "make_strategy",
    "train",
]
